package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/fakemail"
	"github.com/purpleharness/purpleharness/harness/sensor"
	"github.com/purpleharness/purpleharness/prereq"
	"github.com/purpleharness/purpleharness/rules"
	"github.com/purpleharness/purpleharness/scenarios"
)

// realConfig wires the real parts: the embedded engine, the audit sensor and
// the in-process mail servers on the canonical loopback ports. It skips the
// test when root, audit or the ports are not available.
func realConfig(t *testing.T, suiteFile string) Config {
	t.Helper()
	prereq.NeedRoot(t, "the audit sensor")
	s, err := scenarios.Load(suiteFile)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.LoadDir("../rules")
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Suites: []*scenarios.Suite{s}, Rules: rs, Profile: string(ecs.Endpoint),
		Engine: Embedded{}, Explainer: Embedded{},
		// Ephemeral ports: the verdict scenarios connect to the canonical
		// ports whether or not anything listens there, so the test needs no
		// port another run (or package test) might hold.
		StartServers: func(ctx context.Context) (MailServers, error) {
			return StartInProcessServers(ctx, fakemail.EphemeralPorts())
		},
		StartSensor: func(ctx context.Context) (Sensor, error) { return StartAuditSensor(ctx, ecs.Endpoint) },
	}
}

// skipOnEnv skips when a part could not start for what the machine lacks;
// any other error is left to the test, which fails on it.
func skipOnEnv(t *testing.T, err error) {
	t.Helper()
	var env *EnvError
	if errors.As(err, &env) {
		prereq.SkipOrFail(t, err)
	}
}

// TestRunVerdicts proves every verdict kind with a real run: real programs,
// real kernel telemetry, the real rule files.
func TestRunVerdicts(t *testing.T) {
	cfg := realConfig(t, "testdata/verdicts.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	res, err := Run(ctx, cfg)
	skipOnEnv(t, err)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	const tuned, published = "Potential Command and Control via Mail Protocols (tuned)", "Potential Command and Control via Mail Protocols"
	tests := []struct {
		scenario, rule string
		want           Verdict
		explanation    string // substring of the one-line explanation
	}{
		{"pass", tuned, Pass, "fired 1 sequence (process bash)"},
		{"pass", published, NoExpectation, "`event.type == \"connection_attempted\"` matched 0 of 3 events (event.type held \"start\" in 3), while event.action holds \"connection_attempted\" in 3"},
		{"missed", tuned, Missed, "1 event met every condition of stage 1, fewer than runs=3"},
		{"missed", published, Pass, "matched 0 of 1 events"},
		{"false-positive", tuned, FalsePositive, "fired 1 sequence (process bash)"},
		{"false-positive", published, KnownGapMissed, "known gap: the published rule tests event.type"},
		{"known-gap-false-positive", tuned, KnownGapFalsePositive, "known gap: any three connections"},
		{"gap-closed", tuned, GapClosed, "now holds: remove the marker"},
		{"no-telemetry", tuned, NoTelemetry, "no network event"},
		{"exec-failed", tuned, ExecFailed, "exit code 3"},
		{"skipped", tuned, Skipped, "purpleharness-no-such-program not found in PATH"},
	}
	for _, tc := range tests {
		c := res.Cell(tc.scenario, tc.rule)
		if c == nil {
			t.Errorf("no cell %s × %s", tc.scenario, tc.rule)
			continue
		}
		if c.Verdict != tc.want || !strings.Contains(c.Explanation.String(), tc.explanation) {
			t.Errorf("%s × %s = %s: %s\nwant %s with %q", tc.scenario, tc.rule, c.Verdict, c.Explanation, tc.want, tc.explanation)
		}
	}
	if !res.Failed() {
		t.Error("Result.Failed() = false with MISSED and FALSE_POSITIVE cells")
	}
	if res.Lost > 0 {
		t.Logf("sensor lost %d events", res.Lost)
	}
	// The detection is attributed to the scenario whose process made it.
	c := res.Cell("pass", tuned)
	if c != nil && len(c.Sequences) == 1 {
		sc := res.Scenarios[0]
		for _, e := range c.Sequences[0].Events {
			if !containsInt(sc.Processes, e.PID) {
				t.Errorf("detection event from pid %d, not in scenario pass's tree %v", e.PID, sc.Processes)
			}
		}
	}
}

func containsInt(list []int, n int) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}

// TestCheckRejectsBadInput: unknown rule references and atomics fail before
// anything runs, with the suite file's position.
func TestCheckRejectsBadInput(t *testing.T) {
	s, err := scenarios.Parse("bad.yaml", []byte("scenarios:\n  - name: a\n    command: [true]\n    expect: {no_such_rule: fires}\n  - name: b\n    atomic: {technique: T1071.003, name: nope}\n    expect: {'*': silent}\n"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.LoadDir("../rules")
	if err != nil {
		t.Fatal(err)
	}
	err = Check(Config{Suites: []*scenarios.Suite{s}, Rules: rs, Explainer: Embedded{}})
	var ie *InputError
	if !errors.As(err, &ie) || len(ie.Problems) != 2 {
		t.Fatalf("Check = %v, want 2 input problems", err)
	}
	if !strings.HasPrefix(ie.Problems[0], "bad.yaml:4:14: unknown rule \"no_such_rule\"") {
		t.Errorf("problem 0 = %q", ie.Problems[0])
	}
	if ie.Problems[1] != "bad.yaml:5:5: scenario \"b\" runs an atomic but no atomics are loaded" {
		t.Errorf("problem 1 = %q", ie.Problems[1])
	}
}

// TestCheckQueryErrorPosition: a query error is reported at the rule
// file's line:col as validate lint reports it, also after a multi-byte
// character (eql columns count bytes; read as characters they overshoot).
func TestCheckQueryErrorPosition(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.eql")
	// "é" is two bytes: ")" is at byte column 40, character column 39.
	if err := os.WriteFile(p, []byte(`process where process.name == "é" and ) == 1`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	err = Check(Config{Rules: rs}) // the embedded engine explains by default
	var ie *InputError
	if !errors.As(err, &ie) || len(ie.Problems) != 1 {
		t.Fatalf("Check = %v, want 1 input problem", err)
	}
	if want := p + ":1:40: mismatched input ')' expecting an expression"; ie.Problems[0] != want {
		t.Errorf("Check problem = %q, want %q", ie.Problems[0], want)
	}
}

// TestRenderErrorsAreLost: an observation the renderer rejects never
// reaches the rules, so the sensor counts it as lost and the report says so.
func TestRenderErrorsAreLost(t *testing.T) {
	prereq.NeedRoot(t, "the audit sensor")
	a, err := StartAuditSensor(context.Background(), ecs.Endpoint)
	prereq.SkipOrFail(t, err)
	t.Cleanup(func() { a.Close() })
	before := a.Lost()
	// A connect without a destination address cannot be rendered.
	if docs := a.render([]sensor.Observation{{Connect: &ecs.Connect{Serial: 1}}}, nil); len(docs) != 0 {
		t.Errorf("render = %d documents, want none", len(docs))
	}
	if got := a.Lost(); got != before+1 {
		t.Errorf("Lost = %d after a render error, want %d", got, before+1)
	}
}

// TestC2Command: --c2-address replaces the default address where it stands
// as a whole address in a benign command, and nowhere else.
func TestC2Command(t *testing.T) {
	c := c2Command(scenarios.Command{
		Shell: "curl -s pop3://127.0.0.1:110/ ; ping -c1 127.0.0.10 ; echo 1127.0.0.1 127.0.0.1.5 127.0.0.1. x127.0.0.1",
		Argv:  []string{"nc", "127.0.0.1", "25", "127.0.0.100"},
	}, "198.51.100.25")
	if want := "curl -s pop3://198.51.100.25:110/ ; ping -c1 127.0.0.10 ; echo 1127.0.0.1 127.0.0.1.5 198.51.100.25. x198.51.100.25"; c.Shell != want {
		t.Errorf("shell:\n got %s\nwant %s", c.Shell, want)
	}
	if got, want := strings.Join(c.Argv, " "), "nc 198.51.100.25 25 127.0.0.100"; got != want {
		t.Errorf("argv: got %q, want %q", got, want)
	}
}
