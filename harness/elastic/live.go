package elastic

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/purpleharness/purpleharness/eql"
)

// Window confines a live search to one run: events whose timestamp lies in
// [From, To] and, when Hosts is set, whose host.name is one of them.
type Window struct {
	From, To time.Time
	Hosts    []string
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
	tsField := req.TimestampField
	if tsField == "" {
		tsField = eql.DefaultTimestampField
	}
	filters := []any{map[string]any{"range": map[string]any{tsField: map[string]any{
		"gte":    w.From.UTC().Format(time.RFC3339Nano),
		"lte":    w.To.UTC().Format(time.RFC3339Nano),
		"format": "strict_date_optional_time_nanos",
	}}}}
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
