package sensor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/prereq"
)

// startSensor starts a sensor for a test or skips, naming what is missing.
func startSensor(t testing.TB, cfg Config) *Sensor {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg)
	if s != nil {
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	prereq.SkipOrFail(t, err) // only what the machine lacks skips
	return s
}

func lookPath(t testing.TB, name string) string {
	t.Helper()
	return prereq.LookPath(t, name)
}

func syncSensor(t testing.TB, s *Sensor) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

// run runs a command to completion and returns its pid.
func run(t testing.TB, name string, args ...string) int {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return cmd.Process.Pid
}

// connectsTo returns the connection attempts to port made by pid.
func connectsTo(obs []Observation, pid int, port uint16) []*ecs.Connect {
	var out []*ecs.Connect
	for _, o := range obs {
		if o.Connect != nil && o.Connect.Process.PID == pid && o.Connect.Dest.Port() == port {
			out = append(out, o.Connect)
		}
	}
	return out
}

func execsOf(obs []Observation, pid int) []*ecs.Exec {
	var out []*ecs.Exec
	for _, o := range obs {
		if o.Exec != nil && o.Exec.Process.PID == pid {
			out = append(out, o.Exec)
		}
	}
	return out
}

func dump(obs []Observation) string {
	var b strings.Builder
	for _, o := range obs {
		p := o.Process()
		switch {
		case o.Exec != nil:
			fmt.Fprintf(&b, "  #%d exec pid=%d ppid=%d exe=%s args=%q\n", o.Serial(), p.PID, p.PPID, p.Executable, p.Args)
		case o.Connect != nil:
			fmt.Fprintf(&b, "  #%d connect pid=%d exe=%s dest=%s result=%q transport=%q\n", o.Serial(), p.PID, p.Executable, o.Connect.Dest, o.Connect.Result, o.Connect.Transport)
		}
	}
	return b.String()
}

// freePort returns a loopback port nothing listens on (bound then closed).
func freePort(t testing.TB) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return uint16(port)
}

// TestClients runs real clients against loopback ports and checks each
// connection attempt appears exactly once with the client's own identity.
func TestClients(t *testing.T) {
	s := startSensor(t, Config{})
	loopback := netip.MustParseAddr("127.0.0.1")
	dead := freePort(t)
	cases := []struct {
		name   string
		client string
		args   []string
		port   uint16
	}{
		{"curl to imap", "curl", []string{"-s", "--max-time", "2", "imap://127.0.0.1:143/"}, 143},
		{"nc to pop3", "nc", []string{"-z", "-w", "1", "127.0.0.1", "110"}, 110},
		{"bash /dev/tcp to smtp", "bash", []string{"-c", "exec 3<>/dev/tcp/127.0.0.1/25"}, 25},
		{"nothing listens", "bash", []string{"-c", fmt.Sprintf("echo > /dev/tcp/127.0.0.1/%d", dead)}, dead},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bin := lookPath(t, tc.client)
			real, err := filepath.EvalSymlinks(bin)
			if err != nil {
				t.Fatal(err)
			}
			pid := run(t, bin, tc.args...)
			syncSensor(t, s)
			obs := s.Observations()
			got := connectsTo(obs, pid, tc.port)
			if len(got) != 1 {
				t.Fatalf("%s %v (pid %d): %d connects to port %d, want 1; observations:\n%s", tc.client, tc.args, pid, len(got), tc.port, dump(obs))
			}
			c := got[0]
			if c.Dest.Addr() != loopback {
				t.Errorf("dest = %s, want 127.0.0.1:%d", c.Dest, tc.port)
			}
			// The kernel reports the resolved image (nc is a symlink to
			// nc.openbsd on Debian), as Elastic Defend does.
			if c.Process.Executable != real {
				t.Errorf("process.executable = %q, want %q", c.Process.Executable, real)
			}
			if c.Process.PPID != os.Getpid() {
				t.Errorf("ppid = %d, want the test process %d", c.Process.PPID, os.Getpid())
			}
			if c.Transport != ecs.TCP {
				t.Errorf("transport = %q, want tcp", c.Transport)
			}
			if c.Process.Start.IsZero() {
				t.Errorf("process start unknown")
			}
			if ex := execsOf(obs, pid); len(ex) != 1 {
				t.Errorf("%d exec events for pid %d, want 1", len(ex), pid)
			}
			if tc.port == dead && c.Result != "ECONNREFUSED" {
				t.Errorf("result = %q, want ECONNREFUSED", c.Result)
			}
		})
	}
	if st := s.Stats(); st.Lost() != 0 {
		t.Errorf("lost events: %s", st)
	}
}

// TestEntityIdentity checks process instance identity as entity ids need
// it: three connections from one process share one instance, three
// processes are three instances, and a child's parent is its parent's
// instance (so process.parent.entity_id links to the parent's entity_id).
func TestEntityIdentity(t *testing.T) {
	bash := lookPath(t, "bash")
	s := startSensor(t, Config{})
	port := freePort(t)
	target := fmt.Sprintf("/dev/tcp/127.0.0.1/%d", port)

	t.Run("one process, three connections", func(t *testing.T) {
		// echo is a builtin: bash opens all three sockets itself.
		pid := run(t, bash, "-c", fmt.Sprintf("echo >%[1]s; echo >%[1]s; echo >%[1]s; true", target))
		syncSensor(t, s)
		got := connectsTo(s.Observations(), pid, port)
		if len(got) != 3 {
			t.Fatalf("%d connects from pid %d, want 3", len(got), pid)
		}
		for _, c := range got[1:] {
			if c.Process.PID != got[0].Process.PID || !c.Process.Start.Equal(got[0].Process.Start) {
				t.Errorf("instance (%d, %v) differs from (%d, %v)", c.Process.PID, c.Process.Start, got[0].Process.PID, got[0].Process.Start)
			}
			if a, b := ecs.EndpointEntityID("a", &c.Process), ecs.EndpointEntityID("a", &got[0].Process); a != b {
				t.Errorf("entity ids differ within one process: %s vs %s", a, b)
			}
		}
	})

	t.Run("three processes", func(t *testing.T) {
		ids := map[string]int{}
		for range 3 {
			pid := run(t, bash, "-c", fmt.Sprintf("echo >%s; true", target))
			syncSensor(t, s)
			got := connectsTo(s.Observations(), pid, port)
			if len(got) != 1 {
				t.Fatalf("%d connects from pid %d, want 1", len(got), pid)
			}
			ids[ecs.SysmonProcessGUID("m", &got[0].Process)] = pid
			ids[ecs.EndpointEntityID("a", &got[0].Process)] = pid
		}
		if len(ids) != 6 {
			t.Errorf("three processes gave %d distinct entity ids across two schemes, want 6: %v", len(ids), ids)
		}
	})

	t.Run("parent and child", func(t *testing.T) {
		curl := lookPath(t, "curl")
		// "; true" keeps bash from exec'ing curl in its own process.
		parent := run(t, bash, "-c", fmt.Sprintf("%s -s --max-time 1 telnet://127.0.0.1:%d; true", curl, port))
		syncSensor(t, s)
		obs := s.Observations()
		pexec := execsOf(obs, parent)
		if len(pexec) != 1 {
			t.Fatalf("%d execs of bash pid %d, want 1", len(pexec), parent)
		}
		var child *ecs.Connect
		for _, o := range obs {
			if o.Connect != nil && o.Connect.Process.PPID == parent && o.Connect.Dest.Port() == port {
				child = o.Connect
			}
		}
		if child == nil {
			t.Fatalf("no connect from a child of %d:\n%s", parent, dump(obs))
		}
		if child.Process.Parent == nil {
			t.Fatalf("child %d has no parent instance", child.Process.PID)
		}
		want := ecs.EndpointEntityID("a", &pexec[0].Process)
		if got := ecs.EndpointEntityID("a", child.Process.Parent); got != want {
			t.Errorf("child's parent entity id %s, parent's own %s", got, want)
		}
		if cexec := execsOf(obs, child.Process.PID); len(cexec) != 1 || cexec[0].Process.Parent == nil || cexec[0].Process.Parent.PID != parent {
			t.Errorf("curl's exec does not name bash %d as parent", parent)
		}
		if len(child.Process.Args) == 0 || !strings.HasSuffix(child.Process.Args[0], "curl") {
			t.Errorf("curl's args = %q", child.Process.Args)
		}
	})
}

// acceptedConn is a Peer from a real accepted connection.
type acceptedConn struct {
	at            time.Time
	local, remote netip.AddrPort
}

func (a acceptedConn) AcceptTime() time.Time      { return a.at }
func (a acceptedConn) LocalAddr() netip.AddrPort  { return a.local }
func (a acceptedConn) RemoteAddr() netip.AddrPort { return a.remote }

// TestJoinAccepted connects with nc (non-blocking: EINPROGRESS) to a real
// listener and joins the accept: the attempt becomes established with the
// client's source port.
func TestJoinAccepted(t *testing.T) {
	nc := lookPath(t, "nc")
	s := startSensor(t, Config{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	peers := make(chan Peer, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		peers <- acceptedConn{time.Now(), c.LocalAddr().(*net.TCPAddr).AddrPort(), c.RemoteAddr().(*net.TCPAddr).AddrPort()}
		c.Close()
	}()
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	pid := run(t, nc, "-z", "-w", "2", "127.0.0.1", strconv.Itoa(int(port)))
	var peer Peer
	select {
	case peer = <-peers:
	case <-time.After(5 * time.Second):
		t.Fatal("listener saw no connection")
	}
	syncSensor(t, s)
	conns := connectsTo(s.Observations(), pid, port)
	if len(conns) != 1 {
		t.Fatalf("%d connects from nc, want 1", len(conns))
	}
	if conns[0].Result != "EINPROGRESS" {
		t.Logf("nc's connect returned %q (expected EINPROGRESS from a non-blocking connect)", conns[0].Result)
	}
	if un := Join(conns, []Peer{peer}); len(un) != 0 {
		t.Fatalf("accept at %v not joined to connect at %v", peer.AcceptTime(), conns[0].Time)
	}
	if !conns[0].Established || conns[0].Source != peer.RemoteAddr() {
		t.Errorf("after Join: established=%v source=%s, want true and %s", conns[0].Established, conns[0].Source, peer.RemoteAddr())
	}
}

// TestExecChain: bash that sleeps, then execs curl in the same pid, is one
// instance (Elastic Defend keeps the entity id and start through exec):
// both execs carry the fork's Start, curl's lists bash under Previous, and
// curl's connection belongs to that same instance.
func TestExecChain(t *testing.T) {
	bash, curl := lookPath(t, "bash"), lookPath(t, "curl")
	s := startSensor(t, Config{})
	pid := run(t, bash, "-c", "sleep 0.3; exec "+curl+" -s --max-time 1 imap://127.0.0.1:143/")
	syncSensor(t, s)
	obs := s.Observations()
	ex := execsOf(obs, pid)
	if len(ex) != 2 {
		t.Fatalf("%d execs in pid %d, want bash then curl:\n%s", len(ex), pid, dump(obs))
	}
	if !ex[1].Process.Start.Equal(ex[0].Process.Start) {
		t.Errorf("curl's instance start %v differs from bash's %v (an exec keeps the instance)", ex[1].Process.Start, ex[0].Process.Start)
	}
	if !ex[0].Process.Start.Before(ex[0].Time) {
		t.Errorf("bash's start %v not before its exec at %v: want the fork time", ex[0].Process.Start, ex[0].Time)
	}
	if prev := ex[1].Process.Previous; len(prev) == 0 || prev[len(prev)-1].Executable != ex[0].Process.Executable {
		t.Errorf("curl's Previous = %+v, want it to end with bash (%s)", prev, ex[0].Process.Executable)
	}
	c := connectsTo(obs, pid, 143)
	if len(c) != 1 {
		t.Fatalf("%d connects, want 1", len(c))
	}
	if !c[0].Process.Start.Equal(ex[1].Process.Start) || c[0].Process.Name() != "curl" {
		t.Errorf("connect attributed to instance (%s, %v), want curl's (%v)", c[0].Process.Name(), c[0].Process.Start, ex[1].Process.Start)
	}
}

// TestScope checks what is recorded: the harness's own connections are
// infrastructure (left out unless KeepInfra); processes outside the tracked
// tree are left out unless AllProcesses.
func TestScope(t *testing.T) {
	curl := lookPath(t, "curl")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	selfDial := func() {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	cases := []struct {
		name      string
		cfg       Config
		wantSelf  bool // the test process's own dial
		wantChild bool // a curl child
	}{
		{"default", Config{}, false, true},
		{"keep infra", Config{KeepInfra: true}, true, true},
		{"keep infra multicast", Config{KeepInfra: true, Multicast: true}, true, true},
		{"other root", Config{Roots: []int{1 << 30}}, false, false},
		{"all processes", Config{Roots: []int{1 << 30}, AllProcesses: true}, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startSensor(t, tc.cfg)
			selfDial()
			child := run(t, curl, "-s", "--max-time", "1", fmt.Sprintf("telnet://127.0.0.1:%d", port))
			syncSensor(t, s)
			obs := s.Observations()
			self := connectsTo(obs, os.Getpid(), port)
			wantSelf := tc.wantSelf
			if !s.Stats().Multicast {
				// The kernel never audits the registered audit daemon's
				// own syscalls (auditd_test_task), so as the unicast
				// reader our own dial produces no record at all.
				wantSelf = false
			}
			if got := len(self) > 0; got != wantSelf {
				t.Errorf("own dial recorded = %v, want %v:\n%s", got, tc.wantSelf, dump(obs))
			}
			for _, o := range obs {
				if o.Connect != nil && o.Connect.Process.PID == os.Getpid() && !o.Infra {
					t.Errorf("own dial not tagged as infrastructure")
				}
			}
			if got := len(connectsTo(obs, child, port)) == 1; got != tc.wantChild {
				t.Errorf("child curl recorded = %v, want %v:\n%s", got, tc.wantChild, dump(obs))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestMaxObservations: past the bound observations are dropped, counted,
// and the capture reports itself lossy.
func TestMaxObservations(t *testing.T) {
	bash := lookPath(t, "bash")
	s := startSensor(t, Config{MaxObservations: 2})
	port := freePort(t)
	run(t, bash, "-c", fmt.Sprintf("for i in 1 2 3; do echo >/dev/tcp/127.0.0.1/%d; done; true", port))
	syncSensor(t, s)
	st := s.Stats()
	if n := len(s.Observations()); n != 2 {
		t.Errorf("%d observations held, want the bound 2", n)
	}
	if st.Dropped != 2 || st.Lost() < 2 {
		t.Errorf("stats %s: want 2 dropped (bash exec + 3 connects - 2) counted as lost", st)
	}
}

// TestAddInfra tags a process started after the sensor (as a mail server
// container would be) and leaves its connections out.
func TestAddInfra(t *testing.T) {
	bash := lookPath(t, "bash")
	s := startSensor(t, Config{})
	port := freePort(t)
	cmd := exec.Command(bash, "-c", fmt.Sprintf("read line; echo >/dev/tcp/127.0.0.1/%d; true", port))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s.AddInfra(cmd.Process.Pid)
	fmt.Fprintln(stdin)
	_ = cmd.Wait()
	syncSensor(t, s)
	if got := connectsTo(s.Observations(), cmd.Process.Pid, port); len(got) != 0 {
		t.Errorf("connection of an infrastructure process recorded: %+v", got[0])
	}
	if st := s.Stats(); st.Filtered == 0 {
		t.Errorf("nothing filtered: %s", st)
	}
}
