package harness

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/harness/elastic"
	"github.com/purpleharness/purpleharness/rules"
)

var (
	_ Engine = (*Elasticsearch)(nil)
	_ Engine = (*Both)(nil)
)

// Elasticsearch evaluates rules on a real cluster (harness/elastic): the
// run's documents are indexed once into the run's own data streams
// (namespace = run id), and each rule is an _eql/search over its own index
// patterns. Close deletes what the run created.
type Elasticsearch struct {
	Client *elastic.Client
	RunID  string

	mu      sync.Mutex
	backend *elastic.Backend
	indexed bool
}

func (e *Elasticsearch) Name() string { return e.Client.String() }

// Search indexes docs on the first call (the harness passes the same
// documents for every rule) and searches with every result fetched.
func (e *Elasticsearch) Search(ctx context.Context, rule *rules.Rule, req eql.Request, docs []ecs.Document) (*eql.Response, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.backend == nil {
		e.backend = e.Client.NewBackend(e.RunID)
	}
	if !e.indexed {
		if err := e.backend.Index(ctx, docs); err != nil {
			return nil, fmt.Errorf("index telemetry: %w", err)
		}
		e.indexed = true
	}
	return e.backend.SearchAll(ctx, rule.Index, req)
}

// Close deletes the run's data streams and template, then releases the
// client (stopping the container if we started one).
func (e *Elasticsearch) Close(ctx context.Context) error {
	var err error
	if e.backend != nil {
		err = e.backend.Close(ctx)
	}
	if cerr := e.Client.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

// Both evaluates every rule on two engines, answers with the first's
// result, and records every rule on which their detections differ: the
// embedded engine is only worth something if it agrees with Elasticsearch.
type Both struct {
	Primary, Secondary Engine

	mu           sync.Mutex
	disagreement []string
}

func (b *Both) Name() string { return b.Primary.Name() + " + " + b.Secondary.Name() }

func (b *Both) Search(ctx context.Context, rule *rules.Rule, req eql.Request, docs []ecs.Document) (*eql.Response, error) {
	r1, err := b.Primary.Search(ctx, rule, req, docs)
	if err != nil {
		return nil, err
	}
	r2, err := b.Secondary.Search(ctx, rule, req, docs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Secondary.Name(), err)
	}
	if d := diffResponses(r1, r2); d != "" {
		b.mu.Lock()
		b.disagreement = append(b.disagreement, fmt.Sprintf("%s: %s says %s", rule.File, b.Secondary.Name(), d))
		b.mu.Unlock()
	}
	return r1, nil
}

// Disagreements lists the rules on which the two engines differed.
func (b *Both) Disagreements() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.disagreement...)
}

// diffResponses compares two responses by what a verdict rests on: the
// sequences' join keys and their events' (timestamp, pid) in order.
func diffResponses(a, b *eql.Response) string {
	ka, kb := responseKeys(a), responseKeys(b)
	if strings.Join(ka, "\n") == strings.Join(kb, "\n") {
		return ""
	}
	return fmt.Sprintf("%d results %v, the other engine %d %v", len(kb), kb, len(ka), ka)
}

func responseKeys(r *eql.Response) []string {
	var out []string
	for _, d := range detections(r) {
		var parts []string
		for _, e := range d.Events {
			parts = append(parts, fmt.Sprintf("%s/%d", e.Time.UTC().Format("15:04:05.000000"), e.PID))
		}
		out = append(out, fmt.Sprintf("%v:%s", d.JoinKeys, strings.Join(parts, ",")))
	}
	sort.Strings(out)
	return out
}
