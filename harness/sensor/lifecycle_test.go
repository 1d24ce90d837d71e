package sensor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"

	"github.com/purpleharness/purpleharness/prereq"
)

// The test binary doubles as a helper process, selected by environment:
// it starts a sensor, prints "READY <pid>" and waits to be killed or
// interrupted — the recording process of the cleanup tests.
const helperEnv = "PURPLEHARNESS_SENSOR_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "hold":
		os.Exit(holdHelper())
	case "burst":
		os.Exit(burstHelper())
	case "panic":
		panicHelper()
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode")
		os.Exit(2)
	}
}

func holdHelper() int {
	s, err := Start(context.Background(), Config{})
	if err != nil {
		fmt.Println("ERROR", err)
		return 3
	}
	defer s.Close()
	fmt.Println("READY", os.Getpid())
	// Block until stdin closes; SIGINT/SIGTERM are handled by the sensor
	// (close, then the signal's default action).
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

// panicHelper panics with a sensor running; the deferred Close must still
// remove its rules before the runtime ends the process.
func panicHelper() {
	s, err := Start(context.Background(), Config{})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(3)
	}
	defer s.Close()
	fmt.Println("READY", os.Getpid())
	panic("deliberate panic with a sensor running")
}

// startHelper runs a sensor in another process and waits until it is ready.
func startHelper(t *testing.T) *exec.Cmd {
	t.Helper()
	return startHelperMode(t, "hold")
}

func startHelperMode(t *testing.T, mode string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if mode == "hold" {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	if strings.HasPrefix(line, "ERROR") {
		prereq.SkipOrFailText(t, "helper could not start a sensor", line)
	}
	if !strings.HasPrefix(line, "READY ") {
		t.Fatalf("helper said %q", line)
	}
	return cmd
}

// auditState is what the sensor may change and must restore.
type auditState struct{ enabled, backlog uint32 }

func readState(t *testing.T) auditState {
	t.Helper()
	prereq.SkipOrFail(t, checkCapabilities())
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		prereq.SkipOrFail(t, noAudit("%v", err))
	}
	defer c.Close()
	st, err := c.GetStatus()
	if err != nil {
		prereq.SkipOrFail(t, statusError(err))
	}
	return auditState{st.Enabled, st.BacklogLimit}
}

// rulesOf lists the sensor instances owning rules, by pid, as the kernel
// reports them through auditctl -l (the operator's view).
func rulesOf(t *testing.T) map[int]int {
	t.Helper()
	auditctl := prereq.LookPath(t, "auditctl")
	out, err := exec.Command(auditctl, "-l").CombinedOutput()
	if err != nil {
		t.Fatalf("auditctl -l: %v\n%s", err, out)
	}
	owners := map[int]int{}
	for line := range strings.SplitSeq(string(out), "\n") {
		for f := range strings.FieldsSeq(line) {
			if in, ok := parseInstanceKey(strings.TrimPrefix(f, "key=")); ok {
				owners[in.PID]++
			}
		}
	}
	return owners
}

// otherSensors reports whether sensors of other processes (other test
// packages, a CI job) are running: then the audit state legitimately
// differs from what this test saw before it started.
func otherSensors(t *testing.T, except ...int) bool {
	for pid := range rulesOf(t) {
		if pid != os.Getpid() && !containsInt(except, pid) {
			if _, ok := startTicks(pid); ok {
				return true
			}
		}
	}
	return false
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// originalState is the audit state before any sensor changed it: the
// current one, or the one recorded in the keys of running sensors' rules.
func originalState(t *testing.T) auditState {
	t.Helper()
	st := readState(t)
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		t.Fatalf("audit client: %v", err) // readState just opened one
	}
	defer c.Close()
	rules, err := c.GetRules()
	if err != nil {
		t.Fatalf("list rules: %v", err)
	}
	for _, wf := range rules {
		if in, ok := ownedBy(wf); ok && in.alive() {
			return auditState{in.Enabled, in.Backlog}
		}
	}
	return st
}

func checkRestored(t *testing.T, before auditState) {
	t.Helper()
	if otherSensors(t) {
		t.Log("other sensors are running; not comparing the audit state")
		return
	}
	if after := readState(t); after != before {
		t.Errorf("audit state after = enabled %d backlog %d, before = enabled %d backlog %d", after.enabled, after.backlog, before.enabled, before.backlog)
	}
}

// TestKill9StaleRulesRemoved kills a recording process with SIGKILL, so it
// cannot clean up, and checks the next sensor removes its rules and the
// state ends as before.
func TestKill9StaleRulesRemoved(t *testing.T) {
	before := originalState(t)
	helper := startHelper(t)
	pid := helper.Process.Pid
	if n := rulesOf(t)[pid]; n == 0 {
		t.Fatalf("helper %d has no rules loaded", pid)
	}
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	if n := rulesOf(t)[pid]; n == 0 {
		t.Fatalf("rules of the killed helper vanished by themselves; the test proves nothing")
	}
	s := startSensor(t, Config{})
	if n := rulesOf(t)[pid]; n != 0 {
		t.Errorf("after Start, %d rules of dead sensor %d remain", n, pid)
	}
	if n := rulesOf(t)[os.Getpid()]; n == 0 {
		t.Errorf("our own rules are missing")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if owners := rulesOf(t); owners[os.Getpid()] != 0 || owners[pid] != 0 {
		t.Errorf("rules left after Close: %v", owners)
	}
	checkRestored(t, before)
}

// TestSignalCleanup interrupts recording processes (SIGINT and SIGTERM)
// and checks they removed their rules and restored the audit state.
func TestSignalCleanup(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			before := originalState(t)
			helper := startHelper(t)
			pid := helper.Process.Pid
			if err := helper.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := helper.Wait()
			ws, _ := helper.ProcessState.Sys().(syscall.WaitStatus)
			if !ws.Signaled() || ws.Signal() != sig {
				t.Errorf("helper ended with %v (%v), want death by %v as without a sensor", helper.ProcessState, err, sig)
			}
			if n := rulesOf(t)[pid]; n != 0 {
				t.Errorf("%d rules of interrupted sensor %d remain", n, pid)
			}
			checkRestored(t, before)
		})
	}
}

// TestConcurrentSensors runs a sensor in another process beside ours: both
// capture, neither deletes the other's rules, and the state is restored
// only when the last one stops.
func TestConcurrentSensors(t *testing.T) {
	before := originalState(t)
	curl := lookPath(t, "curl")
	helper := startHelper(t)
	s := startSensor(t, Config{})
	owners := rulesOf(t)
	if owners[helper.Process.Pid] == 0 || owners[os.Getpid()] == 0 {
		t.Fatalf("want rules of both sensors, have %v", owners)
	}
	if st := s.Stats(); !st.Multicast && auditPID() != os.Getpid() {
		t.Errorf("second sensor should read the multicast group while the first holds the audit stream: %s", st)
	}
	// Stop the helper (it was the unicast reader); ours must keep working.
	if err := helper.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	if n := rulesOf(t)[os.Getpid()]; n == 0 {
		t.Fatalf("the other sensor's exit removed our rules")
	}
	if st := readState(t); st.enabled != 1 {
		t.Fatalf("the other sensor's exit disabled audit while we run (enabled=%d)", st.enabled)
	}
	pid := run(t, curl, "-s", "--max-time", "1", "imap://127.0.0.1:143/")
	syncSensor(t, s)
	if got := connectsTo(s.Observations(), pid, 143); len(got) != 1 {
		t.Errorf("after the other sensor stopped: %d connects from curl, want 1", len(got))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkRestored(t, before)
}

// TestAuditdCoexistence runs Debian's auditd as the audit daemon: the
// sensor must not steal its stream, must say it reads the multicast group,
// must still capture, and auditd must stay registered after the sensor
// closes.
func TestAuditdCoexistence(t *testing.T) {
	prereq.NeedRoot(t, "CAP_AUDIT_CONTROL, to start auditd")
	curl := lookPath(t, "curl")
	if pid := auditPID(); pid != 0 {
		prereq.Skip(t, prereq.Audit, fmt.Sprintf("an audit reader (pid %d, %s) already runs; this test starts its own auditd", pid, commOf(pid)))
	}
	ad := startAuditd(t)
	s := startSensor(t, Config{})
	st := s.Stats()
	if !st.Multicast {
		t.Fatalf("sensor did not fall back to multicast with auditd running: %s", st)
	}
	if len(st.Warnings) == 0 || !strings.Contains(strings.Join(st.Warnings, "\n"), "auditd") {
		t.Errorf("warnings %q do not name auditd as the holder of the audit stream", st.Warnings)
	}
	pid := run(t, curl, "-s", "--max-time", "1", "imap://127.0.0.1:143/")
	syncSensor(t, s)
	if got := connectsTo(s.Observations(), pid, 143); len(got) != 1 {
		t.Errorf("%d connects captured beside auditd, want 1", len(got))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := auditPID(); got != ad.cmd.Process.Pid {
		t.Errorf("after the sensor closed the audit daemon is pid %d, want auditd %d", got, ad.cmd.Process.Pid)
	}
}

// TestPanicCleanup: a panic in the goroutine owning the sensor runs the
// deferred Close, so the rules go with the process.
func TestPanicCleanup(t *testing.T) {
	before := originalState(t)
	helper := startHelperMode(t, "panic")
	err := helper.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("helper ended with %v, want the runtime's panic exit 2", err)
	}
	if n := rulesOf(t)[helper.Process.Pid]; n != 0 {
		t.Errorf("%d rules of the panicked sensor remain", n)
	}
	checkRestored(t, before)
}

// TestRulesRemovedDetected deletes the sensor's rules behind its back, as
// `auditctl -D` would: Sync must report the capture incomplete.
func TestRulesRemovedDetected(t *testing.T) {
	s := startSensor(t, Config{})
	syncSensor(t, s)
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rules, err := c.GetRules()
	if err != nil {
		t.Fatal(err)
	}
	for _, wf := range rules {
		if in, ok := ownedBy(wf); ok && in == s.inst {
			if err := c.DeleteRule(wf); err != nil {
				t.Fatal(err)
			}
			break // one is enough
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Sync(ctx); !errors.Is(err, ErrRulesRemoved) {
		t.Errorf("Sync after a rule was deleted = %v, want ErrRulesRemoved", err)
	}
}

// TestConcurrentStartStop starts and stops sensors from several goroutines
// at once. Every sensor must run with audit enabled and the backlog raised,
// and every one must record the same original state — the one the host had
// before any sensor — however their starts and stops interleave.
func TestConcurrentStartStop(t *testing.T) {
	orig := originalState(t)
	const workers, rounds = 4, 3
	errs := make(chan error, workers*rounds)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				s, err := Start(context.Background(), Config{})
				if err != nil {
					errs <- fmt.Errorf("worker %d round %d: Start: %w", w, r, err)
					return
				}
				got := auditState{s.inst.Enabled, s.inst.Backlog}
				c, err := libaudit.NewAuditClient(nil)
				if err == nil {
					if st, err := c.GetStatus(); err == nil && (st.Enabled != 1 || st.BacklogLimit < 8192) {
						errs <- fmt.Errorf("worker %d round %d: running with enabled=%d backlog=%d", w, r, st.Enabled, st.BacklogLimit)
					}
					c.Close()
				}
				if got != orig {
					errs <- fmt.Errorf("worker %d round %d: recorded original %+v, host original %+v", w, r, got, orig)
				}
				if err := s.Close(); err != nil {
					errs <- fmt.Errorf("worker %d round %d: Close: %w", w, r, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if _, ok := prereq.As(err); ok {
			prereq.Skip(t, prereq.Audit, err.Error()) // what the machine lacks, not a racing worker's failure
		}
		t.Error(err)
	}
	checkRestored(t, orig)
}
