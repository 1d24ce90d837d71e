//go:build linux

package ebpf

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
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	cebpf "github.com/cilium/ebpf"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/prereq"
)

// helperEnv makes the test binary act as a helper process (see TestMain).
const helperEnv = "PURPLEHARNESS_EBPF_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "accept":
		os.Exit(acceptHelper())
	case "hold":
		os.Exit(holdHelper())
	case "burst":
		os.Exit(burstHelper())
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
		os.Exit(2)
	}
}

// acceptHelper listens on 127.0.0.1:0, prints the port, accepts one
// connection, writes a line and closes it.
func acceptHelper() int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	c, err := ln.Accept()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	io.WriteString(c, "+OK\r\n")
	c.Close()
	ln.Close()
	return 0
}

// holdHelper starts the sensor, prints the ids of its programs, and waits to
// be killed.
func holdHelper() int {
	s, err := Start(context.Background(), Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	fmt.Println(strings.Trim(fmt.Sprint(s.ProgramIDs()), "[]"))
	time.Sleep(time.Minute)
	return 0
}

// start starts a sensor for t, skipping with the reason when this machine
// cannot run it.
func start(t testing.TB, cfg Config) *Sensor {
	t.Helper()
	s, err := Start(context.Background(), cfg)
	if err != nil {
		prereq.SkipOrFail(t, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func syncNow(t testing.TB, s *Sensor) {
	t.Helper()
	// Generous: under -race on a loaded machine the reader of a 20,000
	// connect burst takes many seconds to catch up.
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

// listen serves one line to every connection on 127.0.0.1 and closes it.
func listen(t testing.TB) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
				bufio.NewReader(c).ReadString('\n')
				c.Close()
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

// TestShellThatExecs follows a real `bash -c 'sleep 1.2; exec curl …'`: the
// fork that made bash, bash's exec, sleep's fork, exec and exit, curl
// replacing bash in the same instance, curl's connect with both ends, the
// close of that socket, and curl's end.
func TestShellThatExecs(t *testing.T) {
	s := start(t, Config{})
	srv := listen(t)
	url := "http://" + srv.String() + "/"
	cmd := exec.Command("bash", "-c", "sleep 1.2; exec curl -s -m 5 "+url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v: %s", err, out)
	}
	syncNow(t, s)
	bash := cmd.Process.Pid
	obs := s.Observations()

	var kinds []string
	var first ecs.Process
	idx := map[string]int{}
	for i, o := range obs {
		p := o.Process()
		if p.PID != bash {
			continue
		}
		k := kindOf(o)
		kinds = append(kinds, k+":"+p.Name())
		if _, ok := idx[k]; !ok {
			idx[k] = i
		}
		if first.PID == 0 {
			first = p
		} else if !p.Start.Equal(first.Start) {
			t.Errorf("%s of pid %d has start %v, the fork's is %v", k, bash, p.Start, first.Start)
		}
	}
	// curl closes its socket before it exits, or exit closes it: either
	// order is real.
	want := []string{"fork:" + first.Name(), "exec:bash", "exec:curl", "connect:curl", "close:curl", "exit:curl"}
	if len(kinds) == 6 && kinds[4] == "exit:curl" {
		kinds[4], kinds[5] = kinds[5], kinds[4]
	}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Fatalf("pid %d: got %v, want %v", bash, kinds, want)
	}
	ex := obs[idx["exec"]+0]
	if ex.Exec.Process.Executable != "/usr/bin/bash" || ex.Exec.Process.Args[0] != "bash" {
		t.Errorf("bash exec: %+v", ex.Exec.Process)
	}
	var curl *ecs.Exec
	for _, o := range obs {
		if o.Exec != nil && o.Exec.Process.PID == bash && o.Exec.Process.Name() == "curl" {
			curl = o.Exec
		}
	}
	if got := curl.Process.Previous; len(got) < 2 || got[len(got)-1].Executable != "/usr/bin/bash" {
		t.Errorf("curl's Previous = %+v, want the bash image last", got)
	}
	if curl.Process.Parent == nil || curl.Process.Parent.PID != os.Getpid() {
		t.Errorf("curl's parent = %+v, want the test (pid %d)", curl.Process.Parent, os.Getpid())
	}

	// sleep: a fork of bash, its exec and exit.
	var sleepPID int
	for _, o := range obs {
		if o.Exec != nil && o.Exec.Process.Name() == "sleep" && o.Exec.Process.PPID == bash {
			sleepPID = o.Exec.Process.PID
			if got := o.Exec.Process.Args; strings.Join(got, " ") != "sleep 1.2" {
				t.Errorf("sleep args %q", got)
			}
		}
	}
	var sleepKinds []string
	for _, o := range obs {
		if o.Process().PID == sleepPID {
			sleepKinds = append(sleepKinds, kindOf(o))
		}
	}
	if strings.Join(sleepKinds, " ") != "fork exec exit" {
		t.Errorf("sleep (pid %d): %v, want fork exec exit", sleepPID, sleepKinds)
	}

	c := obs[idx["connect"]].Connect
	if c.Dest != srv || c.Source.Port() == 0 || c.Source.Addr() != srv.Addr() || c.Transport != ecs.TCP || !c.Established {
		t.Errorf("connect: dest %v source %v transport %q established %v", c.Dest, c.Source, c.Transport, c.Established)
	}
	cl := obs[idx["close"]].Close
	if cl.Local != c.Source || cl.Remote != srv || cl.Direction != ecs.Egress {
		t.Errorf("close: local %v remote %v direction %q; connect was %v -> %v", cl.Local, cl.Remote, cl.Direction, c.Source, c.Dest)
	}
	if cl.BytesReceived == 0 {
		t.Errorf("close: no bytes received")
	}
	x := obs[idx["exit"]].Exit
	if x.ExitCode != 0 || x.Signal != 0 {
		t.Errorf("curl exit: code %d signal %d", x.ExitCode, x.Signal)
	}
	if st := s.Stats(); st.Lost() != 0 {
		t.Errorf("lost: %v", st)
	}
}

// TestAcceptAndClose has a local process accept a connection from this
// one: the helper's accept carries both ends, and its close is an ingress
// close of the same socket.
func TestAcceptAndClose(t *testing.T) {
	s := start(t, Config{})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=accept")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(strings.TrimSpace(line))
	c, err := net.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	local := netip.MustParseAddrPort(c.LocalAddr().String())
	io.ReadAll(c)
	c.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	syncNow(t, s)
	var acc *ecs.Accept
	var cl *ecs.Close
	for _, o := range s.Observations() {
		if o.Accept != nil && o.Accept.Process.PID == cmd.Process.Pid {
			acc = o.Accept
		}
		if o.Close != nil && o.Close.Process.PID == cmd.Process.Pid {
			cl = o.Close
		}
	}
	if acc == nil || cl == nil {
		t.Fatalf("helper pid %d: accept %+v, close %+v", cmd.Process.Pid, acc, cl)
	}
	want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	if acc.Local != want || acc.Remote != local || acc.Transport != ecs.TCP {
		t.Errorf("accept: local %v remote %v (%q), want %v %v", acc.Local, acc.Remote, acc.Transport, want, local)
	}
	if cl.Local != want || cl.Remote != local || cl.Direction != ecs.Ingress || cl.BytesSent != 5 {
		t.Errorf("close: local %v remote %v direction %q sent %d", cl.Local, cl.Remote, cl.Direction, cl.BytesSent)
	}
}

// TestSIGKILLLeavesNothing kills a process holding the sensor: its
// programs, maps and links were never pinned, so they go with its fds.
func TestSIGKILLLeavesNothing(t *testing.T) {
	start(t, Config{}).Close() // skips here if BPF is unavailable
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=hold")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %v", err)
	}
	var ids []cebpf.ProgramID
	for _, f := range strings.Fields(line) {
		n, _ := strconv.Atoi(f)
		ids = append(ids, cebpf.ProgramID(n))
	}
	if len(ids) != 8 {
		t.Fatalf("helper reported programs %q", line)
	}
	for _, id := range ids {
		p, err := cebpf.NewProgramFromID(id)
		if err != nil {
			t.Fatalf("program %d of the live helper: %v", id, err)
		}
		p.Close()
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// The kernel frees programs once the last reference goes, which for
	// links can follow the exit by an RCU grace period.
	deadline := time.Now().Add(5 * time.Second)
	for _, id := range ids {
		for {
			p, err := cebpf.NewProgramFromID(id)
			if errors.Is(err, os.ErrNotExist) {
				break
			}
			if err == nil {
				p.Close()
			}
			if time.Now().After(deadline) {
				t.Fatalf("program %d still loaded after SIGKILL: %v", id, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// burstHelper makes PURPLEHARNESS_BURST_N non-blocking connection attempts
// to 127.0.0.1:PURPLEHARNESS_BURST_PORT, one socket each.
func burstHelper() int {
	n, _ := strconv.Atoi(os.Getenv("PURPLEHARNESS_BURST_N"))
	port, _ := strconv.Atoi(os.Getenv("PURPLEHARNESS_BURST_PORT"))
	sa := &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
	for range n {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "socket:", err)
			return 1
		}
		_ = syscall.Connect(fd, sa)
		syscall.Close(fd)
	}
	return 0
}

// burst runs the burst helper and returns its pid and wall time.
func burst(tb testing.TB, n int, port uint16) (int, time.Duration) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=burst",
		"PURPLEHARNESS_BURST_N="+strconv.Itoa(n), "PURPLEHARNESS_BURST_PORT="+strconv.Itoa(int(port)))
	cmd.Stderr = os.Stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		tb.Fatalf("burst helper: %v", err)
	}
	return cmd.Process.Pid, time.Since(t0)
}

// TestBurstLosesNothing makes 20,000 connection attempts as fast as one
// process can: every one is observed, none lost.
func TestBurstLosesNothing(t *testing.T) {
	s := start(t, Config{})
	srv := listen(t)
	const n = 20000
	pid, _ := burst(t, n, srv.Port())
	syncNow(t, s)
	got := 0
	for _, o := range s.Drain() {
		if o.Connect != nil && o.Connect.Process.PID == pid && o.Connect.Dest == srv {
			got++
		}
	}
	st := s.Stats()
	if got != n || st.Lost() != 0 {
		t.Errorf("%d of %d attempts observed; %v", got, n, st)
	}
}
