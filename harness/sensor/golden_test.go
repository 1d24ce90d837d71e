package sensor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
)

var (
	update  = flag.Bool("update", false, "rewrite golden files under testdata/")
	capture = flag.Bool("capture", false, "re-capture the raw audit records under testdata/capture/ (root)")
)

// The golden tests render audit records captured on a real kernel
// (testdata/capture/*.log, audit.log form) through the raw→observation step
// and ecs.Renderer into each profile, and compare with
// testdata/golden/<scenario>.<profile>.ndjson. Host and agent are fixed so
// the output depends only on the records.
var goldenHost = ecs.Host{
	Name: "ci-runner", Hostname: "ci-runner", ID: "3d1219c7c4c5404aaa1f6d2a48adfda4",
	Architecture: "x86_64", OSName: "Debian GNU/Linux", OSVersion: "12 (bookworm)",
	OSPlatform: "debian", OSFamily: "debian", Kernel: "6.18.44",
	IPs: []string{"192.0.2.2"}, MACs: []string{"02-FC-00-00-00-01"},
}

var goldenAgent = ecs.Agent{ID: "b6e3f1d2-8c4a-4e59-9a71-2f0c5d3e8a10", Name: "ci-runner"}

type fixedUsers map[int]string

func (u fixedUsers) user(uid int) string  { return u[uid] }
func (u fixedUsers) group(gid int) string { return u[gid] }

// readCapture reads an audit.log-form file into events, grouped by serial
// in order of first appearance.
func readCapture(t *testing.T, path string) [][]Record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var order []uint64
	groups := map[uint64][]Record{}
	for i, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		r, err := ParseLogLine(line, i+1)
		if err != nil {
			t.Fatalf("%s:%v", path, err)
		}
		_, serial, _, _ := r.header()
		if _, ok := groups[serial]; !ok {
			order = append(order, serial)
		}
		groups[serial] = append(groups[serial], r)
	}
	out := make([][]Record, 0, len(order))
	for _, s := range order {
		out = append(out, groups[s])
	}
	return out
}

// observe runs captured events through the parser and tracker as the
// sensor would (all processes, no /proc: the processes are long gone).
func observe(t *testing.T, events [][]Record) []Observation {
	t.Helper()
	tr := newTracker(true, nil, nil, nil, fixedUsers{0: "root"})
	var obs []Observation
	for _, recs := range events {
		ev, err := parseEvent(recs)
		if err != nil {
			t.Fatalf("parse event: %v", err)
		}
		if o, ok := tr.handle(ev); ok {
			obs = append(obs, o)
		}
	}
	return obs
}

func TestGolden(t *testing.T) {
	if *capture {
		captureScenarios(t)
	}
	files, err := filepath.Glob("testdata/capture/*.log")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captured records under testdata/capture (%v)", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".log")
		obs := observe(t, readCapture(t, file))
		if len(obs) == 0 {
			t.Errorf("%s: no observations", file)
		}
		for _, p := range ecs.Profiles {
			t.Run(name+"/"+string(p), func(t *testing.T) {
				r := ecs.Renderer{Profile: p, Host: goldenHost, Agent: goldenAgent}
				var buf bytes.Buffer
				for _, o := range obs {
					var d ecs.Document
					var err error
					if o.Exec != nil {
						d, err = r.Exec(*o.Exec)
					} else {
						d, err = r.Connect(*o.Connect)
					}
					var ne *ecs.NotEmittedError
					if errors.As(err, &ne) {
						fmt.Fprintf(&buf, "# serial %d not emitted: %s\n", o.Serial(), ne.Reason)
						continue
					}
					if err != nil {
						t.Fatalf("render serial %d: %v", o.Serial(), err)
					}
					line, err := json.Marshal(d)
					if err != nil {
						t.Fatal(err)
					}
					buf.Write(line)
					buf.WriteByte('\n')
				}
				golden := filepath.Join("testdata", "golden", name+"."+string(p)+".ndjson")
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update)", err)
				}
				if !bytes.Equal(buf.Bytes(), want) {
					t.Errorf("rendering of %s differs from %s (run with -update and review the diff):\n%s", file, golden, firstDiff(buf.String(), string(want)))
				}
			})
		}
	}
}

// TestCapturedLongArgument: the kernel split a 14,000-byte argument over
// several EXECVE fields and records; it must come back whole.
func TestCapturedLongArgument(t *testing.T) {
	obs := observe(t, readCapture(t, filepath.Join("testdata", "capture", "echo-long-arg.log")))
	want := strings.Repeat("purpleharness-", 1000)
	for _, o := range obs {
		if o.Exec != nil && strings.HasSuffix(o.Exec.Process.Executable, "/echo") {
			if len(o.Exec.Process.Args) != 2 || o.Exec.Process.Args[1] != want {
				t.Fatalf("echo's args: %d of them, second %d bytes; want 2, %d bytes", len(o.Exec.Process.Args), len(o.Exec.Process.Args[1]), len(want))
			}
			return
		}
	}
	t.Fatal("no exec of echo in the capture")
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d\n got: %s\nwant: %s", i+1, a, b)
		}
	}
	return ""
}

// TestCapturedFields pins what the raw→observation step extracts from the
// captured records, independent of any profile.
func TestCapturedFields(t *testing.T) {
	cases := []struct {
		file      string
		exe       string
		port      uint16
		result    string
		transport ecs.Transport
	}{
		{"curl-imap", "/usr/bin/curl", 143, "EINPROGRESS", ecs.TCP},
		{"nc-pop3", "/usr/bin/nc.openbsd", 110, "EINPROGRESS", ecs.TCP},
		{"bash-devtcp-smtp", "/usr/bin/bash", 25, "ECONNREFUSED", ecs.TCP},
		{"curl-ipv6", "/usr/bin/curl", 143, "EINPROGRESS", ecs.TCP},
		{"bash-devudp-dns", "/usr/bin/bash", 53, "", ecs.UDP},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			obs := observe(t, readCapture(t, filepath.Join("testdata", "capture", tc.file+".log")))
			var conns []*ecs.Connect
			for _, o := range obs {
				if o.Connect != nil && o.Connect.Dest.Port() == tc.port {
					conns = append(conns, o.Connect)
				}
			}
			if len(conns) != 1 {
				t.Fatalf("%d connects to port %d, want 1", len(conns), tc.port)
			}
			c := conns[0]
			if c.Process.Executable != tc.exe || c.Result != tc.result || c.Transport != tc.transport {
				t.Errorf("connect = exe %q result %q transport %q, want %q %q %q", c.Process.Executable, c.Result, c.Transport, tc.exe, tc.result, tc.transport)
			}
			if c.Process.PID == 0 || c.Process.PPID == 0 || c.Process.Start.IsZero() || len(c.Process.Args) == 0 {
				t.Errorf("process identity incomplete: %+v", c.Process)
			}
			if c.Process.User != "root" {
				t.Errorf("user = %q, want root", c.Process.User)
			}
		})
	}
}

// captureScenarios runs each scenario under a sensor and stores the raw
// records of the scenario's processes (and nothing else from the host).
func captureScenarios(t *testing.T) {
	scenarios := []struct {
		name string
		argv []string
	}{
		{"curl-imap", []string{"curl", "-s", "--max-time", "1", "imap://127.0.0.1:143/"}},
		{"nc-pop3", []string{"nc", "-z", "-w", "1", "127.0.0.1", "110"}},
		{"bash-devtcp-smtp", []string{"bash", "-c", "echo > /dev/tcp/127.0.0.1/25"}},
		{"curl-ipv6", []string{"curl", "-s", "--max-time", "1", "imap://[::1]:143/"}},
		{"bash-parent-curl", []string{"bash", "-c", "curl -s --max-time 1 imap://127.0.0.1:143/; echo >/dev/tcp/127.0.0.1/110; echo >/dev/tcp/127.0.0.1/110; true"}},
		{"bash-devudp-dns", []string{"bash", "-c", "echo > /dev/udp/127.0.0.1/53"}},
		// An argument longer than the kernel puts in one EXECVE field:
		// it arrives split as a1_len=... a1[0]=... a1[1]=...
		{"echo-long-arg", []string{"echo", strings.Repeat("purpleharness-", 1000)}},
	}
	if only := os.Getenv("PURPLEHARNESS_CAPTURE_ONLY"); only != "" {
		var keep []struct {
			name string
			argv []string
		}
		for _, sc := range scenarios {
			if strings.Contains(","+only+",", ","+sc.name+",") {
				keep = append(keep, sc)
			}
		}
		scenarios = keep
	}
	for _, sc := range scenarios {
		var raw lockedBuffer
		s := startSensor(t, Config{Raw: &raw})
		lookPath(t, sc.argv[0])
		run(t, sc.argv[0], sc.argv[1:]...)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		pids := map[string]bool{}
		for _, o := range s.Observations() {
			pids[strconv.Itoa(o.Process().PID)] = true
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		keep := keepPIDs(raw.String(), pids)
		path := filepath.Join("testdata", "capture", sc.name+".log")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(keep), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// keepPIDs keeps the events whose SYSCALL record names one of pids.
func keepPIDs(raw string, pids map[string]bool) string {
	type group struct {
		lines []string
		keep  bool
	}
	var order []string
	groups := map[string]*group{}
	sc := bufio.NewScanner(strings.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i, j := strings.Index(line, ":"), strings.Index(line, "):")
		if i < 0 || j < 0 {
			continue
		}
		serial := line[strings.LastIndex(line[:j], ":")+1 : j]
		g := groups[serial]
		if g == nil {
			g = &group{}
			groups[serial] = g
			order = append(order, serial)
		}
		g.lines = append(g.lines, line)
		if strings.HasPrefix(line, "type=SYSCALL ") {
			for f := range strings.FieldsSeq(line) {
				if v, ok := strings.CutPrefix(f, "pid="); ok && pids[v] {
					g.keep = true
				}
			}
		}
	}
	var b strings.Builder
	for _, s := range order {
		if groups[s].keep {
			for _, l := range groups[s].lines {
				b.WriteString(l + "\n")
			}
		}
	}
	return b.String()
}

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
