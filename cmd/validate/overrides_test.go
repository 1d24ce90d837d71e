package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRuleRequestParameters runs "validate lint" and "validate query
// --rule" end to end on rules that set their own EQL request parameters
// (event_category_override, timestamp_field, tiebreaker_field) and checks
// that both honour them as Kibana's rule executor does: it sends them as
// the _eql/search request's event_category_field, timestamp_field and
// tiebreaker_field (Kibana, security_solution detection_engine
// rule_types/eql/eql.ts and build_eql_search_request.ts).
//
// The CloudTrail events follow the AWS integration's ingest pipeline
// (elastic/integrations packages/aws/data_stream/cloudtrail, "Add ECS
// categorization"): every event gets event.type ["info"], and only the API
// calls it lists get an event.category, so "info where" with
// event_category_override = "event.type" is how a rule selects the rest.
func TestRuleRequestParameters(t *testing.T) {
	bin := buildValidate(t)
	const dir = "rules/testdata/overrides/"

	t.Run("lint", func(t *testing.T) {
		stdout, stderr, code := runValidate(t, bin, "lint", dir+"s3_logging_off.toml", dir+"trail_then_logging.ndjson", dir+"exec_then_connect.toml")
		if code != 0 || stdout != "" || stderr != "validate lint: 3 valid EQL rules, 0 skipped, 0 problems\n" {
			t.Errorf("lint: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 0, no finding: \"info\" is an ECS event.type value", code, stdout, stderr)
		}
	})

	type hits struct {
		Hits struct {
			Total  struct{ Value int }
			Events []struct {
				Source map[string]any `json:"_source"`
			}
			Sequences []struct {
				JoinKeys []any `json:"join_keys"`
				Events   []struct {
					ID string `json:"_id"`
				}
			}
		}
	}
	query := func(t *testing.T, args ...string) hits {
		t.Helper()
		stdout, stderr, code := runValidate(t, bin, append([]string{"query", "--compact"}, args...)...)
		if code != 0 {
			t.Fatalf("validate query %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
		var h hits
		if err := json.Unmarshal([]byte(stdout), &h); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, stdout)
		}
		return h
	}
	actions := func(h hits) []string {
		var out []string
		for _, e := range h.Hits.Events {
			out = append(out, e.Source["event"].(map[string]any)["action"].(string))
		}
		return out
	}
	ids := func(h hits) []string {
		var out []string
		for _, s := range h.Hits.Sequences {
			for _, e := range s.Events {
				out = append(out, e.ID)
			}
		}
		return out
	}

	t.Run("event_category_override", func(t *testing.T) {
		h := query(t, "--events", dir+"cloudtrail_events.ndjson", "--rule", dir+"s3_logging_off.toml")
		if got := actions(h); h.Hits.Total.Value != 1 || len(got) != 1 || got[0] != "PutBucketLogging" {
			t.Errorf("--rule s3_logging_off.toml: total %d, events %v; want the PutBucketLogging event", h.Hits.Total.Value, got)
		}
		// An explicit flag wins over the rule: read from event.category,
		// which the pipeline leaves unset for this call, nothing matches.
		h = query(t, "--events", dir+"cloudtrail_events.ndjson", "--rule", dir+"s3_logging_off.toml", "--event-category-field", "event.category")
		if h.Hits.Total.Value != 0 {
			t.Errorf("--event-category-field event.category: total %d, want 0", h.Hits.Total.Value)
		}
	})

	t.Run("timestamp_field", func(t *testing.T) {
		// By event.created StopLogging (10:02) precedes PutBucketLogging
		// (10:03); by @timestamp it follows it.
		h := query(t, "--events", dir+"cloudtrail_events.ndjson", "--rule", dir+"trail_then_logging.ndjson")
		if got := ids(h); len(got) != 2 || got[0] != "1" || got[1] != "0" {
			t.Errorf("--rule trail_then_logging.ndjson: sequence events %v, want [1 0] (ordered by event.created)", got)
		}
		h = query(t, "--events", dir+"cloudtrail_events.ndjson", "--rule", dir+"trail_then_logging.ndjson", "--timestamp-field", "@timestamp")
		if h.Hits.Total.Value != 0 {
			t.Errorf("--timestamp-field @timestamp: total %d, want 0 (PutBucketLogging came first)", h.Hits.Total.Value)
		}
	})

	t.Run("tiebreaker_field", func(t *testing.T) {
		// Both events carry the same @timestamp; the exec has the lower
		// event.sequence but comes second in the file.
		h := query(t, "--events", dir+"defend_events.ndjson", "--rule", dir+"exec_then_connect.toml")
		if got := ids(h); len(got) != 2 || got[0] != "1" || got[1] != "0" {
			t.Errorf("--rule exec_then_connect.toml: sequence events %v, want [1 0] (ordered by event.sequence)", got)
		}
		h = query(t, "--events", dir+"defend_events.ndjson", "--rule", dir+"exec_then_connect.toml", "--tiebreaker-field", "")
		if h.Hits.Total.Value != 0 {
			t.Errorf("--tiebreaker-field \"\": total %d, want 0 (file order puts the connection first)", h.Hits.Total.Value)
		}
	})
}
