package harness

import (
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/scenarios"
)

// Verdict is the outcome of one scenario × rule.
type Verdict string

const (
	// Pass: the rule did what the scenario expects (fired, or stayed silent).
	Pass Verdict = "PASS"
	// Missed: expected to fire, it did not (or not from the expected
	// process, or not the expected number of times).
	Missed Verdict = "MISSED"
	// FalsePositive: expected to stay silent, it fired.
	FalsePositive Verdict = "FALSE_POSITIVE"
	// NoTelemetry: the scenario ran but the sensor recorded no network
	// event from its processes, so no verdict about the rule is possible.
	NoTelemetry Verdict = "NO_TELEMETRY"
	// ExecFailed: the scenario's command failed or timed out.
	ExecFailed Verdict = "EXEC_FAILED"
	// Skipped: the scenario could not run here (e.g. no pwsh), or the rule
	// is in a language the harness does not evaluate.
	Skipped Verdict = "SKIPPED"

	// KnownGapMissed and KnownGapFalsePositive are MISSED and
	// FALSE_POSITIVE on an expectation marked known_gap: reported, not a
	// failure.
	KnownGapMissed        Verdict = "KNOWN_GAP_MISSED"
	KnownGapFalsePositive Verdict = "KNOWN_GAP_FALSE_POSITIVE"
	// GapClosed: an expectation marked known_gap now holds. It fails the
	// run so that the fix is noticed and the marker removed.
	GapClosed Verdict = "GAP_CLOSED"
	// NoExpectation: the scenario says nothing about this rule; the cell
	// reports what the rule did and never fails the run.
	NoExpectation Verdict = "NO_EXPECTATION"
	// Unverifiable: the verdict would have been MISSED (or a silent PASS)
	// but the rule tests a field or event.action value that the real data
	// source sends and this run's sensor or profile does not render
	// (Cell.Gaps names them). It is our gap, not the rule's: never a
	// failure, never a pass.
	Unverifiable Verdict = "UNVERIFIABLE"
)

// Verdicts lists every verdict, in the order reports count them.
var Verdicts = []Verdict{Pass, Missed, FalsePositive, NoTelemetry, ExecFailed, Skipped,
	KnownGapMissed, KnownGapFalsePositive, GapClosed, NoExpectation, Unverifiable}

// Failed reports whether the verdict fails the run (exit code 1).
func (v Verdict) Failed() bool {
	switch v {
	case Missed, FalsePositive, NoTelemetry, ExecFailed, GapClosed:
		return true
	}
	return false
}

// Result is everything a run produced; the report package renders it.
type Result struct {
	RunID   string    `json:"run_id"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Host    string    `json:"host"`
	Engine  string    `json:"engine"`
	Servers string    `json:"servers"` // "in-process" or "container"
	Profile string    `json:"profile"`
	// Gaps is what the real source sends that this run's documents lack
	// (the profile's unrendered fields and what the sensor cannot see); a
	// rule testing one gets UNVERIFIABLE instead of MISSED or a silent PASS.
	Gaps []ecs.Gap `json:"telemetry_gaps,omitempty"`
	// Lost is how many telemetry events the sensor lost during the run.
	Lost      uint64            `json:"lost_events"`
	Scenarios []*ScenarioResult `json:"scenarios"`
	Rules     []RuleInfo        `json:"rules"`
	Cells     []*Cell           `json:"results"`
	// Disagreements lists rules on which the two engines of --backend both
	// returned different detections; any fails the run.
	Disagreements []string `json:"engine_disagreements,omitempty"`
	// Incomplete, when set, says why the run stopped before every rule was
	// judged (interrupted, the sensor or the engine failed): the cells are
	// missing or partial, and the run fails.
	Incomplete string `json:"incomplete,omitempty"`
	// ReplayedFrom, when set, is the run directory whose telemetry and
	// attribution this result was judged on (validate run --replay):
	// nothing was executed.
	ReplayedFrom string `json:"replayed_from,omitempty"`

	// Documents is every telemetry document of the run, in arrival order
	// (written as NDJSON); Evidence the mail servers' sessions.
	Documents []ecs.Document `json:"-"`
	Evidence  []any          `json:"-"`
	// ServerLog is what the mail servers logged (servers.log).
	ServerLog string `json:"-"`
}

// Failed reports whether any cell fails the run.
func (r *Result) Failed() bool {
	if len(r.Disagreements) > 0 || r.Incomplete != "" {
		return true
	}
	for _, c := range r.Cells {
		if c.Verdict.Failed() {
			return true
		}
	}
	return false
}

// Count returns how many cells have verdict v.
func (r *Result) Count(v Verdict) int {
	n := 0
	for _, c := range r.Cells {
		if c.Verdict == v {
			n++
		}
	}
	return n
}

// Cell returns the result of scenario × rule (by rule name), or nil.
func (r *Result) Cell(scenario, rule string) *Cell {
	for _, c := range r.Cells {
		if c.Scenario == scenario && c.Rule == rule {
			return c
		}
	}
	return nil
}

// RuleInfo identifies a rule in reports.
type RuleInfo struct {
	Name       string   `json:"name"`
	ID         string   `json:"id,omitempty"`
	File       string   `json:"file"`
	Severity   string   `json:"severity,omitempty"`
	Techniques []string `json:"techniques,omitempty"`
	Query      string   `json:"query"`
	Skipped    string   `json:"skipped,omitempty"` // why the rule is not evaluated
}

// ScenarioResult is one scenario's execution and telemetry.
type ScenarioResult struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Technique   string          `json:"technique,omitempty"`
	Tags        []scenarios.Tag `json:"tags,omitempty"`
	Runs        string          `json:"runs"` // what ran: atomic ref or command
	Exec        Execution       `json:"execution"`
	// Events and NetworkEvents count the telemetry attributed to the
	// scenario's process tree.
	Events        int `json:"events"`
	NetworkEvents int `json:"network_events"`
	// Processes are the pids attributed to the scenario (its tree).
	Processes []int `json:"processes,omitempty"`
	// Telemetry is the scenario's slice of the run's telemetry
	// (telemetry.ndjson lines [first, last), 0-based): the documents its
	// process tree was looked for in. Replay attributes from it.
	Telemetry [2]int `json:"telemetry_range"`

	docs []ecs.Document
}

// Cell is one scenario × rule verdict.
type Cell struct {
	Scenario    string           `json:"scenario"`
	Rule        string           `json:"rule"`
	RuleFile    string           `json:"rule_file"`
	Expect      scenarios.Expect `json:"expect,omitempty"`
	KnownGap    string           `json:"known_gap,omitempty"`
	Tags        []scenarios.Tag  `json:"tags,omitempty"`
	Verdict     Verdict          `json:"verdict"`
	Explanation Explanation      `json:"explanation"`
	Sequences   []Detection      `json:"sequences"`
	// Gaps names what an UNVERIFIABLE verdict rests on (`event.action ==
	// "disconnect_received"`, `source.port`).
	Gaps []string `json:"gaps,omitempty"`
}

// Detection is one sequence (or event hit) the rule returned, attributed to
// a scenario.
type Detection struct {
	JoinKeys []any      `json:"join_keys,omitempty"`
	Events   []EventRef `json:"events"`
	// Spans lists the scenarios whose processes contributed events when
	// more than one did: a rule joining by a key wider than one scenario
	// (host.name alone, a shared parent) can combine them, and the
	// detection is then attributed to the scenario of its last event.
	Spans []string `json:"spans_scenarios,omitempty"`
}

// EventRef summarises one event of a detection for people reading reports.
type EventRef struct {
	Time        time.Time `json:"@timestamp"`
	Action      string    `json:"event.action,omitempty"`
	ProcessName string    `json:"process.name,omitempty"`
	PID         int       `json:"process.pid,omitempty"`
	EntityID    string    `json:"process.entity_id,omitempty"`
	Destination string    `json:"destination,omitempty"` // ip:port
}
