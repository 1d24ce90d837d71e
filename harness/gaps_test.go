package harness

import (
	"reflect"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/scenarios"
)

// Rules from elastic/detection-rules (rules/linux/*.toml, queries
// shortened) against what the audit sensor cannot see under the endpoint
// profile: each names exactly the gaps its verdict would rest on.
func TestDependsOn(t *testing.T) {
	audit := runGaps("endpoint", &AuditSensor{S: &auditSensor{}})
	tests := []struct {
		name, query string
		want        []string
	}{
		{"cat network activity counts disconnects",
			`sequence by process.entity_id [process where event.type == "start" and process.name == "cat"]
			 [network where event.action in ("connection_attempted", "disconnect_received") and process.name == "cat"]`,
			[]string{`event.action == "disconnect_received"`}},
		{"web server connection accepted",
			`sequence by process.entity_id with maxspan=1m [process where event.type == "start" and process.name like "python*"]
			 [network where event.type == "start" and event.action == "connection_accepted"]`,
			[]string{`event.action == "connection_accepted"`}},
		{"wildcard on the action", `network where event.action : "disconnect_*"`, []string{`event.action == "disconnect_received"`}},
		{"exit code", `process where event.action == "end" and process.exit_code != 0`,
			[]string{`event.action == "end"`, "process.exit_code"}},
		{"entry leader type", `process where process.entry_leader.entry_meta.type == "sshd"`, []string{"process.entry_leader.entry_meta.type"}},
		{"source port in a function", `network where startsWith(source.port, "4")`, []string{"source.port"}},
		{"hash is never rendered", `process where process.hash.sha256 == "x"`, []string{"process.hash.sha256"}},
		{"exec and attempts only", `sequence by process.entity_id [process where event.action == "exec"]
			 [network where event.action == "connection_attempted" and destination.port == 110]`, nil},
		{"negated accept is still a reference", `network where not event.action in ("connection_accepted")`,
			[]string{`event.action == "connection_accepted"`}},
	}
	for _, tt := range tests {
		var got []string
		for _, g := range dependsOn(ruleRefs(tt.query), audit) {
			got = append(got, g.String())
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: dependsOn = %q, want %q", tt.name, got, tt.want)
		}
	}
	// The eBPF sensor links the entry leader, but nothing observes the
	// address an sshd entry came from.
	bpf := runGaps("endpoint", &AuditSensor{S: ebpfSensor{}})
	for q, want := range map[string]string{
		`process where process.entry_leader.entry_meta.type == "container"`:     "",
		`process where process.entry_leader.entry_meta.source.ip == "10.0.0.1"`: "process.entry_leader.entry_meta.source.ip",
	} {
		var got []string
		for _, g := range dependsOn(ruleRefs(q), bpf) {
			got = append(got, g.String())
		}
		if strings.Join(got, " ") != want {
			t.Errorf("eBPF sensor, %s: dependsOn = %q, want %q", q, got, want)
		}
	}
	// A sensor that sees everything leaves only the profile's own gaps.
	if got := dependsOn(ruleRefs(`network where event.action == "disconnect_received"`), runGaps("endpoint", nil)); len(got) != 0 {
		t.Errorf("no sensor gaps: dependsOn = %v, want none", got)
	}
}

func TestUnverifiable(t *testing.T) {
	gap := []ecs.Gap{{Field: "event.action", Value: "fork", Why: "w"}}
	fires := scenarios.Expectation{Expect: scenarios.Fires}
	silent := scenarios.Expectation{Expect: scenarios.Silent}
	tests := []struct {
		v    Verdict
		exp  scenarios.Expectation
		deps []ecs.Gap
		want bool
	}{
		{Missed, fires, gap, true},
		{Pass, silent, gap, true},
		{Pass, fires, gap, false},           // it fired: nothing rests on the gap
		{FalsePositive, silent, gap, false}, // it fired
		{Missed, fires, nil, false},         // the rule's own miss
		{NoTelemetry, fires, gap, false},
	}
	for _, tt := range tests {
		if got := unverifiable(tt.v, tt.exp, tt.deps); got != tt.want {
			t.Errorf("unverifiable(%s, %s, %d gaps) = %v, want %v", tt.v, tt.exp.Expect, len(tt.deps), got, tt.want)
		}
	}
	e := explainUnverifiable(Missed, Explanation{Summary: "stage 2 matched no event"}, gap, "endpoint")
	want := `cannot verify: the rule tests event.action == "fork", which the real Elastic Defend source sends but this run does not render; MISSED here says nothing about the rule`
	if e.Summary != want || len(e.Details) != 2 || e.Details[1] != "as MISSED: stage 2 matched no event" {
		t.Errorf("explainUnverifiable = %q %q", e.Summary, e.Details)
	}
}
