package ecs

import "testing"

// TestRenderedFieldsInDefendTemplate: every field the endpoint profile
// renders is one Elastic Defend's templates define (else real data could
// not carry it either).
func TestRenderedFieldsInDefendTemplate(t *testing.T) {
	tmpl, ok := TemplateFields(Endpoint)
	if !ok || len(tmpl) < 1000 {
		t.Fatalf("TemplateFields(Endpoint) = %d fields, %v; want the generated list", len(tmpl), ok)
	}
	for path := range Mapping(Endpoint) {
		if _, ok := tmpl[path]; !ok {
			t.Errorf("the endpoint profile renders %s, which Elastic Defend's event templates do not define", path)
		}
	}
}

func TestNearestField(t *testing.T) {
	tmpl, _ := TemplateFields(Endpoint)
	for _, tc := range []struct{ name, want string }{
		{"destination.prot", "destination.port"},
		{"process.nmae", "process.name"},
		{"proces.parent.entity_id", "process.parent.entity_id"},
		{"zzz.qqq.www", ""},
	} {
		if got := NearestField(tc.name, tmpl); got != tc.want {
			t.Errorf("NearestField(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
