package harness

import (
	"context"
	"fmt"
	"sync"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/harness/elastic"
	"github.com/purpleharness/purpleharness/rules"
)

var (
	// Elasticsearch (harness/elastic) indexes the run's documents once into
	// the run's own data streams and asks _eql/search per rule.
	_ Engine = (*elastic.Engine)(nil)
	_ Engine = (*Both)(nil)
)

// Both evaluates every rule on two engines, answers with the Primary's
// result (the embedded engine), and records every rule on which the
// Secondary (Elasticsearch) answered differently: the embedded engine is
// only worth something if it agrees with Elasticsearch.
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
	if d := elastic.Disagreement(r2, r1); d != "" {
		b.mu.Lock()
		b.disagreement = append(b.disagreement, fmt.Sprintf("%s (%s): %s", rule.File, b.Secondary.Name(), d))
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
