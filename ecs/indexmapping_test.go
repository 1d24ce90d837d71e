package ecs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/jsondoc"
)

// TestIndexMappingTypesLikeElasticsearch searches rendered-shaped events
// through each profile's index mapping: a comparison goes by the mapped
// type, not the JSON type in _source (Elasticsearch's field extraction and
// literal conversion; eql/value.go coerce), so Defend's numeric user.id 0
// equals "0", Auditbeat's string destination.port "25" equals 25, and a
// value longer than a keyword's ignore_above (1024 for Defend's
// process.executable in elastic/endpoint-package's fields.yml) is not
// indexed, so no query matches it.
func TestIndexMappingTypesLikeElasticsearch(t *testing.T) {
	long := strings.Repeat("x", 1100)
	for _, c := range []struct {
		profile ecs.Profile
		doc     string
		query   string
		hits    int
	}{
		{ecs.Endpoint, `{"@timestamp":"2026-01-01T00:00:00Z","event":{"category":["process"]},"user":{"id":0}}`, `process where user.id == "0"`, 1},
		{ecs.Endpoint, `{"@timestamp":"2026-01-01T00:00:00Z","event":{"category":["process"]},"user":{"id":0}}`, `process where user.id != "0"`, 0},
		{ecs.Endpoint, `{"@timestamp":"2026-01-01T00:00:00Z","event":{"category":["process"]},"process":{"executable":"/` + long + `"}}`, `process where process.executable == "/` + long + `"`, 0},
		{ecs.Endpoint, `{"@timestamp":"2026-01-01T00:00:00Z","event":{"category":["process"]},"process":{"executable":"/` + long[:1000] + `"}}`, `process where process.executable == "/` + long[:1000] + `"`, 1},
		{ecs.Endpoint, `{"@timestamp":"2026-01-01T00:00:00Z","event":{"category":["network"]},"destination":{"port":"25"}}`, `network where destination.port == 25`, 1},
		{ecs.Auditbeat, `{"@timestamp":"2026-01-01T00:00:00Z","event":{"category":["network"]},"destination":{"port":"25"}}`, `network where destination.port == 25`, 1},
		{ecs.Auditbeat, `{"@timestamp":"2026-01-01T00:00:00Z","event":{"category":["network"]},"destination":{"port":"25"}}`, `network where destination.port > 100`, 0},
	} {
		body, _ := ecs.IndexMappingJSON(c.profile)
		m, err := eql.ParseMapping(body)
		if err != nil {
			t.Fatalf("%s: ParseMapping: %v", c.profile, err)
		}
		var doc jsondoc.Document
		if doc, err = jsondoc.Decode([]byte(c.doc)); err != nil {
			t.Fatal(err)
		}
		if err := m.AddDynamic(doc); err != nil {
			t.Fatal(err)
		}
		src := eql.Source{Index: "i", Mapping: m, Events: func(yield func(eql.Fields, error) bool) { yield(doc, nil) }}
		res, err := eql.SearchSources(context.Background(), eql.Request{Query: c.query}, []eql.Source{src})
		if err != nil {
			t.Errorf("%s %s: %v", c.profile, c.query, err)
			continue
		}
		if got := len(res.Hits.Events); got != c.hits {
			t.Errorf("%s %s over %s: %d hits, want %d", c.profile, c.query, c.doc, got, c.hits)
		}
	}
}

// TestIndexMappingDefend checks the Defend mapping against its field list:
// every listed field is searchable with its type, and the template refuses
// what it does not list (dynamic: false).
func TestIndexMappingDefend(t *testing.T) {
	body, complete := ecs.IndexMappingJSON(ecs.Endpoint)
	if !complete {
		t.Fatal("the Defend mapping should be complete")
	}
	m, err := eql.ParseMapping(body)
	if err != nil {
		t.Fatal(err)
	}
	fields, _ := ecs.TemplateFields(ecs.Endpoint)
	// The engine names a type by how it searches it.
	family := map[string]string{"constant_keyword": "keyword", "wildcard": "keyword", "match_only_text": "text", "geo_point": "keyword"}
	n := 0
	for path, typ := range fields {
		if typ == "object" || typ == "nested" || strings.Contains(path, "memory_region") {
			continue // under a nested field: EQL cannot read it
		}
		got, ok := m.Type(path)
		if !ok {
			t.Errorf("%s (%s) is not in the mapping", path, typ)
			continue
		}
		if want, ok := family[typ]; ok {
			typ = want
		}
		if got != typ {
			t.Errorf("%s: type %s, the field list says %s", path, got, typ)
		}
		n++
	}
	if n < len(fields)/2 {
		t.Errorf("only %d of %d fields checked", n, len(fields))
	}
	if _, ok := m.Type("process.no_such_field"); ok {
		t.Error("an unlisted field is mapped")
	}
}
