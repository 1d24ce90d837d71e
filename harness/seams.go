// Package harness is purpleharness's main job: it runs a suite of scenarios
// (scenarios package) under the telemetry sensor against the fake mail
// servers, evaluates every detection rule over what the sensor recorded,
// attributes each detection to the scenario whose processes caused it, and
// gives a verdict per scenario × rule with an explanation drawn from the
// data.
//
// The parts it drives are colleagues' packages; the harness sees each one
// through a small interface declared here (Engine, Explainer, Sensor,
// MailServers, Atomics), so the embedded EQL engine and Elasticsearch, the
// in-process and the containerised mail servers, are interchangeable.
// cmd/validate wires the concrete implementations.
package harness

import (
	"context"
	"net/netip"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/rules"
	"github.com/purpleharness/purpleharness/scenarios"
)

// Engine evaluates one rule's query over documents and answers in the shape
// of Elasticsearch's _eql/search response. The embedded engine and the
// Elasticsearch backend both implement it. The harness asks for every
// sequence (Size is set to MaxResults), in timestamp order.
type Engine interface {
	Name() string
	Search(ctx context.Context, rule *rules.Rule, req eql.Request, docs []ecs.Document) (*eql.Response, error)
}

// MaxResults is the size the harness requests: Elasticsearch's default
// index.max_result_window, enough for any scenario suite.
const MaxResults = 10000

// Explainer parses a query into the shape explanations need. The embedded
// engine provides it whichever Engine answered the search: an explanation
// re-evaluates the rule's conditions one by one on the scenario's events.
type Explainer interface {
	Shape(query string) (*Shape, error)
}

// Shape is a parsed query as explanations see it.
type Shape struct {
	// Kind is "event", "sequence" or "sample".
	Kind string
	// JoinKeys are the global "by" fields of a sequence or sample.
	JoinKeys []string
	// MaxSpan is the sequence's maxspan; 0 when none.
	MaxSpan time.Duration
	Stages  []Stage
	// CategoryField is the field a stage's category is read from: the
	// rule's event_category_override; "" means event.category.
	CategoryField string
}

// Stage is one query of a sequence (a runs=N stage counts once), or the
// whole query of an event query.
type Stage struct {
	Category string   // event category, "any" for any
	JoinKeys []string // the stage's own by fields
	Runs     int      // with runs=N; 1 when absent
	// Conditions are the top-level "and" conjuncts of the where clause, in
	// source order; a single condition when the clause is not an "and".
	Conditions []Condition
}

// Condition is one conjunct: its source text and its evaluation on an event.
type Condition struct {
	Source string
	Eval   func(eql.Fields) Tri
}

// Tri is EQL's three-valued truth: a comparison with a missing field is
// null, which a where clause treats as false.
type Tri int8

const (
	False Tri = iota
	True
	Null
)

// Sensor is the running telemetry capture.
type Sensor interface {
	// Sync returns once every event the kernel produced before the call
	// has been delivered and rendered (a barrier), so a scenario's
	// telemetry is complete before the rules look at it.
	Sync(ctx context.Context) error
	// Documents returns the documents rendered since the previous call, in
	// arrival order. peers are the connections the mail servers accepted:
	// a non-blocking connect returns EINPROGRESS whether or not it will
	// succeed, so the sensor joins them to mark attempts established and
	// fill source.* (profiles such as Sysmon report only established ones).
	Documents(peers []Peer) []ecs.Document
	// Lost is how many events the capture lost so far (kernel lost counter
	// plus sequence gaps, and events that could not be rendered). A report
	// with lost events says so.
	Lost() uint64
	Close() error
}

// MailServers are the running fake SMTP/POP3/IMAP servers.
type MailServers interface {
	// Mode says how they run, for the one line the run prints:
	// "in-process" or "container".
	Mode() string
	// Addrs lists the listening addresses by service ("smtp", "pop3s"...).
	Addrs() map[string]string
	// Peers returns the connections accepted so far, for the sensor's join.
	Peers() []Peer
	// Evidence returns the sessions recorded so far, one JSON-encodable
	// value per session, for the transcripts file.
	Evidence() []any
	Shutdown(ctx context.Context) error
}

// Peer is a server's view of one accepted connection (harness/sensor.Peer).
type Peer interface {
	AcceptTime() time.Time
	LocalAddr() netip.AddrPort
	RemoteAddr() netip.AddrPort
}

// Atomics runs Atomic Red Team tests.
type Atomics interface {
	// Check resolves ref and the input overrides before anything runs, so
	// a bad suite fails fast with exit 2.
	Check(ref scenarios.AtomicRef, inputs map[string]string) error
	// Run executes the test: prerequisites, command, cleanup. onStart gets
	// the pid of the attack command's process as soon as it exists.
	Run(ctx context.Context, ref scenarios.AtomicRef, inputs map[string]string, timeout time.Duration, onStart func(pid int)) (Execution, error)
}

// Execution is what running a scenario's workload produced.
type Execution struct {
	Status   ExecStatus `json:"status"`
	Reason   string     `json:"reason,omitempty"` // why skipped or failed
	Test     string     `json:"test,omitempty"`   // atomic test id, e.g. T1071.003-2
	Command  string     `json:"command"`
	PID      int        `json:"pid,omitempty"` // root process of the workload
	ExitCode int        `json:"exit_code"`
	Stdout   string     `json:"stdout,omitempty"`
	Stderr   string     `json:"stderr,omitempty"`
	Start    time.Time  `json:"start"`
	End      time.Time  `json:"end"`
	// Cleanup is the outcome of the atomic's cleanup command, if it had one.
	Cleanup string `json:"cleanup,omitempty"`
}

// ExecStatus is how a workload ended.
type ExecStatus string

const (
	StatusOK      ExecStatus = "ok"
	StatusFailed  ExecStatus = "failed"
	StatusSkipped ExecStatus = "skipped"
)
