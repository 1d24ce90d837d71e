//go:build linux

package ebpf

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/harness/sensor"
)

// Pids far above any this machine hands out, so /proc knows none of them.
const (
	fakeRoot  = 4_190_001
	fakeShell = 4_190_002
	fakeOther = 4_190_003
)

func task(pid, ppid uint32, start, parentStart uint64, comm string) phTaskInfo {
	ti := phTaskInfo{Pid: pid, Tid: pid, Ppid: ppid, StartNs: start, ParentStartNs: parentStart,
		Pgid: pid, Sid: pid, Auid: ecs.NoID, Ses: ecs.NoID}
	copy(ti.Comm[:], comm)
	return ti
}

func execRecord(ti phTaskInfo, ktime uint64, exe string, args ...string) *phExecEvent {
	e := &phExecEvent{Kind: kindExec, Ktime: ktime, Task: ti}
	n := 0
	for _, a := range args {
		n += copy(e.Args[n:], a+"\x00")
	}
	e.ArgsLen = uint32(n)
	// Components leaf first, as the kernel side walks them.
	comps := []string{}
	for _, c := range splitPath(exe) {
		comps = append([]string{c}, comps...)
	}
	n = 0
	for _, c := range comps {
		n += copy(e.Exe[n:], c+"\x00")
	}
	e.ExeLen = uint32(n)
	n = copy(e.Cwd[:], "tmp\x00")
	e.CwdLen = uint32(n)
	return e
}

func splitPath(p string) []string {
	var out []string
	cur := ""
	for _, r := range p[1:] {
		if r == '/' {
			out = append(out, cur)
			cur = ""
			continue
		}
		cur += string(r)
	}
	return append(out, cur)
}

func sockRecord(kind uint32, ti phTaskInfo, ktime, skaddr uint64, oldst, newst int32, local, remote netip.AddrPort) *phSockEvent {
	e := &phSockEvent{Kind: kind, Ktime: ktime, Skaddr: skaddr, Oldstate: oldst, Newstate: newst,
		Family: 2, Protocol: 6, Sport: local.Port(), Dport: remote.Port(), Task: ti}
	if local.IsValid() {
		a := local.Addr().As4()
		copy(e.Saddr[:], a[:])
	}
	if remote.IsValid() {
		a := remote.Addr().As4()
		copy(e.Daddr[:], a[:])
	}
	return e
}

// TestTrackerLifecycle feeds the records of `bash -c 'sleep 1; exec curl …'`
// connecting and closing, as the kernel side writes them, and checks what
// the tracker makes of them: one instance through exec, the socket's
// states tied by skaddr across softirq context.
func TestTrackerLifecycle(t *testing.T) {
	clk := clock{bootEpoch: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	tr := newTracker(Config{Roots: []int{fakeRoot}}, clk, fakeRoot)
	const rootStart, shellStart = 1_000_000_000, 5_000_000_000
	shell := task(fakeShell, fakeRoot, shellStart, rootStart, "harness")
	var obs []sensor.Observation
	add := func(o sensor.Observation, ok bool) {
		if ok && o.InScope && !o.Infra {
			obs = append(obs, o)
		}
	}
	// The harness's own exec (infrastructure, left out) makes it known.
	add(tr.exec(execRecord(task(fakeRoot, 1, rootStart, 10, "harness"), rootStart+5, "/usr/bin/harness", "harness")))
	add(tr.proc(&phProcEvent{Kind: kindFork, Ktime: shellStart + 10, Task: shell}))
	copy(shell.Comm[:], "bash\x00\x00\x00\x00")
	add(tr.exec(execRecord(shell, shellStart+100, "/usr/bin/bash", "bash", "-c", "sleep 1; exec curl x")))
	curl := shell
	copy(curl.Comm[:], "curl\x00\x00\x00")
	add(tr.exec(execRecord(curl, shellStart+2e9, "/usr/bin/curl", "curl", "x")))

	srv := netip.MustParseAddrPort("127.0.0.1:110")
	local := netip.MustParseAddrPort("127.0.0.1:40000")
	const sk = 0xffff888812345678
	// SYN_SENT in the connecting task, port still 0.
	add(tr.sock(sockRecord(kindSockState, curl, shellStart+3e9, sk, tcpClose, tcpSynSent, netip.AddrPortFrom(local.Addr(), 0), srv)))
	// ESTABLISHED in softirq context, some other task current.
	other := task(fakeOther, 1, 7, 1, "ksoftirqd/0")
	est := sockRecord(kindSockState, other, shellStart+3e9+50, sk, tcpSynSent, tcpEstablished, local, srv)
	est.TraceFlags = 0x10
	add(tr.sock(est))
	conn := sockRecord(kindConnect, curl, shellStart+3e9+80, sk, 0, 0, local, srv)
	conn.ArgFamily, conn.ArgPort = 2, 110
	copy(conn.ArgAddr[:], []byte{127, 0, 0, 1})
	add(tr.sock(conn))
	add(tr.proc(&phProcEvent{Kind: kindExit, Ktime: shellStart + 4e9, Task: curl, ExitCode: 3 << 8}))
	fin := sockRecord(kindSockState, curl, shellStart+4e9+10, sk, tcpEstablished, tcpFinWait1, local, srv)
	fin.BytesAcked, fin.BytesReceived = 30, 200
	add(tr.sock(fin))
	// The socket's last steps change nothing.
	add(tr.sock(sockRecord(kindSockState, other, shellStart+5e9, sk, 5, tcpClose, local, srv)))

	var kinds []string
	for _, o := range obs {
		kinds = append(kinds, kindOf(o))
	}
	if want := []string{"fork", "exec", "exec", "connect", "exit", "close"}; !reflect.DeepEqual(kinds, want) {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}
	start := clk.wall(shellStart)
	for _, o := range obs {
		p := o.Process()
		if p.PID != fakeShell || !p.Start.Equal(start) {
			t.Errorf("%s: pid %d start %v, want %d %v", kindOf(o), p.PID, p.Start, fakeShell, start)
		}
		if p.Parent == nil || p.Parent.PID != fakeRoot || !p.Parent.Start.Equal(clk.wall(rootStart)) {
			t.Errorf("%s: parent %+v", kindOf(o), p.Parent)
		}
	}
	if got := obs[0].Fork.Process; got.Executable != "/usr/bin/harness" || got.Args[0] != "harness" {
		t.Errorf("the fork does not run its parent's image: %q %q", got.Executable, got.Args)
	}
	// The image inherited at fork, then bash's (RFC 0030: "including the
	// initial fork").
	if got := obs[2].Exec.Process.Previous; len(got) != 2 || got[0].Executable != "/usr/bin/harness" || got[1].Executable != "/usr/bin/bash" || got[1].Args[1] != "-c" {
		t.Errorf("curl's Previous = %+v", got)
	}
	if p := obs[2].Exec.Process; p.Executable != "/usr/bin/curl" || p.WorkingDirectory != "/tmp" || !reflect.DeepEqual(p.Args, []string{"curl", "x"}) {
		t.Errorf("curl exec: %q %q %q", p.Executable, p.WorkingDirectory, p.Args)
	}
	c := obs[3].Connect
	if c.Dest != srv || c.Source != local || !c.Established || c.Transport != ecs.TCP || !c.Time.Equal(clk.wall(shellStart+3e9)) {
		t.Errorf("connect %+v", c)
	}
	if x := obs[4].Exit; x.ExitCode != 3 || x.Signal != 0 {
		t.Errorf("exit code %d signal %d", x.ExitCode, x.Signal)
	}
	cl := obs[5].Close
	if cl.Local != local || cl.Remote != srv || cl.Direction != ecs.Egress || cl.BytesSent != 30 || cl.BytesReceived != 200 || cl.Process.Name() != "curl" {
		t.Errorf("close %+v", cl)
	}
	if _, ok := tr.socks[sk]; ok {
		t.Error("socket still tracked after CLOSE")
	}
}

// TestTrackerScope leaves out processes outside the tracked tree and the
// harness's own events.
func TestTrackerScope(t *testing.T) {
	tr := newTracker(Config{Roots: []int{fakeRoot}}, clock{}, fakeRoot)
	o, ok := tr.proc(&phProcEvent{Kind: kindFork, Task: task(fakeOther, 4_190_100, 5, 4, "x")})
	if !ok || o.InScope {
		t.Errorf("unrelated fork in scope: %+v", o)
	}
	o, _ = tr.exec(execRecord(task(fakeRoot, 1, 3, 1, "h"), 9, "/usr/bin/h", "h"))
	if !o.Infra {
		t.Error("the harness's own exec is not infrastructure")
	}
	o, _ = tr.proc(&phProcEvent{Kind: kindExit, Task: task(fakeShell, fakeRoot, 8, 3, "y"), ExitCode: 9})
	if !o.InScope || o.Exit.Signal != 9 || o.Exit.ExitCode != 0 {
		t.Errorf("killed child: %+v", o.Exit)
	}
}

func TestJoinPath(t *testing.T) {
	for _, c := range []struct {
		in, want string
	}{
		{"", ""},
		{"curl\x00bin\x00usr\x00", "/usr/bin/curl"},
		{"/\x00", "/"},
		{"x\x00", "/x"},
	} {
		if got := joinPath([]byte(c.in)); got != c.want {
			t.Errorf("joinPath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := splitArgs([]byte("a\x00\x00b\x00")); !reflect.DeepEqual(got, []string{"a", "", "b"}) {
		t.Errorf("splitArgs: %q", got)
	}
}

func kindOf(o sensor.Observation) string {
	switch {
	case o.Fork != nil:
		return "fork"
	case o.Exec != nil:
		return "exec"
	case o.Exit != nil:
		return "exit"
	case o.Connect != nil:
		return "connect"
	case o.Accept != nil:
		return "accept"
	case o.Close != nil:
		return "close"
	}
	return "?"
}
