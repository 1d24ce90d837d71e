package elastic

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/rules"
)

// Window confines a live search to one run: events whose timestamp lies in
// [From, To] and, when Hosts is set, whose host.name is one of them.
//
// The timestamp is @timestamp, or the rule's timestamp_override, read as
// Kibana's rule executor reads its look-back window (buildTimeRangeFilter
// in security_solution rule_types/utils/build_events_query.ts): a document
// with the override field must have it in the window; one without it
// counts by its @timestamp, unless NoFallback
// (timestamp_override_fallback_disabled). The EQL timestamp_field, which
// orders events, plays no part in the window.
type Window struct {
	From, To          time.Time
	Hosts             []string
	TimestampOverride string
	NoFallback        bool
}

// ForRule sets the window's timestamp from the rule's timestamp_override.
func (w Window) ForRule(r *rules.Rule) Window {
	if r != nil {
		w.TimestampOverride, w.NoFallback = r.TimestampOverride, r.TimestampOverrideFallbackDisabled
	}
	return w
}

// SearchLive is the live purple-team question: did the rule match on the
// telemetry a real agent shipped to this cluster (not on the run's own data
// streams) while the run's atomics ran? It runs req over the rule's own index
// patterns with a filter confining it to w. Agents ship with a delay of
// seconds; callers wait for that before asking (or ask again).
func (c *Client) SearchLive(ctx context.Context, indexPatterns []string, req eql.Request, w Window) (*eql.Response, error) {
	live, err := liveRequest(req, w)
	if err != nil {
		return nil, err
	}
	index := strings.Join(indexPatterns, ",")
	if index == "" {
		index = "*"
	}
	return c.EQLSearch(ctx, index, live)
}

// liveRequest adds the window filter to req, keeping any filter req has.
func liveRequest(req eql.Request, w Window) (eql.Request, error) {
	if w.From.IsZero() || w.To.IsZero() || w.To.Before(w.From) {
		return req, fmt.Errorf("live search: window [%v, %v] is not a time range", w.From, w.To)
	}
	inWindow := func(field string) map[string]any {
		return map[string]any{"range": map[string]any{field: map[string]any{
			"gte":    w.From.UTC().Format(time.RFC3339Nano),
			"lte":    w.To.UTC().Format(time.RFC3339Nano),
			"format": "strict_date_optional_time_nanos",
		}}}
	}
	primary := w.TimestampOverride
	if primary == "" {
		primary = eql.DefaultTimestampField
	}
	var timeFilter any = inWindow(primary)
	if primary != eql.DefaultTimestampField && !w.NoFallback {
		timeFilter = map[string]any{"bool": map[string]any{
			"minimum_should_match": 1,
			"should": []any{
				inWindow(primary),
				map[string]any{"bool": map[string]any{"filter": []any{
					inWindow(eql.DefaultTimestampField),
					map[string]any{"bool": map[string]any{"must_not": map[string]any{"exists": map[string]any{"field": primary}}}},
				}}},
			},
		}}
	}
	filters := []any{timeFilter}
	if len(w.Hosts) > 0 {
		filters = append(filters, map[string]any{"terms": map[string]any{"host.name": w.Hosts}})
	}
	if len(req.Filter) > 0 {
		filters = append(filters, req.Filter)
	}
	f, err := json.Marshal(map[string]any{"bool": map[string]any{"filter": filters}})
	if err != nil {
		return req, err
	}
	req.Filter = f
	return req, nil
}
