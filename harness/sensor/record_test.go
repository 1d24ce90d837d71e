package sensor

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-libaudit/v2/auparse"
	"github.com/purpleharness/purpleharness/ecs"
)

func TestParseLogLineErrors(t *testing.T) {
	cases := []struct {
		name, line, want string
	}{
		{"no type", "msg=audit(1.000:1): a=b", `record must start with "type=" (3:1)`},
		{"no message", "type=SYSCALL", "record type without message (3:6)"},
		{"unknown type", "type=NOPE msg=audit(1.000:1):", `unknown record type "NOPE" (3:6)`},
		{"no msg", "type=EOE audit(1.000:1):", `expected "msg=" after the record type (3:10)`},
		{"bad header", "type=EOE msg=audit1.000:1):", `record text must start with "audit(" (3:14)`},
		{"unterminated", "type=EOE msg=audit(1.000:1", `unterminated "audit(" header (3:20)`},
		{"no serial", "type=EOE msg=audit(1.000):", `header lacks ":SERIAL" (3:20)`},
		{"bad time", "type=EOE msg=audit(x.000:1):", `bad timestamp "x.000" (3:20)`},
		{"bad serial", "type=EOE msg=audit(1.000:x):", `bad serial "x" (3:26)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseLogLine(tc.line, 3)
			if err == nil {
				t.Fatalf("ParseLogLine(%q) = nil error, want %q", tc.line, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("ParseLogLine(%q)\n got: %s\nwant: %s", tc.line, err, tc.want)
			}
		})
	}
}

func TestLogLineRoundTrip(t *testing.T) {
	for _, line := range []string{
		`type=SYSCALL msg=audit(1795735140.571:256478): arch=c000003e syscall=42 success=no exit=-115`,
		`type=UNKNOWN[1999] msg=audit(1.5:7): x=y`,
		`type=EOE msg=audit(1795735140.571:256478): `,
	} {
		r, err := ParseLogLine(line, 1)
		if err != nil {
			t.Fatalf("ParseLogLine(%q): %v", line, err)
		}
		if got := r.LogLine(); got != line {
			t.Errorf("round trip of %q gave %q", line, got)
		}
	}
}

func recs(t *testing.T, lines ...string) []Record {
	t.Helper()
	var out []Record
	for i, l := range lines {
		r, err := ParseLogLine(l, i+1)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestParseEvent(t *testing.T) {
	const sys = `type=SYSCALL msg=audit(1795735140.571:42): arch=c000003e syscall=42 success=no exit=-111 a0=3 a1=55 a2=10 a3=0 items=0 ppid=10 pid=11 auid=1000 uid=1000 gid=1000 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="nc" exe="/usr/bin/nc.openbsd" key=707572706C656861726E65737301707572706C656861726E6573733A31`
	t.Run("ipv4 connect", func(t *testing.T) {
		ev, err := parseEvent(recs(t, sys,
			`type=SOCKADDR msg=audit(1795735140.571:42): saddr=0200006E7F0000010000000000000000`,
			`type=PROCTITLE msg=audit(1795735140.571:42): proctitle=6E63002D7A003132372E302E302E3100313130`))
		if err != nil {
			t.Fatal(err)
		}
		want := rawEvent{
			Time: time.Unix(1795735140, 571e6).UTC(), Serial: 42, HasSyscall: true,
			Arch: "x86_64", Syscall: "connect", Exit: -111, A: [4]uint64{3, 0x55, 0x10, 0},
			PID: 11, PPID: 10, UID: 1000, EUID: 0, GID: 1000, EGID: 0, AUID: 1000, Session: 3,
			TTY: "pts0", Comm: "nc", Exe: "/usr/bin/nc.openbsd", Key: "purpleharness",
			Family: 2, Dest: netip.MustParseAddrPort("127.0.0.1:110"),
			Proctitle: []string{"nc", "-z", "127.0.0.1", "110"},
		}
		if !ev.Time.Equal(want.Time) || ev.Serial != want.Serial || ev.Syscall != want.Syscall || ev.Exit != want.Exit ||
			ev.A != want.A || ev.PID != want.PID || ev.PPID != want.PPID || ev.UID != want.UID || ev.EUID != want.EUID ||
			ev.AUID != want.AUID || ev.Session != want.Session || ev.TTY != want.TTY || ev.Comm != want.Comm ||
			ev.Exe != want.Exe || ev.Key != want.Key || ev.Family != want.Family || ev.Dest != want.Dest ||
			!slices.Equal(ev.Proctitle, want.Proctitle) || ev.Arch != want.Arch {
			t.Errorf("parseEvent\n got: %+v\nwant: %+v", *ev, want)
		}
		if got := errnoName(ev.Exit); got != "ECONNREFUSED" {
			t.Errorf("errnoName(%d) = %q", ev.Exit, got)
		}
	})
	t.Run("ipv6 connect", func(t *testing.T) {
		ev, err := parseEvent(recs(t, sys,
			`type=SOCKADDR msg=audit(1795735140.571:42): saddr=0A00008F000000000000000000000000000000000000000100000000`))
		if err != nil {
			t.Fatal(err)
		}
		if ev.Family != 10 || ev.Dest != netip.MustParseAddrPort("[::1]:143") {
			t.Errorf("family %d dest %s, want 10 [::1]:143", ev.Family, ev.Dest)
		}
	})
	t.Run("long and hex arguments", func(t *testing.T) {
		ev, err := parseEvent(recs(t,
			`type=SYSCALL msg=audit(1.000:7): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=2 ppid=1 pid=2 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="bash" exe="/usr/bin/bash" key=(null)`,
			`type=EXECVE msg=audit(1.000:7): argc=3 a0="bash" a1="-c" a2_len=6 a2[0]=6563686F`,
			`type=EXECVE msg=audit(1.000:7): a2[1]=2031`,
			`type=CWD msg=audit(1.000:7): cwd=2F746D702F6120622063`))
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"bash", "-c", "echo 1"}; !slices.Equal(ev.Args, want) {
			t.Errorf("args = %q, want %q", ev.Args, want)
		}
		if ev.CWD != "/tmp/a b c" {
			t.Errorf("cwd = %q (hex-decoded), want %q", ev.CWD, "/tmp/a b c")
		}
		if ev.AUID != ^uint32(0) || ev.Key != "" {
			t.Errorf("auid %d key %q, want unset and empty", ev.AUID, ev.Key)
		}
	})
	t.Run("serial mismatch", func(t *testing.T) {
		_, err := parseEvent(recs(t, sys, `type=EOE msg=audit(1.000:43): `))
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "serial 43") {
			t.Errorf("err = %v, want a serial mismatch", err)
		}
	})
}

func TestUntrusted(t *testing.T) {
	cases := map[string]string{
		`"plain"`:        "plain",
		`2F746D70`:       "/tmp",
		`(null)`:         "",
		`6E630031`:       "nc 1", // NUL-separated lists read as words
		`abc`:            "abc",  // lower case is not the kernel's hex
		`ABC`:            "ABC",  // odd length is not hex
		`'single quote'`: "single quote",
	}
	for in, want := range cases {
		if got := untrusted(in); got != want {
			t.Errorf("untrusted(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTrackerSocketcall(t *testing.T) {
	// An i386 process connecting through socketcall(SYS_CONNECT).
	ev, err := parseEvent(recs(t,
		`type=SYSCALL msg=audit(2.000:9): arch=40000003 syscall=102 success=no exit=-115 a0=3 a1=ffd0 a2=0 a3=0 items=0 ppid=1 pid=5 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="legacy" exe="/opt/legacy" key="purpleharness"`,
		`type=SOCKADDR msg=audit(2.000:9): saddr=020000197F000001`))
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker(true, nil, nil, nil, nil)
	o, ok := tr.handle(ev)
	if !ok || o.Connect == nil {
		t.Fatalf("socketcall(SYS_CONNECT) not an observation")
	}
	if o.Connect.Dest != netip.MustParseAddrPort("127.0.0.1:25") || o.Connect.Audit.Arch != "i386" || o.Connect.Result != "EINPROGRESS" {
		t.Errorf("connect = %+v", o.Connect)
	}
}

// FuzzParseLogLine: any line either parses into a record that renders back
// to a line parsing the same, or fails with a position inside the line.
func FuzzParseLogLine(f *testing.F) {
	f.Add(`type=SYSCALL msg=audit(1795735140.571:256478): arch=c000003e syscall=42 success=no exit=-115 a0=5`)
	f.Add(`type=EXECVE msg=audit(1.000:7): argc=3 a0="bash" a1="-c" a2_len=6 a2[0]=6563686F`)
	f.Add(`type=UNKNOWN[1999] msg=audit(1.5:7): x=y`)
	f.Add(`type=EOE msg=audit(1.000:x):`)
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseLogLine(line, 1)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if pe.Line != 1 || pe.Col < 1 || pe.Col > len(line)+1 {
				t.Fatalf("error position %d:%d outside the %d-byte line", pe.Line, pe.Col, len(line))
			}
			return
		}
		again, err := ParseLogLine(r.LogLine(), 1)
		if err != nil || again != r {
			t.Fatalf("LogLine %q does not parse back: %v", r.LogLine(), err)
		}
	})
}

// FuzzParseEvent feeds arbitrary record text through the raw→observation
// step: no panic, bounded argv, destinations only for inet families.
func FuzzParseEvent(f *testing.F) {
	f.Add(uint16(1300), `audit(1.000:1): arch=c000003e syscall=42 success=no exit=-115 a0=5 pid=3 ppid=1 comm="x" exe="/x"`, uint16(1306), `audit(1.000:1): saddr=0200008F7F0000010000000000000000`)
	f.Add(uint16(1300), `audit(1.000:1): arch=c000003e syscall=59 success=yes exit=0 pid=3 ppid=1`, uint16(1309), `audit(1.000:1): argc=2 a0="x" a1_len=4 a1[0]=4142 a1[1]=4344`)
	f.Add(uint16(1300), `audit(1.000:1): arch=40000003 syscall=102 a0=3`, uint16(1306), `audit(1.000:1): saddr=0A00`)
	f.Fuzz(func(t *testing.T, t1 uint16, s1 string, t2 uint16, s2 string) {
		ev, err := parseEvent([]Record{{auparse.AuditMessageType(t1), s1}, {auparse.AuditMessageType(t2), s2}})
		if err != nil {
			return
		}
		if len(ev.Args) > maxArgs {
			t.Fatalf("%d args, limit %d", len(ev.Args), maxArgs)
		}
		total := 0
		for _, a := range ev.Args {
			total += len(a)
		}
		if total > maxArgBytes {
			t.Fatalf("%d argv bytes, limit %d", total, maxArgBytes)
		}
		if ev.Dest.IsValid() && ev.Family != 2 && ev.Family != 10 {
			t.Fatalf("destination %s from family %d", ev.Dest, ev.Family)
		}
		tr := newTracker(true, nil, nil, nil, nil)
		if o, ok := tr.handle(ev); ok && o.Exec == nil && o.Connect == nil {
			t.Fatalf("observation with neither exec nor connect")
		}
	})
}

// FuzzReceive drives the sensor's record loop (grouping by serial,
// completion at PROCTITLE/EOE, gap accounting, the raw→observation step)
// without a kernel: any sequence of records leaves nothing pending after a
// final sweep, never yields more observations than events, and keeps the
// gap arithmetic within the serial range.
func FuzzReceive(f *testing.F) {
	f.Add([]byte("1300|audit(1.000:5): arch=c000003e syscall=42 success=no exit=-111 a0=3 pid=9 ppid=1 comm=\"nc\" exe=\"/usr/bin/nc\"\n1306|audit(1.000:5): saddr=0200006E7F000001\n1320|audit(1.000:5): \n1005|audit(1.000:9): pid=1 msg='purpleharness-sync 1.1.1'"))
	f.Add([]byte("1300|audit(1.000:7): arch=c000003e syscall=59 success=yes exit=0 pid=2 ppid=1\n1309|audit(1.000:7): argc=1 a0=\"x\"\n1327|audit(1.000:7): proctitle=78\n1320|audit(1.000:7): \n1300|audit(1.000:3): syscall=42"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &Sensor{
			cfg:     Config{AllProcesses: true, KeepInfra: true, MaxObservations: 1000},
			tr:      newTracker(true, nil, nil, nil, nil),
			pending: map[uint64]*pendingEvent{},
			waiters: map[string]chan struct{}{},
			seen:    map[uint64]struct{}{},
			token:   "purpleharness-sync 1.1",
		}
		marker := make(chan struct{})
		s.waiters["purpleharness-sync 1.1.1"] = marker
		for line := range strings.SplitSeq(string(data), "\n") {
			typ, text, ok := strings.Cut(line, "|")
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(typ, 10, 16)
			if err != nil {
				continue
			}
			s.receive(auparse.AuditMessageType(n), []byte(text))
		}
		s.sweep(0)
		if len(s.pending) != 0 {
			t.Fatalf("%d events pending after a final sweep", len(s.pending))
		}
		st := Stats{Events: s.distinct}
		if s.distinct > 0 {
			span := s.maxSer - s.minSer + 1
			if s.distinct > span {
				t.Fatalf("%d distinct serials in a span of %d", s.distinct, span)
			}
		}
		if uint64(len(s.obs)) > st.Events {
			t.Fatalf("%d observations from %d events", len(s.obs), st.Events)
		}
	})
}

// TestTrackerTransport names the transport from the socket() record of the
// same fd, in the process or (inherited across fork) in its parent.
func TestTrackerTransport(t *testing.T) {
	const sock = `type=SYSCALL msg=audit(3.000:1): arch=c000003e syscall=41 success=yes exit=3 a0=2 a1=%s a2=0 a3=0 items=0 ppid=1 pid=10 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="srv" exe="/srv" key="purpleharness"`
	const conn = `type=SYSCALL msg=audit(3.001:2): arch=c000003e syscall=42 success=yes exit=0 a0=3 a1=0 a2=10 a3=0 items=0 ppid=%d pid=%d auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="srv" exe="/srv" key="purpleharness"`
	const addr = `type=SOCKADDR msg=audit(3.001:2): saddr=020000357F000001`
	cases := []struct {
		name      string
		sockType  string // a1 of socket(): SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC = 80801
		ppid, pid int
		want      ecs.Transport
		est       bool
	}{
		{"tcp in the same process", "80801", 1, 10, ecs.TCP, true},
		{"udp in the same process", "2", 1, 10, ecs.UDP, false},
		{"tcp inherited by a child", "1", 10, 11, ecs.TCP, true},
		{"unrelated process", "1", 1, 12, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTracker(true, nil, nil, nil, nil)
			ev, err := parseEvent(recs(t, fmt.Sprintf(sock, tc.sockType)))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := tr.handle(ev); ok {
				t.Fatal("socket() became an observation")
			}
			ev, err = parseEvent(recs(t, fmt.Sprintf(conn, tc.ppid, tc.pid), addr))
			if err != nil {
				t.Fatal(err)
			}
			o, ok := tr.handle(ev)
			if !ok || o.Connect == nil {
				t.Fatal("connect not observed")
			}
			if o.Connect.Transport != tc.want || o.Connect.Established != tc.est {
				t.Errorf("transport %q established %v, want %q %v", o.Connect.Transport, o.Connect.Established, tc.want, tc.est)
			}
		})
	}
}
