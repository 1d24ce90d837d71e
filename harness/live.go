package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/harness/elastic"
	"github.com/purpleharness/purpleharness/rules"
)

// Live purple-team mode (validate run --live --es-url ...): the atomics run
// on this host, a real agent (Elastic Defend) ships what it saw to the
// cluster, and the cluster — not our sensor — answers. Both halves plug into
// the ordinary seams: LiveTelemetry is the Sensor (it fetches the agent's
// events of this host from the cluster, so attribution and explanations work
// as usual), LiveEngine the Engine (each rule over its own index patterns,
// confined to the run's time window and host).

var (
	_ Sensor = (*LiveTelemetry)(nil)
	_ Engine = (*LiveEngine)(nil)
)

// LiveTelemetry reads the telemetry a real agent shipped for this host.
type LiveTelemetry struct {
	Client *elastic.Client
	// Index are the patterns to read, e.g. logs-endpoint.events.*.
	Index []string
	Host  string
	// Delay is how long Sync waits for the agent to ship a scenario's
	// events before fetching them.
	Delay time.Duration

	from    time.Time
	pending []ecs.Document
}

// NewLiveTelemetry starts reading at now.
func NewLiveTelemetry(c *elastic.Client, index []string, host string, delay time.Duration) *LiveTelemetry {
	return &LiveTelemetry{Client: c, Index: index, Host: host, Delay: delay, from: time.Now().UTC()}
}

// Sync waits Delay, then fetches the host's events from the end of the
// previous window up to the moment Sync was called.
func (l *LiveTelemetry) Sync(ctx context.Context) error {
	to := time.Now().UTC()
	select {
	case <-time.After(l.Delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	resp, err := l.Client.SearchLive(ctx, l.Index, eql.Request{Query: "any where true", Size: MaxResults, ResultPosition: "head"},
		elastic.Window{From: l.from, To: to, Hosts: []string{l.Host}})
	if err != nil {
		return fmt.Errorf("fetch live telemetry: %w", err)
	}
	for _, h := range resp.Hits.Events {
		if h.Source != nil {
			l.pending = append(l.pending, h.Source)
		}
	}
	l.from = to
	return nil
}

// Documents returns what the previous Syncs fetched. The agent's documents
// are taken as shipped: peers are not joined into them.
func (l *LiveTelemetry) Documents([]Peer) []ecs.Document {
	out := l.pending
	l.pending = nil
	return out
}

func (l *LiveTelemetry) Name() string {
	return fmt.Sprintf("live agent telemetry of host %q from %s", l.Host, l.Client)
}

// Lost is unknown for an agent's telemetry; the agent reports its own drops.
func (l *LiveTelemetry) Lost() uint64 { return 0 }
func (l *LiveTelemetry) Close() error { return nil }

// LiveEngine evaluates each rule on the cluster's real telemetry of this
// host within the run's time window.
type LiveEngine struct {
	Client *elastic.Client
	Host   string
	From   time.Time
}

func (e *LiveEngine) Name() string { return "live: " + e.Client.String() }

// Search ignores docs: the cluster's own data is the evidence.
func (e *LiveEngine) Search(ctx context.Context, rule *rules.Rule, req eql.Request, _ []ecs.Document) (*eql.Response, error) {
	w := elastic.Window{From: e.From, To: time.Now().UTC(), Hosts: []string{e.Host}}.ForRule(rule)
	resp, err := e.Client.SearchLive(ctx, rule.Index, req, w)
	if ee, ok := err.(*elastic.Error); ok {
		return nil, ee.ForRule(rule)
	}
	return resp, err
}
