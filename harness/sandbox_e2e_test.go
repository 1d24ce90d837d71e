package harness_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/elastic/go-libaudit/v2"

	"github.com/purpleharness/purpleharness/prereq"
)

// The run's isolation and cleanup, end to end: a real validate run killed
// or interrupted at several points, two runs at once. Every check looks at
// the real host state: the kernel's audit rules and status, Docker, /proc,
// /run/netns, the cgroup hierarchy, /tmp.

// hostState is what a run may change on the host.
type hostState struct {
	auditEnabled uint32
	bpfProgs     map[int]string // id → name
}

func readHostState(t *testing.T) hostState {
	t.Helper()
	var st hostState
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		prereq.Skip(t, prereq.Audit, err.Error())
	}
	defer c.Close()
	s, err := c.GetStatus()
	if err != nil {
		prereq.Skip(t, prereq.Audit, err.Error())
	}
	st.auditEnabled = s.Enabled
	st.bpfProgs = bpfProgs()
	return st
}

// bpfProgs lists the loaded BPF programs (bpftool), nil without bpftool.
func bpfProgs() map[int]string {
	out, err := exec.Command("bpftool", "-j", "prog", "show").Output()
	if err != nil {
		return nil
	}
	var progs []struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	if json.Unmarshal(out, &progs) != nil {
		return nil
	}
	m := map[int]string{}
	for _, p := range progs {
		m[p.ID] = p.Name
	}
	return m
}

// ownedLeftovers lists what of validate process pid exists, by the names
// and labels that carry its pid: audit rules, containers, images, network
// namespaces, cgroups and temporary directories.
func ownedLeftovers(pid int) []string {
	var left []string
	owner := fmt.Sprintf("purpleharness-%d-", pid)
	if c, err := libaudit.NewAuditClient(nil); err == nil {
		rules, _ := c.GetRules()
		n := 0
		for _, r := range rules {
			if bytes.Contains(r, []byte(fmt.Sprintf("purpleharness:%d:", pid))) {
				n++
			}
		}
		if n > 0 {
			left = append(left, fmt.Sprintf("%d audit rules", n))
		}
		c.Close()
	}
	if _, err := exec.LookPath("docker"); err == nil {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=org.purpleharness.owner-pid="+strconv.Itoa(pid)).Output()
		for _, id := range strings.Fields(string(out)) {
			left = append(left, "container "+id)
		}
		out, _ = exec.Command("docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "purpleharness-fakemail").Output()
		for _, ref := range strings.Fields(string(out)) {
			if strings.Contains(ref, ":"+owner) {
				left = append(left, "image "+ref)
			}
		}
	}
	for _, glob := range []string{"/run/netns/" + owner + "*", "/sys/fs/cgroup/" + owner + "*", "/sys/fs/cgroup/unified/" + owner + "*", filepath.Join(os.TempDir(), owner+"*")} {
		m, _ := filepath.Glob(glob)
		left = append(left, m...)
	}
	return left
}

// leftovers lists what the run with pid (and network namespace inode
// netnsIno, 0 if unknown) left on the host, compared with before.
func leftovers(t *testing.T, pid int, netnsIno uint64, before hostState) []string {
	t.Helper()
	left := ownedLeftovers(pid)
	if c, err := libaudit.NewAuditClient(nil); err == nil {
		if s, err := c.GetStatus(); err == nil && s.Enabled != before.auditEnabled {
			left = append(left, fmt.Sprintf("audit enabled=%d, was %d", s.Enabled, before.auditEnabled))
		}
		c.Close()
	}
	// BPF programs that were not there before.
	if before.bpfProgs != nil {
		for id, name := range bpfProgs() {
			if _, ok := before.bpfProgs[id]; !ok {
				left = append(left, fmt.Sprintf("BPF program %d %s", id, name))
			}
		}
	}
	// Processes: the run's, its reaper, anything in its namespace.
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == os.Getpid() {
			continue
		}
		if stat, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
				continue
			}
		}
		if netnsIno != 0 {
			var st syscall.Stat_t
			if syscall.Stat("/proc/"+e.Name()+"/ns/net", &st) == nil && st.Ino == netnsIno {
				comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
				left = append(left, fmt.Sprintf("process %d (%s) in the run's namespace", p, strings.TrimSpace(string(comm))))
			}
		}
		env, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
		if bytes.Contains(env, []byte("PURPLEHARNESS_REAPER=1")) {
			if ppidOf(p) == pid || ppidOf(p) == 1 {
				left = append(left, fmt.Sprintf("reaper %d", p))
			}
		}
	}
	return left
}

func ppidOf(pid int) int {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return 0
	}
	p, _ := strconv.Atoi(f[1])
	return p
}

// waitClean waits up to 5 s for the run's leftovers to go, and fails
// naming what stayed.
func waitClean(t *testing.T, what string, pid int, netnsIno uint64, before hostState, stderr fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := leftovers(t, pid, netnsIno, before)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: 5 s later still there: %s\nstderr:\n%s", what, strings.Join(left, ", "), stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startRun starts validate run in the background; the caller waits.
func startRun(t *testing.T, args ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(buildValidate(t), append([]string{"run"}, args...)...)
	cmd.Dir = ".."
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, stderr
}

// waitFor waits until stderr holds marker.
func waitFor(t *testing.T, stderr *lockedBuffer, marker string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(stderr.String(), marker) {
		if time.Now().After(deadline) {
			t.Fatalf("validate never printed %q; stderr:\n%s", marker, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// netnsInode is the inode of the run's namespace, read from its name in
// /run/netns while it runs.
func netnsInode(pid int) uint64 {
	m, _ := filepath.Glob(fmt.Sprintf("/run/netns/purpleharness-%d-*", pid))
	for _, p := range m {
		var st syscall.Stat_t
		if syscall.Stat(p, &st) == nil {
			return st.Ino
		}
	}
	return 0
}

func dockerAnswers() bool {
	return exec.Command("docker", "info").Run() == nil
}

// TestE2ESIGKILLLeavesNothing kills validate run with SIGKILL at several
// points: once its sandbox exists, once the servers and the sensor are up,
// and in the middle of a scenario. 5 s later nothing of it remains, and the
// audit enabled flag is what it was before.
func TestE2ESIGKILLLeavesNothing(t *testing.T) {
	needRoot(t)
	servers := "in-process"
	if dockerAnswers() {
		servers = "container"
	}
	for _, tc := range []struct {
		name, marker string
		after        time.Duration
	}{
		{"sandbox made", "sandbox: ", 0},
		{"servers and sensor up", "sensor: ", 0},
		{"mid-scenario", "sensor: ", 1500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := readHostState(t)
			cmd, stderr := startRun(t, "--servers", servers, "--out", t.TempDir(), "--scenario", "pop3-nc-polling,bash-dev-tcp-polling")
			waitFor(t, stderr, tc.marker)
			time.Sleep(tc.after)
			ino := netnsInode(cmd.Process.Pid)
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			waitClean(t, "SIGKILL after "+tc.name, cmd.Process.Pid, ino, before, stderr)
			if tc.marker == "sensor: " && !strings.Contains(stderr.String(), "reaper removed") {
				t.Errorf("the reaper did not say what it removed:\n%s", stderr.String())
			}
		})
	}
}

// TestE2EInterrupt130 sends SIGINT 0.3 s and 3 s after the start: validate
// exits 130 and nothing of the run remains.
func TestE2EInterrupt130(t *testing.T) {
	needRoot(t)
	buildValidate(t)
	for _, after := range []time.Duration{300 * time.Millisecond, 3 * time.Second} {
		t.Run(after.String(), func(t *testing.T) {
			before := readHostState(t)
			out := t.TempDir()
			cmd, stderr := startRun(t, "--out", out, "--scenario", "pop3-nc-polling,bash-dev-tcp-polling")
			time.Sleep(after)
			ino := netnsInode(cmd.Process.Pid)
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(e2eTimeout):
				t.Fatalf("validate still running %s after SIGINT; stderr:\n%s", e2eTimeout, stderr.String())
			}
			var ee *exec.ExitError
			switch {
			case errors.As(err, &ee) && ee.ExitCode() == 130:
			case errors.As(err, &ee) && stderr.String() == "" && (ee.ExitCode() == 2 || ee.Sys().(syscall.WaitStatus).Signaled() && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGINT):
				// The signal came before main had registered for it (on
				// a heavily loaded machine the runtime and package
				// initialisation can take that long): the Go runtime's
				// default for SIGINT, death by the signal (a shell
				// reports 130) or, when re-raising fails, exit 2; nothing
				// had started, and nothing may be left.
				t.Logf("SIGINT after %s arrived before main registered for it: %v", after, err)
			default:
				t.Fatalf("SIGINT after %s: %v, want exit 130; stderr:\n%s", after, err, stderr.String())
			}
			waitClean(t, "SIGINT after "+after.String(), cmd.Process.Pid, ino, before, stderr)
			// A run that had started scenarios wrote reports marked incomplete.
			if data, err := os.ReadFile(filepath.Join(out, "report.json")); err == nil {
				var rep struct {
					Passed     bool   `json:"passed"`
					Incomplete string `json:"incomplete"`
				}
				if json.Unmarshal(data, &rep) != nil || rep.Passed || rep.Incomplete == "" {
					t.Errorf("report.json after SIGINT: passed=%v incomplete=%q, want false and a reason", rep.Passed, rep.Incomplete)
				}
			}
		})
	}
}

// TestE2ETwoRunsAtOnce starts two runs together: both bind 127.0.0.1:25
// (each in its own namespace), both pass, with identical verdicts.
func TestE2ETwoRunsAtOnce(t *testing.T) {
	needRoot(t)
	buildValidate(t)
	scenarios := "single-poll,three-programs-once-each,pop3-nc-two-polls,unlisted-client-three-protocols"
	var wg sync.WaitGroup
	results := make([]runResult, 2)
	outs := []string{t.TempDir(), t.TempDir()}
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runValidate(t, "run", "--servers", "in-process", "--out", outs[i], "--scenario", scenarios)
		}()
	}
	wg.Wait()
	var verdicts [2][]string
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("run %d: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", i+1, r.code, r.stdout, r.stderr)
		}
		data, err := os.ReadFile(filepath.Join(outs[i], "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Results []struct{ Scenario, Rule, Verdict string } `json:"results"`
		}
		if err := json.Unmarshal(data, &rep); err != nil {
			t.Fatal(err)
		}
		for _, c := range rep.Results {
			verdicts[i] = append(verdicts[i], c.Scenario+" × "+c.Rule+": "+c.Verdict)
		}
		sort.Strings(verdicts[i])
	}
	if len(verdicts[0]) == 0 || strings.Join(verdicts[0], "\n") != strings.Join(verdicts[1], "\n") {
		t.Errorf("verdicts differ:\nrun 1:\n%s\nrun 2:\n%s", strings.Join(verdicts[0], "\n"), strings.Join(verdicts[1], "\n"))
	}
}

// TestE2EC2Address gives the servers an address of the run's namespace
// that is neither loopback nor private: the attack scenario still passes
// and the telemetry's destination.ip carries that address.
func TestE2EC2Address(t *testing.T) {
	needRoot(t)
	out := t.TempDir()
	const c2 = "198.51.100.25" // TEST-NET-2, on the namespace's loopback only
	r := runValidate(t, "run", "--servers", "in-process", "--c2-address", c2, "--out", out, "--scenario", "pop3-nc-polling,single-poll")
	skipIfEnv(t, r)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	tel, err := os.ReadFile(filepath.Join(out, "telemetry.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(tel, []byte(`"ip":"`+c2+`"`)) {
		t.Errorf("telemetry.ndjson has no destination.ip %s", c2)
	}
	if bytes.Contains(tel, []byte(`"destination":{"address":"127.0.0.1"`)) {
		t.Errorf("telemetry.ndjson still has connections to 127.0.0.1")
	}
}

// TestE2EStaleStateNamed kills a run and its reaper together, so nothing
// cleans up; the next run removes what is left and names it.
func TestE2EStaleStateNamed(t *testing.T) {
	needRoot(t)
	before := readHostState(t)
	cmd, stderr := startRun(t, "--servers", "in-process", "--out", t.TempDir(), "--scenario", "pop3-nc-polling")
	waitFor(t, stderr, "sensor: ")
	pid := cmd.Process.Pid
	ino := netnsInode(pid)
	netns, _ := filepath.Glob(fmt.Sprintf("/run/netns/purpleharness-%d-*", pid))
	if len(netns) != 1 {
		t.Fatalf("run %d has namespaces %v, want one", pid, netns)
	}
	// The reaper is the child of the run that carries the marker.
	reaper := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil || ppidOf(p) != pid {
			continue
		}
		if env, _ := os.ReadFile("/proc/" + e.Name() + "/environ"); bytes.Contains(env, []byte("PURPLEHARNESS_REAPER=1")) {
			reaper = p
		}
	}
	if reaper == 0 {
		t.Fatalf("no reaper among the children of run %d", pid)
	}
	syscall.Kill(reaper, syscall.SIGKILL)
	syscall.Kill(pid, syscall.SIGKILL)
	cmd.Wait()
	if _, err := os.Stat(netns[0]); err != nil {
		t.Fatalf("with its reaper killed too, the run's namespace should stay until the next start: %v", err)
	}
	// The next start cleans up and says what, by name.
	r := runValidate(t, "run", "--servers", "in-process", "--out", t.TempDir(), "--scenario", "single-poll")
	skipIfEnv(t, r)
	if r.code != 0 {
		t.Fatalf("next run: exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	wants := []string{"stale state of dead runs removed:", "netns " + netns[0]}
	if strings.Contains(stderr.String(), "sensor: kernel audit") {
		wants = append(wants, fmt.Sprintf("audit rules (key purpleharness) of dead run %d", pid))
	}
	for _, want := range wants {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("next run's stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	waitClean(t, "after the next start", pid, ino, before, stderr)
}
