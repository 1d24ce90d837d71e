// Package scenarios loads validation suites: YAML files that list what to
// run (an Atomic Red Team test or a benign command) and, per detection rule,
// whether that rule must fire or stay silent on the telemetry the run
// produces.
//
// A suite file looks like this (scenarios/t1071.003.yaml is the full one):
//
//	suite: T1071.003 mail C2
//	technique: T1071.003
//	scenarios:
//	  - name: pop3-nc-polling
//	    atomic: {technique: T1071.003, name: "POP3 command retrieval with nc"}
//	    inputs: {polls: 3}
//	    tags: [attack]
//	    expect:
//	      t1071_003_mail_c2_tuned: {expect: fires, process.name: nc, sequences: 1}
//	      t1071_003_mail_c2_published:
//	        expect: fires
//	        known_gap: the published rule tests event.type, Elastic Defend sets event.action
//	  - name: thunderbird-allowlisted
//	    command: {argv: [curl, -s, "imap://127.0.0.1/"], process_name: Thunderbird.EXE}
//	    expect: {"*": silent}
//
// Rule references (the keys under expect) are a rule's name, id or file name
// (with or without extension); "*" sets the expectation for every rule the
// scenario does not name. The harness resolves them against the loaded rules.
//
// Files are decoded through yaml.Node so that every error carries
// file:line:col, and unknown keys are errors (a typo in "expect" must not turn
// an expectation into silence).
package scenarios

import (
	"fmt"
	"strings"
	"time"
)

// Expect is what a rule must do on a scenario's telemetry.
type Expect string

const (
	// Fires: the rule must produce at least one detection attributed to the scenario.
	Fires Expect = "fires"
	// Silent: the rule must produce no detection attributed to the scenario.
	Silent Expect = "silent"
)

// Valid reports whether e is one of the named constants.
func (e Expect) Valid() bool { return e == Fires || e == Silent }

// Tag is a free-form label on a scenario. The named ones have meaning in
// reports.
type Tag string

const (
	TagAttack             Tag = "attack"
	TagBenign             Tag = "benign"
	TagKnownFalsePositive Tag = "known-false-positive"
)

// AnyRule is the expectation key that applies to every rule a scenario does
// not name explicitly.
const AnyRule = "*"

// DefaultTimeout bounds a scenario's execution when the file sets none.
const DefaultTimeout = 30 * time.Second

// Pos is a position in a suite file.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Suite is one loaded suite file.
type Suite struct {
	Name      string
	Technique string // ATT&CK technique id, e.g. T1071.003 (used by the Navigator layer)
	File      string
	Scenarios []*Scenario
}

// Scenario is one thing to run and what each rule must do about it.
type Scenario struct {
	Name        string
	Description string
	Technique   string // defaults to the suite's
	// Exactly one of Atomic, Command and Recorded is set.
	Atomic  *AtomicRef
	Command *Command
	// Recorded is a telemetry file (NDJSON, a JSON array of events, or an
	// Elasticsearch _search response) every event of which is the
	// scenario's: telemetry a real agent captured (the PowerShell atomic
	// under Elastic Defend on Windows, say), judged like a run's. The
	// path is resolved against the suite file's folder.
	Recorded string
	// Inputs override the atomic's input_arguments defaults.
	Inputs  map[string]string
	Tags    []Tag
	Timeout time.Duration
	Expect  []Expectation
	Pos     Pos
}

// HasTag reports whether the scenario carries tag t.
func (s *Scenario) HasTag(t Tag) bool {
	for _, have := range s.Tags {
		if have == t {
			return true
		}
	}
	return false
}

// ExpectationFor returns the expectation for a rule, matching any of its
// references (name, id, file) first and the "*" default second.
func (s *Scenario) ExpectationFor(refs ...string) (Expectation, bool) {
	for _, e := range s.Expect {
		for _, r := range refs {
			if r != "" && e.Rule == r {
				return e, true
			}
		}
	}
	for _, e := range s.Expect {
		if e.Rule == AnyRule {
			return e, true
		}
	}
	return Expectation{}, false
}

// AtomicRef names an Atomic Red Team test: by its auto_generated_guid, or by
// technique and test name.
type AtomicRef struct {
	GUID      string
	Technique string
	Name      string
}

func (a AtomicRef) String() string {
	if a.GUID != "" {
		return a.GUID
	}
	return a.Technique + " " + fmt.Sprintf("%q", a.Name)
}

// Command is a benign program run as-is. Either Argv (run directly, argv[0]
// looked up in PATH) or Shell (run with sh -c).
type Command struct {
	Argv  []string
	Shell string
	// ProcessName, when set, runs argv[0] from a copy of its executable under
	// this basename in a temporary directory, so the telemetry's
	// process.name is exactly this (e.g. "Thunderbird.EXE" to exercise a
	// rule's in~ allowlist). A copy, not a symlink: the kernel reports the
	// resolved executable, so a symlink would still be named after its target.
	ProcessName string
}

func (c Command) String() string {
	if c.Shell != "" {
		return "sh -c " + fmt.Sprintf("%q", c.Shell)
	}
	return strings.Join(c.Argv, " ")
}

// Expectation is one rule's expected behaviour on one scenario.
type Expectation struct {
	Rule   string // rule name, id, file name, or "*"
	Expect Expect
	// ProcessName, when set, requires a detection whose events come from a
	// process with this name (compared case-insensitively, as in~ would).
	ProcessName string
	// Sequences, when > 0, requires exactly this many detections.
	Sequences int
	// KnownGap, when set, marks the expectation as a known gap (xfail): it is
	// expected NOT to hold today, for the reason given. It is reported but does
	// not fail the run; the day it holds, the run fails so the fix is noticed
	// and the marker removed.
	KnownGap string
	Pos      Pos
}
