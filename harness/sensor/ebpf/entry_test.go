//go:build linux

package ebpf

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/fakemail/container"
	"github.com/purpleharness/purpleharness/prereq"
)

// TestEntryLeaders runs real sessions under the sensor. A copy of bash named
// sshd starts a shell in a new session (setsid): that shell leads an entry
// of type sshd (sensor.DecideEntry), its child inherits it with the shell
// as leader, and the "sshd" itself, in the test's session, shares the
// test's entry leader with any other child of the test.
func TestEntryLeaders(t *testing.T) {
	s := start(t, Config{})
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("needs bash:", err)
	}
	img, err := os.ReadFile(bash)
	if err != nil {
		t.Fatal(err)
	}
	sshd := filepath.Join(t.TempDir(), "sshd")
	if err := os.WriteFile(sshd, img, 0o755); err != nil {
		t.Fatal(err)
	}
	fake := exec.Command(sshd, "-c", `setsid bash -c 'sleep 0.2; true'; true`)
	if out, err := fake.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", sshd, err, out)
	}
	plain := exec.Command("bash", "-c", "sleep 0.1; true")
	if out, err := plain.CombinedOutput(); err != nil {
		t.Fatalf("bash: %v: %s", err, out)
	}
	syncNow(t, s)

	execs := map[int]ecs.Process{} // pid -> the process after its last exec
	for _, o := range s.Observations() {
		if o.Exec != nil {
			execs[o.Exec.Process.PID] = o.Exec.Process
		}
	}
	var shell, child ecs.Process
	for _, p := range execs {
		if p.Name() == "bash" && p.PPID == fake.Process.Pid {
			shell = p
		}
	}
	for _, p := range execs {
		if p.Name() == "sleep" && shell.PID != 0 && p.PPID == shell.PID {
			child = p
		}
	}
	if shell.PID == 0 || child.PID == 0 {
		t.Fatalf("no exec of the new session's bash (%d) or its sleep (%d) under pid %d", shell.PID, child.PID, fake.Process.Pid)
	}
	leader := func(p ecs.Process) string {
		if p.EntryLeader == nil {
			return "none"
		}
		l := p.EntryLeader
		return string(l.EntryMeta.Type) + " " + l.Name() + "[" + strconv.Itoa(l.PID) + "]"
	}
	if got, want := leader(shell), "sshd bash["+strconv.Itoa(shell.PID)+"]"; got != want {
		t.Errorf("the new session's shell: entry leader %s, want %s (itself)", got, want)
	}
	if got, want := leader(child), "sshd bash["+strconv.Itoa(shell.PID)+"]"; got != want {
		t.Errorf("its child: entry leader %s, want %s", got, want)
	}
	if l := child.EntryLeader; l != nil && (l.Parent == nil || l.Parent.PID != fake.Process.Pid) {
		t.Errorf("the entry leader's parent = %+v, want the sshd (pid %d)", l.Parent, fake.Process.Pid)
	}
	if l := child.EntryLeader; l != nil && !l.Start.Equal(shell.Start) {
		t.Errorf("the entry leader's start %v, the shell's %v", l.Start, shell.Start)
	}

	outer, ok := execs[fake.Process.Pid]
	other, ok2 := execs[plain.Process.Pid]
	if !ok || !ok2 {
		t.Fatalf("no exec of the sshd (%v) or of the plain bash (%v)", ok, ok2)
	}
	if a, b := leader(outer), leader(other); a != b {
		t.Errorf("two children of the test: entry leaders %s and %s", a, b)
	}
	t.Logf("this test's entry leader: %s", leader(other))
}

// TestControllingTerminal runs a command on a pseudo-terminal (script(1)):
// the sensor names the terminal as audit does ("pts<n>"), and script itself
// has the test's (as /proc names it; "(none)" when it has none).
func TestControllingTerminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("needs script(1) (util-linux):", err)
	}
	s := start(t, Config{})
	cmd := exec.Command("script", "-qec", "sleep 0.1", "/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("script: %v: %s", err, out)
	}
	syncNow(t, s)
	var onPTS, script ecs.Process
	for _, o := range s.Observations() {
		if o.Exec == nil {
			continue
		}
		switch p := o.Exec.Process; {
		case p.PID == cmd.Process.Pid:
			script = p
		case p.Name() == "sleep" && onPTS.PID == 0:
			onPTS = p
		}
	}
	self, ok := readProc(os.Getpid())
	if !ok {
		t.Fatal("cannot read /proc/self")
	}
	if want := ttyName(self.ttyMajor, self.ttyMinor); script.TTY != want {
		t.Errorf("script itself has terminal %q, want the test's, %q", script.TTY, want)
	}
	if !strings.HasPrefix(onPTS.TTY, "pts") {
		t.Errorf("the command under script has terminal %q, want pts<n> (%+v)", onPTS.TTY, onPTS)
	}
}

// TestEntryLeaderInContainer starts the mail servers' container (our
// FROM-scratch image, run by Docker) under a sensor that watches every
// process: the container's first process leads an entry of type container
// (its parent is the container runtime, sensor.DecideEntry), the entry
// Elastic's rules test with process.entry_leader.entry_meta.type ==
// "container".
func TestEntryLeaderInContainer(t *testing.T) {
	s := start(t, Config{AllProcesses: true})
	bin := filepath.Join(t.TempDir(), "validate")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/validate").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := container.Start(ctx, container.Options{Ephemeral: true, Binary: bin})
	if err != nil {
		prereq.SkipOrFail(t, err)
	}
	id := srv.ContainerID()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	syncNow(t, s)
	var served []ecs.Process
	for _, o := range s.Observations() {
		if o.Exec != nil && slices.Contains(o.Exec.Process.Args, "serve-mail") {
			served = append(served, o.Exec.Process)
		}
	}
	if len(served) == 0 {
		t.Fatalf("no exec of the container's serve-mail (container %.12s)", id)
	}
	for _, p := range served {
		if p.Parent != nil {
			t.Logf("container process %d %v, parent %s (%d)", p.PID, p.Args, p.Parent.Name(), p.Parent.PID)
		}
		l := p.EntryLeader
		if l == nil || l.EntryMeta.Type != ecs.EntryContainer || l.PID != p.PID {
			t.Errorf("the container's process %d (%v, parent %+v): entry leader %+v, want itself, type container", p.PID, p.Args, p.Parent, l)
		}
	}
}
