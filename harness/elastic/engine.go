package elastic

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"reflect"
	"sync"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/rules"
)

// Engine adapts the backend to the harness's engine seam (harness.Engine:
// Name, and Search of one rule over the run's documents). The harness
// passes the same documents for every rule, so Engine indexes them once
// and searches many times; should a different set of documents arrive, the
// previous set's data streams are deleted and the new set is indexed in
// fresh ones, so every answer covers exactly the documents given.
type Engine struct {
	c     *Client
	runID string

	mu      sync.Mutex
	b       *Backend
	indexed uint64 // fingerprint of the documents b holds
	whole   bool   // b holds all of them (its Index succeeded)
	gen     int
}

// NewEngine returns the engine for run runID on c. Close deletes what it
// indexed.
func (c *Client) NewEngine(runID string) *Engine {
	return &Engine{c: c, runID: runID}
}

// Name says which engine answered, for reports: "elasticsearch 8.19.7".
func (e *Engine) Name() string { return "elasticsearch " + e.c.Version() }

// Search evaluates rule's query (req.Query) over docs on the rule's own
// index patterns.
func (e *Engine) Search(ctx context.Context, rule *rules.Rule, req eql.Request, docs []ecs.Document) (*eql.Response, error) {
	b, err := e.backendFor(ctx, docs)
	if err != nil {
		return nil, err
	}
	if len(b.Streams()) == 0 {
		// Nothing to search: no document at all. Elasticsearch cannot
		// verify a query without an index, so answer as it would over an
		// empty index.
		return &eql.Response{Hits: eql.Hits{Total: eql.Total{Relation: "eq"}}}, nil
	}
	var patterns []string
	if rule != nil {
		patterns = rule.Index
	}
	res, err := b.Search(ctx, patterns, req)
	var ee *Error
	if rule != nil && errors.As(err, &ee) && ee.IsQueryError() {
		// A bad query is bad input: say where in the rule file.
		return nil, ee.ForRule(rule)
	}
	return res, err
}

var seed = maphash.MakeSeed()

// fingerprint identifies a document set by the identity of its documents
// (maps are references), cheaply and without serialising them.
func fingerprint(docs []ecs.Document) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	fmt.Fprint(&h, len(docs))
	for _, d := range docs {
		fmt.Fprint(&h, reflect.ValueOf(d).Pointer(), len(d))
	}
	return h.Sum64()
}

func (e *Engine) backendFor(ctx context.Context, docs []ecs.Document) (*Backend, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fp := fingerprint(docs)
	if e.b != nil && e.whole && e.indexed == fp {
		return e.b, nil
	}
	if e.b != nil {
		if err := e.b.Close(ctx); err != nil {
			return nil, err
		}
		e.b = nil
	}
	id := e.runID
	if e.gen > 0 {
		id = fmt.Sprintf("%s_%d", e.runID, e.gen)
	}
	e.gen++
	b := e.c.NewBackend(id)
	// b is kept even if Index fails, so that Close deletes what it wrote,
	// but it answers for no document set until Index succeeds.
	e.b, e.whole = b, false
	if len(docs) > 0 {
		if err := b.Index(ctx, docs); err != nil {
			return nil, err
		}
	}
	e.indexed, e.whole = fp, true
	return b, nil
}

// Close deletes the data streams and template of the documents indexed.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.b == nil {
		return nil
	}
	err := e.b.Close(ctx)
	if err == nil {
		e.b = nil
	}
	return err
}
