package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/purpleharness/purpleharness/eql"
)

// Backend is an EQL engine under test: the embedded engine or an
// Elasticsearch cluster. Load indexes a dataset (called once per index
// before any search); Search answers an _eql/search on an index
// expression such as "sample1,sample2,sample3".
type Backend interface {
	Load(ctx context.Context, ds Dataset) error
	Search(ctx context.Context, index string, req eql.Request) (*eql.Response, error)
}

// Failure is one query whose answer differs from the spec.
type Failure struct {
	Query   Query
	Err     error
	GotIDs  []int64
	GotKeys []string
	// Diff says what differs, for humans.
	Diff string
}

// SuiteResult counts one suite's outcome.
type SuiteResult struct {
	Suite    string
	Total    int
	Passed   int
	Skipped  int
	Failures []Failure
}

// Options tune a run.
type Options struct {
	// Skip maps "suite/name" to the reason a query is not run.
	Skip map[string]string
	// Seed makes fetch_size and result_position reproducible.
	Seed uint64
	// Only, when set, runs just the queries whose name it accepts.
	Only func(q Query) bool
}

// Run loads every dataset into b and runs all suites. The request is built
// as Elasticsearch's BaseEqlSpecTestCase builds it: event_category_field
// event.category, timestamp_field @timestamp, the suite's tiebreaker, size
// from the spec (else 50), a random fetch_size in [2,50] and a random
// result_position, since expected answers hold for all of them.
//
// fetch_size matters to an Elasticsearch backend, whose sequence searches
// page by it; the embedded engine does not page (see eql.Request.FetchSize),
// so against it only result_position varies between seeds.
func (c *Corpus) Run(ctx context.Context, b Backend, opt Options) ([]SuiteResult, error) {
	for _, name := range c.Names() {
		if err := b.Load(ctx, c.Datasets[name]); err != nil {
			return nil, fmt.Errorf("load %s: %w", name, err)
		}
	}
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x5eed))
	var out []SuiteResult
	for _, s := range c.Suites {
		res := SuiteResult{Suite: s.Name}
		for _, q := range s.Queries {
			if opt.Only != nil && !opt.Only(q) {
				continue
			}
			res.Total++
			if reason, ok := opt.Skip[q.Suite+"/"+q.Name]; ok && reason != "" {
				res.Skipped++
				continue
			}
			req := Request(q)
			req.FetchSize = 2 + rng.IntN(49)
			if rng.IntN(2) == 0 {
				req.ResultPosition = "head"
			} else {
				req.ResultPosition = "tail"
			}
			resp, err := b.Search(ctx, q.Index, req)
			if f, ok := Check(q, resp, err); !ok {
				res.Failures = append(res.Failures, f)
				continue
			}
			res.Passed++
		}
		out = append(out, res)
	}
	return out, nil
}

// Request builds the _eql/search request for q (fetch_size and
// result_position left at their defaults).
func Request(q Query) eql.Request {
	req := eql.Request{
		Query:              q.Query,
		Size:               q.Size,
		EventCategoryField: "event.category",
		TimestampField:     "@timestamp",
		TiebreakerField:    q.Tiebreaker,
		MaxSamplesPerKey:   q.MaxSamplesPerKey,
	}
	req.AllowPartialSearchResults = q.AllowPartialSearchResults
	req.AllowPartialSequenceResults = q.AllowPartialSequenceResults
	if q.Size == 0 {
		// size 0 is meaningful (no hits), unlike a zero Size (default 10)
		req.Size = eql.NoHits
	}
	return req
}

// Check compares a response with the spec exactly as Elasticsearch's QA
// harness does: hits.events, or else hits.sequences[*].events flattened
// in response order; each hit's id read from _source (-1 without one);
// the list must equal one expected list, order included; join keys, when
// the spec gives them, must equal the flattened join_keys as strings.
func Check(q Query, resp *eql.Response, err error) (Failure, bool) {
	f := Failure{Query: q, Err: err}
	if err != nil {
		f.Diff = "error: " + err.Error()
		return f, false
	}
	var keys []string
	if len(resp.Hits.Events) > 0 {
		for _, h := range resp.Hits.Events {
			f.GotIDs = append(f.GotIDs, hitID(h, q.IDField))
		}
	} else {
		for _, s := range resp.Hits.Sequences {
			for _, h := range s.Events {
				f.GotIDs = append(f.GotIDs, hitID(h, q.IDField))
			}
			for _, k := range s.JoinKeys {
				keys = append(keys, keyString(k))
			}
		}
	}
	f.GotKeys = keys
	if f.GotIDs == nil {
		f.GotIDs = []int64{}
	}
	idOK := false
	for _, exp := range q.Expected {
		if slices.Equal(exp, f.GotIDs) {
			idOK = true
			break
		}
	}
	var diffs []string
	if !idOK {
		diffs = append(diffs, fmt.Sprintf("event ids: got %v, want %s", f.GotIDs, wantString(q.Expected)))
	}
	if q.JoinKeys != nil && !slices.Equal(q.JoinKeys, keys) {
		diffs = append(diffs, fmt.Sprintf("join keys: got %q, want %q", keys, q.JoinKeys))
	}
	if q.ExpectShardFailures != nil && *q.ExpectShardFailures != resp.IsPartial && len(f.GotIDs) > 0 {
		diffs = append(diffs, fmt.Sprintf("is_partial: got %v, want %v", resp.IsPartial, *q.ExpectShardFailures))
	}
	if len(diffs) == 0 {
		return f, true
	}
	f.Diff = strings.Join(diffs, "; ")
	return f, false
}

func wantString(exp [][]int64) string {
	if len(exp) == 1 {
		return fmt.Sprint(exp[0])
	}
	parts := make([]string, len(exp))
	for i, e := range exp {
		parts[i] = fmt.Sprint(e)
	}
	return "one of " + strings.Join(parts, " | ")
}

func hitID(h eql.Hit, field string) int64 {
	if h.Source == nil {
		return -1
	}
	v, ok := h.Source.Lookup(field)
	if !ok {
		return -1
	}
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		if err == nil {
			return n
		}
	case float64:
		return int64(x)
	case int64:
		return x
	case int:
		return int64(x)
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err == nil {
			return n
		}
	}
	return -1
}

func keyString(k any) string {
	switch x := k.(type) {
	case nil:
		return "null"
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(k)
}
