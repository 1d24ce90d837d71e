package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/prereq"
)

func TestMain(m *testing.M) {
	if IsReaper() {
		os.Exit(ReapMain(nil))
	}
	if os.Getenv("SANDBOX_TEST_HELPER") == "1" {
		os.Exit(helper())
	}
	os.Exit(m.Run())
}

func needRoot(t *testing.T) {
	t.Helper()
	prereq.NeedRoot(t, "network namespaces, cgroups")
}

func newSandbox(t *testing.T, opts Options) *Sandbox {
	t.Helper()
	s, err := New(opts)
	if s != nil {
		t.Cleanup(func() { s.Close() })
	}
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// dial runs bash's /dev/tcp inside the sandbox against addr and returns
// what it read.
func dialInside(t *testing.T, s *Sandbox, addr netip.AddrPort) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%d && head -c 5 <&3", addr.Addr(), addr.Port()))
	var out strings.Builder
	cmd.Stdout = &out
	if err := s.Start(cmd); err != nil {
		return "", err
	}
	err := cmd.Wait()
	return out.String(), err
}

func serveHello(l net.Listener) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hello")
			c.Close()
		}
	}()
}

// The namespace's 127.0.0.1 is not the host's: a port taken on the host is
// free inside, and what listens inside is unreachable from the host.
func TestNetnsOwnLoopback(t *testing.T) {
	needRoot(t)
	host, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	port := host.Addr().(*net.TCPAddr).Port
	s := newSandbox(t, Options{})
	in, err := s.Listen(context.Background(), "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("listen inside on the host's taken port %d: %v", port, err)
	}
	defer in.Close()
	serveHello(in)
	got, err := dialInside(t, s, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
	if err != nil || got != "hello" {
		t.Fatalf("inside: got %q, %v; want hello from the namespace's listener", got, err)
	}
	// From the host the same address reaches the host's listener only.
	host.Close()
	if c, err := net.DialTimeout("tcp", in.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Fatalf("host reached the namespace's listener at %s", in.Addr())
	}
	if _, err := os.Stat(s.Netns.Path); err != nil || !strings.HasPrefix(s.Netns.Name, Prefix) {
		t.Fatalf("namespace name %q at %s: %v", s.Netns.Name, s.Netns.Path, err)
	}
}

// A C2 address is added to the namespace's loopback: servers listen on it
// and scenario processes reach it there, with no route out.
func TestC2Address(t *testing.T) {
	needRoot(t)
	c2 := netip.MustParseAddr("198.51.100.25")
	s := newSandbox(t, Options{C2: c2})
	l, err := s.Listen(context.Background(), "tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	serveHello(l)
	ap := netip.MustParseAddrPort(l.Addr().String())
	if ap.Addr() != c2 {
		t.Fatalf("listener on %s, want %s", ap, c2)
	}
	got, err := dialInside(t, s, ap)
	if err != nil || got != "hello" {
		t.Fatalf("inside: got %q, %v", got, err)
	}
	// The host has no such address (never dialled from the host: that
	// would take a route out).
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr() == c2 {
			t.Fatalf("the host has %s too", c2)
		}
	}
}

// A process that detached itself (setsid, double fork) is still in the
// cgroup, and Close kills it.
func TestCgroupKillsDetached(t *testing.T) {
	needRoot(t)
	s := newSandbox(t, Options{})
	if s.Cgroup == nil {
		prereq.Skip(t, prereq.Cgroup, s.NoCgroup)
	}
	cmd := exec.Command("sh", "-c", "setsid sh -c 'sleep 300 & echo $!' </dev/null")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(cmd); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	cmd.Wait()
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("no pid from the detached sleep: %q", line)
	}
	if !pidIn(s.Cgroup.PIDs(), pid) {
		t.Fatalf("detached sleep %d not in cgroup (%v)", pid, s.Cgroup.PIDs())
	}
	path := s.Cgroup.Path
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if syscall.Kill(pid, 0) == nil && !zombie(pid) {
		t.Fatalf("detached sleep %d survived Close", pid)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("cgroup %s still there: %v", path, err)
	}
}

func pidIn(pids []int, pid int) bool {
	for _, p := range pids {
		if p == pid {
			return true
		}
	}
	return false
}

func zombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}

// helper is a run in miniature: a sandbox, a reaper told of it, a scenario
// process, a temp dir; it prints their names and waits to be killed.
func helper() int {
	s, err := New(Options{C2: netip.MustParseAddr("198.51.100.26")})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	r, err := StartReaper()
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	dir, _ := TempDir("test")
	r.Add(s.Items()...)
	r.Add(Item{Kind: KindDir, Name: dir})
	cmd := exec.Command("sleep", "300")
	if err := s.Start(cmd); err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Printf("ready %s %s %s %d %d\n", s.Netns.Path, s.Cgroup.Path, dir, cmd.Process.Pid, r.PID())
	select {}
}

// SIGKILL the run: the reaper removes the namespace, the cgroup with its
// processes and the temp dir.
func TestReaperAfterSIGKILL(t *testing.T) {
	needRoot(t)
	if _, err := cgroup2Root(); err != nil {
		prereq.Skip(t, prereq.Cgroup, err.Error())
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SANDBOX_TEST_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if len(f) != 6 || f[0] != "ready" {
		cmd.Process.Kill()
		t.Fatalf("helper: %q", line)
	}
	netns, cg, dir := f[1], f[2], f[3]
	sleepPID, _ := strconv.Atoi(f[4])
	reaperPID, _ := strconv.Atoi(f[5])
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left []string
		for _, p := range []string{netns, cg, dir} {
			if _, err := os.Stat(p); err == nil {
				left = append(left, p)
			}
		}
		if syscall.Kill(sleepPID, 0) == nil && !zombie(sleepPID) {
			left = append(left, "sleep "+strconv.Itoa(sleepPID))
		}
		if syscall.Kill(reaperPID, 0) == nil && !zombie(reaperPID) {
			left = append(left, "reaper "+strconv.Itoa(reaperPID))
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after SIGKILL still there: %v\nstderr: %s", left, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), "reaper removed") || !strings.Contains(stderr.String(), filepath.Base(netns)) {
		t.Errorf("reaper did not say what it removed: %q", stderr.String())
	}
}

// State named for a dead owner is removed by the next start, by name; a
// live owner's is kept.
func TestRemoveStale(t *testing.T) {
	needRoot(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadName := fmt.Sprintf("%s%d-%d-1-test", Prefix, dead.Process.Pid, 1)
	deadDir := filepath.Join(os.TempDir(), deadName)
	if err := os.Mkdir(deadDir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(deadDir) })
	live, err := TempDir("live")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(live) })
	removed, err := RemoveStale()
	if err != nil {
		t.Fatal(err)
	}
	if !contains(removed, "temp dir "+deadDir) {
		t.Errorf("RemoveStale() = %v, want it to name %s", removed, deadDir)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("live run's dir removed: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
