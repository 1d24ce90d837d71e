package harness

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/rules"
)

// TestRunRuleRequestParameters runs a rule whose stage category comes from
// event.type (event_category_override) over real kernel telemetry: it
// fires on the scenario's connection attempt only if the harness sends the
// rule's override to the engine, as Kibana's rule executor does.
func TestRunRuleRequestParameters(t *testing.T) {
	cfg := realConfig(t, "testdata/overrides/suite.yaml")
	rs, err := rules.Load("testdata/overrides/connect_by_type.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rules = rs
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	res, err := Run(ctx, cfg)
	skipOnEnv(t, err)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	const rule = "Connection attempt to POP3, category from event.type"
	for _, tc := range []struct {
		scenario string
		want     Verdict
	}{{"pop3-attempt", Pass}, {"imap-attempt", Pass}} {
		c := res.Cell(tc.scenario, rule)
		if c == nil {
			t.Fatalf("no cell %s × %s", tc.scenario, rule)
		}
		if c.Verdict != tc.want {
			t.Errorf("%s × %s = %s: %s; want %s", tc.scenario, rule, c.Verdict, c.Explanation, tc.want)
		}
	}
}

// TestExplainCategoryOverride: the explanation of a miss counts a stage's
// candidate events in the rule's category field, not in event.category.
func TestExplainCategoryOverride(t *testing.T) {
	docs := render(t, ecs.Endpoint, conn{100, 10, "/usr/bin/curl", 110, 0}, conn{100, 10, "/usr/bin/curl", 143, time.Second})
	shape, err := Embedded{}.Shape(`start where destination.port == 2525`)
	if err != nil {
		t.Fatal(err)
	}
	shape.CategoryField = "event.type"
	e := analyse(shape, docs)
	if len(e.Stages) != 1 || e.Stages[0].Events != 2 || !strings.Contains(e.Summary, "destination.port == 2525") {
		t.Errorf("analyse with event.type categories = %+v; want 2 candidate events and the port condition blamed", e)
	}
	shape.CategoryField = ""
	e = analyse(shape, docs)
	if e.Summary != "no start events from the scenario's processes" {
		t.Errorf("analyse with event.category = %q; want no start events", e.Summary)
	}
}
