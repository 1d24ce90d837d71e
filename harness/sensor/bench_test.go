package sensor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/purpleharness/purpleharness/prereq"
)

// burstHelper issues PURPLEHARNESS_BURST_N non-blocking connection attempts
// to 127.0.0.1:PURPLEHARNESS_BURST_PORT as fast as it can, one socket each.
func burstHelper() int {
	n, _ := strconv.Atoi(os.Getenv("PURPLEHARNESS_BURST_N"))
	port, _ := strconv.Atoi(os.Getenv("PURPLEHARNESS_BURST_PORT"))
	sa := &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
	for range n {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "socket:", err)
			return 1
		}
		_ = unix.Connect(fd, sa) // EINPROGRESS or ECONNREFUSED: both are attempts
		unix.Close(fd)
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

func cpuSelf() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuOf is a process's user+system CPU from /proc/<pid>/stat.
func cpuOf(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// auditd is Debian's audit daemon run as the anchor: foreground, its own
// config and log in a temporary directory, stopped when the test ends.
type auditd struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startAuditd(tb testing.TB) *auditd {
	tb.Helper()
	bin, err := exec.LookPath("auditd")
	if err != nil {
		prereq.Skip(tb, prereq.Tool, "auditd not installed (apt-get install auditd)")
	}
	dir := tb.TempDir()
	log := filepath.Join(dir, "audit.log")
	conf := strings.Join([]string{
		"log_file = " + log, "log_format = RAW", "flush = NONE", "freq = 0",
		"num_logs = 1", "max_log_file = 0", "max_log_file_action = IGNORE",
		"space_left = 2", "space_left_action = IGNORE", "admin_space_left = 1",
		"admin_space_left_action = IGNORE", "disk_full_action = IGNORE", "disk_error_action = IGNORE",
		"write_logs = yes", "local_events = yes", "q_depth = 80000", "overflow_action = SYSLOG",
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "auditd.conf"), []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "-n", "-s", "nochange", "-c", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("auditd: %v", err)
	}
	a := &auditd{cmd: cmd, log: log, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(a.done) }()
	tb.Cleanup(a.stop)
	// Ready when it has registered as the audit daemon.
	deadline := time.After(10 * time.Second)
	for {
		if auditPID() == cmd.Process.Pid {
			return a
		}
		select {
		case <-a.done:
			tb.Fatalf("auditd exited at start: %s", stderr.String())
		case <-deadline:
			tb.Fatalf("auditd did not register as the audit daemon: %s", stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (a *auditd) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

func auditPID() int {
	out, err := exec.Command("auditctl", "-s").Output()
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "pid "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// count returns the connect SYSCALL records of pid in auditd's log, after
// waiting for marker (the sensor's last sync message) to be written.
func (a *auditd) count(tb testing.TB, pid int, marker string) int {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(a.log)
		if bytes.Contains(b, []byte(marker)) || time.Now().After(deadline) {
			n := 0
			pidField := []byte(" pid=" + strconv.Itoa(pid) + " ")
			for line := range bytes.SplitSeq(b, []byte("\n")) {
				if bytes.HasPrefix(line, []byte("type=SYSCALL ")) && bytes.Contains(line, []byte(" syscall=42 ")) && bytes.Contains(line, pidField) {
					n++
				}
			}
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BenchmarkBurst issues 20,000 connection attempts from a child process as
// fast as the machine can, with Debian's auditd recording the same burst as
// the anchor (auditd holds the unicast stream; the sensor reads the
// multicast group, the harder case: no backpressure). Run with
//
//	go test -run '^$' -bench Burst -benchtime 1x ./harness/sensor/
//
// Metrics: captured and lost for both, events/s and CPU for both.
func BenchmarkBurst(b *testing.B) {
	for _, anchor := range []bool{false, true} {
		name := "sensor-unicast"
		if anchor {
			name = "sensor-multicast+auditd"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				benchBurst(b, 20000, anchor)
			}
		})
	}
}

func benchBurst(b *testing.B, n int, anchor bool) {
	prereq.NeedRoot(b, "CAP_AUDIT_CONTROL")
	var ad *auditd
	if anchor {
		if pid := auditPID(); pid != 0 {
			prereq.Skip(b, prereq.Audit, fmt.Sprintf("an audit daemon (pid %d) already runs; the anchor needs its own", pid))
		}
		ad = startAuditd(b)
	}
	s := startSensor(b, Config{})
	port := freePort(b)
	cpu0, adCPU0 := cpuSelf(), 0*time.Second
	if ad != nil {
		adCPU0 = cpuOf(ad.cmd.Process.Pid)
	}
	t0 := time.Now()
	pid, burstTime := burst(b, n, port)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := s.Sync(ctx); err != nil {
		b.Fatalf("Sync: %v", err)
	}
	elapsed := time.Since(t0)
	cpu := cpuSelf() - cpu0
	got := len(connectsTo(s.Drain(), pid, port))
	st := s.Stats()
	b.ReportMetric(float64(got), "captured")
	b.ReportMetric(float64(st.Lost()), "lost")
	b.ReportMetric(float64(got)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Milliseconds()), "sensor-cpu-ms")
	b.ReportMetric(float64(burstTime.Milliseconds()), "burst-ms")
	line := fmt.Sprintf("burst of %d in %v: sensor captured %d, lost %d (kernel %d, gaps %d, overruns %d), %.0f events/s, CPU %v, %s",
		n, burstTime.Round(time.Millisecond), got, st.Lost(), st.KernelLost, st.Gaps, st.Overruns, float64(got)/elapsed.Seconds(), cpu.Round(time.Millisecond), map[bool]string{true: "multicast", false: "unicast"}[st.Multicast])
	if ad != nil {
		marker := fmt.Sprintf("%s.%d", s.token, s.syncN)
		adGot := ad.count(b, pid, marker)
		adCPU := cpuOf(ad.cmd.Process.Pid) - adCPU0
		b.ReportMetric(float64(adGot), "auditd-captured")
		b.ReportMetric(float64(adCPU.Milliseconds()), "auditd-cpu-ms")
		line += fmt.Sprintf("; auditd captured %d, CPU %v", adGot, adCPU.Round(time.Millisecond))
	}
	b.Log(line)
	if got != n {
		b.Errorf("sensor captured %d of %d attempts", got, n)
	}
}

// BenchmarkParseAndTrack measures the raw→observation step alone on the
// captured records (no kernel, no /proc): the user-space cost per event.
func BenchmarkParseAndTrack(b *testing.B) {
	events := readCaptureB(b, "testdata/capture/bash-parent-curl.log")
	tr := newTracker(true, nil, nil, nil, fixedUsers{0: "root"})
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for range b.N {
		for _, recs := range events {
			ev, err := parseEvent(recs)
			if err != nil {
				b.Fatal(err)
			}
			if _, ok := tr.handle(ev); ok {
				n++
			}
		}
	}
	b.ReportMetric(float64(len(events)*b.N)/b.Elapsed().Seconds(), "events/s")
}

func readCaptureB(b *testing.B, path string) [][]Record {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var out [][]Record
	var cur []Record
	var serial uint64
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		r, err := ParseLogLine(line, i+1)
		if err != nil {
			b.Fatal(err)
		}
		_, s, _, _ := r.header()
		if len(cur) > 0 && s != serial {
			out = append(out, cur)
			cur = nil
		}
		serial = s
		cur = append(cur, r)
	}
	return append(out, cur)
}
