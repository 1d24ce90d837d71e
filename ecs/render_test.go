package ecs

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// Fixed inputs for the golden tests: the processes and connections of the
// issue's acceptance list (curl to :143, nc to :110, bash /dev/tcp to :25, a
// port where nothing listens), plus IPv6 and UDP.
var (
	fixtureHost = Host{
		Name: "ci-runner-7", ID: "4c1bd5a0f2e84e7d9a1c0b6f3e2d1a90", Hostname: "ci-runner-7",
		Architecture: "x86_64", OSName: "Debian GNU/Linux", OSVersion: "12 (bookworm)",
		OSVersionID: "12", OSPlatform: "debian", OSFamily: "debian", OSCodename: "bookworm", OSPointRelease: "12.5",
		Kernel: "6.1.0-18-amd64", KernelVersion: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)",
		IPs:  []string{"127.0.0.1", "10.20.30.40", "::1", "fe80::1c2d:3eff:fe4f:5a6b"},
		MACs: []string{"1E-2D-3E-4F-5A-6B"},
	}
	fixtureAgent = Agent{ID: "9b7e6c1a-3f2d-4e5b-8a9c-0d1e2f3a4b5c", Name: "ci-runner-7", Version: "8.17.0"}

	t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

	bash = &Process{
		PID: 4100, PPID: 4000, Start: t0.Add(-5*time.Second + 120*time.Millisecond),
		Executable: "/usr/bin/bash", Comm: "bash", WorkingDirectory: "/work",
		Args: []string{"bash", "-c", "atomic.sh"}, UID: 1000, EUID: 1000, GID: 1000, EGID: 1000,
		User: "runner", Group: "runner", EUser: "runner", EGroup: "runner",
		AUID: 1000, AUser: "runner", Session: 3, TTY: "pts0",
	}
	sshd = &Process{
		PID: 3900, PPID: 1, Start: t0.Add(-time.Hour), Executable: "/usr/sbin/sshd", Comm: "sshd",
		Args: []string{"sshd: runner [priv]"}, WorkingDirectory: "/", AUID: 1000, Session: 3, TTY: "(none)",
		Parent: &Process{PID: 1, Start: t0.Add(-48 * time.Hour), Executable: "/usr/lib/systemd/systemd"},
	}
	loginShell = &Process{
		PID: 4000, PPID: 3950, Start: t0.Add(-10 * time.Minute), Executable: "/usr/bin/bash", Comm: "bash",
		Args: []string{"-bash"}, WorkingDirectory: "/home/runner", UID: 1000, EUID: 1000, GID: 1000, EGID: 1000,
		User: "runner", Group: "runner", AUID: 1000, Session: 3, TTY: "pts0", Parent: sshd,
		EntryMeta: EntryMeta{Type: EntrySSHD, SourceIP: netip.MustParseAddr("10.20.30.1")},
	}
	nc = Process{
		PID: 4242, PPID: 4100, Start: t0.Add(10 * time.Millisecond),
		GroupLeader: bash, SessionLeader: loginShell, EntryLeader: loginShell,
		Executable: "/usr/bin/nc.openbsd", Comm: "nc", WorkingDirectory: "/work",
		Args: []string{"nc", "-w", "1", "127.0.0.1", "110"}, UID: 1000, EUID: 1000, GID: 1000, EGID: 1000,
		User: "runner", Group: "runner", EUser: "runner", EGroup: "runner",
		AUID: 1000, AUser: "runner", Session: 3, TTY: "pts0", Parent: bash,
	}
	curl = Process{
		PID: 4243, PPID: 4100, Start: t0.Add(1*time.Second + 20*time.Millisecond),
		Executable: "/usr/bin/curl", Comm: "curl", WorkingDirectory: "/work",
		Args: []string{"curl", "-s", "--max-time", "2", "imap://127.0.0.1:143/INBOX", "-u", `a "b" c\d`},
		UID:  0, EUID: 0, GID: 0, EGID: 0, User: "root", Group: "root", EUser: "root", EGroup: "root",
		AUID: NoID, Session: NoID, TTY: "(none)", Parent: bash,
	}
	setuidProc = Process{
		PID: 4300, PPID: 4100, Start: t0.Add(2 * time.Second),
		Executable: "/usr/bin/python3.11", Comm: "python3", Args: []string{"python3", "-c", "import socket"},
		UID: 1000, EUID: 0, GID: 1000, EGID: 0, User: "runner", Group: "runner", EUser: "root", EGroup: "root",
		AUID: 1000, Session: 3, TTY: "pts0",
	}

	// subshell is bash forked (same image, new pid and start); curlAfterExec
	// is the same instance after it exec'd curl: same pid and start, the
	// bash image under Previous.
	subshell = Process{
		PID: 4400, PPID: 4100, Start: t0.Add(7*time.Second + 500*time.Millisecond),
		GroupLeader: bash, SessionLeader: loginShell, EntryLeader: loginShell,
		Executable: "/usr/bin/bash", Comm: "bash", WorkingDirectory: "/work",
		Args: []string{"bash", "-c", "sleep 1; exec curl -s pop3://127.0.0.1:110/"}, UID: 1000, EUID: 1000, GID: 1000, EGID: 1000,
		User: "runner", Group: "runner", EUser: "runner", EGroup: "runner",
		AUID: 1000, AUser: "runner", Session: 3, TTY: "pts0", Parent: bash,
	}
	curlAfterExec = func() Process {
		p := subshell
		p.Executable, p.Comm = "/usr/bin/curl", "curl"
		p.Args = []string{"curl", "-s", "pop3://127.0.0.1:110/"}
		p.Previous = []Image{{Executable: subshell.Executable, Args: subshell.Args}}
		return p
	}()
	server = Process{
		PID: 4500, PPID: 4100, Start: t0.Add(9 * time.Second),
		Executable: "/usr/bin/python3.11", Comm: "python3", WorkingDirectory: "/work",
		Args: []string{"python3", "-m", "http.server", "8080"}, UID: 1000, EUID: 1000, GID: 1000, EGID: 1000,
		User: "runner", Group: "runner", AUID: 1000, Session: 3, TTY: "pts0", Parent: bash,
	}

	fixtures = []struct {
		name string
		obs  Observation
	}{
		{"exec nc", Exec{Time: t0.Add(11 * time.Millisecond), Serial: 1001, Process: nc,
			Audit: Audit{Sequence: 1001, Syscall: "execve", Arch: "x86_64", Exit: 0, Success: true, Key: "purpleharness"}}},
		{"exec curl with quotes and backslashes", Exec{Time: t0.Add(1021 * time.Millisecond), Serial: 1010, Process: curl}},
		{"nc to pop3, non-blocking, accepted", Connect{Time: t0.Add(15 * time.Millisecond), Serial: 1002, Process: nc,
			Dest: netip.MustParseAddrPort("127.0.0.1:110"), Source: netip.MustParseAddrPort("127.0.0.1:51234"),
			Result: "EINPROGRESS", Established: true, Transport: TCP,
			Audit: Audit{Sequence: 1002, Syscall: "connect", Arch: "x86_64", Exit: -115, Key: "purpleharness"}}},
		{"curl to imap, blocking", Connect{Time: t0.Add(1030 * time.Millisecond), Serial: 1011, Process: curl,
			Dest: netip.MustParseAddrPort("127.0.0.1:143"), Source: netip.MustParseAddrPort("127.0.0.1:40002"),
			Transport: TCP}},
		{"bash /dev/tcp to smtp, source unknown", Connect{Time: t0.Add(3 * time.Second), Serial: 1020, Process: *bash,
			Dest: netip.MustParseAddrPort("127.0.0.1:25"), Transport: TCP}},
		{"refused, nothing listens", Connect{Time: t0.Add(4 * time.Second), Serial: 1030, Process: nc,
			Dest: netip.MustParseAddrPort("127.0.0.1:9"), Result: "ECONNREFUSED", Transport: TCP,
			Audit: Audit{Sequence: 1030, Syscall: "connect", Arch: "x86_64", Exit: -111}}},
		{"ipv6 attempt never answered", Connect{Time: t0.Add(5 * time.Second), Serial: 1040, Process: setuidProc,
			Dest: netip.MustParseAddrPort("[2001:db8::25]:587"), Result: "EINPROGRESS", Transport: TCP}},
		{"no route, fails before the SYN", Connect{Time: t0.Add(5500 * time.Millisecond), Serial: 1045, Process: curl,
			Dest: netip.MustParseAddrPort("203.0.113.7:25"), Result: "ENETUNREACH", Transport: TCP}},
		{"udp connect", Connect{Time: t0.Add(6 * time.Second), Serial: 1050, Process: setuidProc,
			Dest: netip.MustParseAddrPort("127.0.0.53:53"), Transport: UDP}},
		{"fork of a subshell", Fork{Time: t0.Add(7*time.Second + 500*time.Millisecond), Serial: 1060, Process: subshell}},
		{"exec after fork keeps the instance", Exec{Time: t0.Add(8*time.Second + 520*time.Millisecond), Serial: 1061, Process: curlAfterExec}},
		{"attempt with source read from the socket", Connect{Time: t0.Add(8*time.Second + 530*time.Millisecond), Serial: 1062,
			Process: curlAfterExec, Dest: netip.MustParseAddrPort("127.0.0.1:110"), Source: netip.MustParseAddrPort("127.0.0.1:43110"),
			Result: "EINPROGRESS", Transport: TCP}},
		{"close of the attempted connection", Close{Time: t0.Add(8*time.Second + 600*time.Millisecond), Serial: 1063,
			Process: curlAfterExec, Local: netip.MustParseAddrPort("127.0.0.1:43110"), Remote: netip.MustParseAddrPort("127.0.0.1:110"),
			Direction: Egress, BytesSent: 31, BytesReceived: 120, Transport: TCP}},
		{"end with exit code", Exit{Time: t0.Add(8*time.Second + 610*time.Millisecond), Serial: 1064, Process: curlAfterExec, ExitCode: 7}},
		{"end by a signal", Exit{Time: t0.Add(8*time.Second + 700*time.Millisecond), Serial: 1065, Process: nc, Signal: 9}},
		{"accepted inbound connection", Accept{Time: t0.Add(9*time.Second + 100*time.Millisecond), Serial: 1070, Process: server,
			Local: netip.MustParseAddrPort("127.0.0.1:8080"), Remote: netip.MustParseAddrPort("127.0.0.1:51990"), Transport: TCP}},
		{"close of the accepted connection", Close{Time: t0.Add(9*time.Second + 200*time.Millisecond), Serial: 1071, Process: server,
			Local: netip.MustParseAddrPort("127.0.0.1:8080"), Remote: netip.MustParseAddrPort("127.0.0.1:51990"),
			Direction: Ingress, Transport: TCP}},
	}
)

func fixtureRenderer(p Profile) Renderer {
	return Renderer{Profile: p, Host: fixtureHost, Agent: fixtureAgent}
}

type goldenEntry struct {
	Name        string   `json:"name"`
	Index       string   `json:"index,omitempty"`
	Document    Document `json:"document,omitempty"`
	NotEmitted  string   `json:"not_emitted,omitempty"`
	NotRendered string   `json:"not_rendered,omitempty"`
}

func renderFixtures(t *testing.T, p Profile) []goldenEntry {
	t.Helper()
	r := fixtureRenderer(p)
	var out []goldenEntry
	for _, f := range fixtures {
		doc, err := r.Render(f.obs)
		var ne *NotEmittedError
		switch {
		case errors.As(err, &ne):
			if !errors.Is(err, ErrNotEmitted) || ne.Profile != p {
				t.Errorf("%s/%s: error %v does not match ErrNotEmitted for %s", p, f.name, err, p)
			}
			out = append(out, goldenEntry{Name: f.name, NotEmitted: err.Error()})
		case errors.Is(err, ErrNotRendered):
			out = append(out, goldenEntry{Name: f.name, NotRendered: err.Error()})
		case err != nil:
			t.Fatalf("%s/%s: Render: %v", p, f.name, err)
		default:
			out = append(out, goldenEntry{Name: f.name, Index: r.Index(f.obs.observationKind()), Document: doc})
		}
	}
	return out
}

func TestRenderGolden(t *testing.T) {
	for _, p := range Profiles {
		t.Run(string(p), func(t *testing.T) {
			got, err := json.MarshalIndent(renderFixtures(t, p), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", string(p)+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./ecs -run TestRenderGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("rendering for %s differs from %s (rerun with -update and review the diff):\n%s",
					p, path, firstDiff(string(want), string(got)))
			}
		})
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  want %s\n  got  %s", i+1, w, g)
		}
	}
	return "(no line differs)"
}

// leaves lists the dotted paths of every non-object value in a document.
func leaves(prefix string, m map[string]any, out map[string]bool) {
	for k, v := range m {
		path := prefix + k
		if obj, ok := asObject(v); ok {
			leaves(path+".", obj, out)
			continue
		}
		if arr, ok := v.([]any); ok && len(arr) > 0 {
			if _, isObj := asObject(arr[0]); isObj {
				for _, el := range arr {
					if obj, ok := asObject(el); ok {
						leaves(path+".", obj, out)
					}
				}
				continue
			}
		}
		out[path] = true
	}
}

// Every field a profile renders has a mapping type, and every mapped field
// is rendered by at least one fixture: the mapping is the profile's field
// list, not a wish list.
func TestMappingCoversRendered(t *testing.T) {
	for _, p := range Profiles {
		rendered := map[string]bool{}
		for _, e := range renderFixtures(t, p) {
			leaves("", e.Document, rendered)
		}
		m := Mapping(p)
		for path := range rendered {
			if _, ok := m[path]; !ok {
				t.Errorf("%s renders %s, which Mapping(%s) does not list", p, path, p)
			}
		}
		for path := range m {
			if !rendered[path] {
				t.Errorf("Mapping(%s) lists %s, which no fixture renders", p, path)
			}
		}
	}
}

func TestDocsListFields(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "profiles.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := strings.Split(string(doc), "\n## ")
	for _, p := range Profiles {
		var section string
		for _, s := range sections {
			if strings.Contains(strings.SplitN(s, "\n", 2)[0], "`"+string(p)+"`") {
				section = s
			}
		}
		if section == "" {
			t.Errorf("docs/profiles.md has no section whose heading names `%s`", p)
			continue
		}
		for _, f := range Fields(p) {
			if !strings.Contains(section, "`"+f+"`") {
				t.Errorf("docs/profiles.md section for %s does not list `%s`", p, f)
			}
		}
	}
}

// The rendered values keep their JSON types through an encode/decode round
// trip, as the EQL engine and Elasticsearch will read them.
func TestRoundTrip(t *testing.T) {
	c := fixtures[2].obs.(Connect)
	tests := []struct {
		profile Profile
		path    string
		want    any
	}{
		{Endpoint, "destination.port", json.Number("110")},
		{Endpoint, "event.type", []any{"start"}},
		{Endpoint, "event.category", []any{"network"}},
		{Endpoint, "event.action", "connection_attempted"},
		{Endpoint, "process.name", "nc.openbsd"},
		{Endpoint, "process.pid", json.Number("4242")},
		{Endpoint, "user.id", json.Number("1000")},
		{Endpoint, "network.type", "ipv4"},
		{Endpoint, "source.port", json.Number("51234")},
		{Endpoint, "@timestamp", "2026-11-26T10:00:00.0150000Z"},
		{Auditbeat, "destination.port", "110"},
		{Auditbeat, "event.type", []any{"connection", "start"}},
		{Auditbeat, "event.action", "connected-to"},
		{Auditbeat, "event.outcome", "failure"},
		{Auditbeat, "auditd.data.exit", "EINPROGRESS"},
		{Auditbeat, "process.name", "nc"},
		{Auditbeat, "user.id", "1000"},
		{Auditbeat, "@timestamp", "2026-11-26T10:00:00.015Z"},
		{SysmonLinux, "destination.port", json.Number("110")},
		{SysmonLinux, "event.code", "3"},
		{SysmonLinux, "event.type", []any{"start", "connection", "protocol"}},
		{SysmonLinux, "process.name", "sysmon"},
		{SysmonLinux, "network.direction", "egress"},
	}
	for _, tt := range tests {
		doc, err := fixtureRenderer(tt.profile).Connect(c)
		if err != nil {
			t.Fatalf("%s: %v", tt.profile, err)
		}
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := back.Lookup(tt.path)
		if !ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Lookup(%q) after round trip = %#v, %v; want %#v", tt.profile, tt.path, got, ok, tt.want)
		}
	}
	if doc, _ := fixtureRenderer(Auditbeat).Connect(c); doc != nil {
		if _, ok := doc.Lookup("process.entity_id"); ok {
			t.Error("auditbeat document has process.entity_id; Auditbeat sends none")
		}
	}
}

func TestEntityIDStability(t *testing.T) {
	base := Process{PID: 100, Start: t0}
	samePIDNewStart := Process{PID: 100, Start: t0.Add(2 * time.Second)}
	subSecondLater := Process{PID: 100, Start: t0.Add(300 * time.Millisecond)}
	newPID := Process{PID: 101, Start: t0}
	otherFields := Process{PID: 100, Start: t0, Executable: "/bin/other", Args: []string{"x"}, UID: 5}
	tests := []struct {
		name     string
		a, b     Process
		endpoint bool // want equal Defend entity ids
		sysmon   bool // want equal Sysmon GUIDs
	}{
		{"same instance", base, base, true, true},
		{"same instance, other image after exec", base, otherFields, true, true},
		{"pid reused later", base, samePIDNewStart, false, false},
		// Defend keys on whole seconds; the Sysmon-style GUID hashes
		// nanoseconds into its last group.
		{"same pid, start 300ms apart", base, subSecondLater, true, false},
		{"other pid, same start", base, newPID, false, false},
	}
	for _, tt := range tests {
		ea, eb := EndpointEntityID("agent", &tt.a), EndpointEntityID("agent", &tt.b)
		if (ea == eb) != tt.endpoint {
			t.Errorf("%s: EndpointEntityID %q vs %q, want equal=%v", tt.name, ea, eb, tt.endpoint)
		}
		sa, sb := SysmonProcessGUID(fixtureHost.ID, &tt.a), SysmonProcessGUID(fixtureHost.ID, &tt.b)
		if (sa == sb) != tt.sysmon {
			t.Errorf("%s: SysmonProcessGUID %q vs %q, want equal=%v", tt.name, sa, sb, tt.sysmon)
		}
	}
	if a, b := EndpointEntityID("agent-a", &base), EndpointEntityID("agent-b", &base); a == b {
		t.Errorf("entity id ignores the agent: %q", a)
	}
}

// Parent and child documents link: the child's process.parent.entity_id
// is the parent's process.entity_id, the first ancestry entry too, and
// three connections from one process share one entity id.
func TestEntityLinks(t *testing.T) {
	for _, p := range []Profile{Endpoint, SysmonLinux} {
		r := fixtureRenderer(p)
		parentDoc, err := r.Exec(Exec{Time: t0, Serial: 1, Process: *bash})
		if err != nil {
			t.Fatal(err)
		}
		childDoc, err := r.Exec(Exec{Time: t0, Serial: 2, Process: nc})
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := parentDoc.Lookup("process.entity_id")
		link, _ := childDoc.Lookup("process.parent.entity_id")
		if pid == nil || pid != link {
			t.Errorf("%s: child process.parent.entity_id = %v, parent process.entity_id = %v", p, link, pid)
		}
		if p == Endpoint {
			anc, _ := childDoc.Lookup("process.Ext.ancestry")
			if a, ok := anc.([]any); !ok || len(a) == 0 || a[0] != pid {
				t.Errorf("endpoint: process.Ext.ancestry = %v, want the parent %v first", anc, pid)
			}
		}
		ids := map[any]bool{}
		for i, port := range []uint16{25, 110, 143} {
			d, err := r.Connect(Connect{Time: t0, Serial: uint64(10 + i), Process: nc, Transport: TCP,
				Dest: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), Established: true})
			if err != nil {
				t.Fatal(err)
			}
			id, _ := d.Lookup("process.entity_id")
			ids[id] = true
		}
		if len(ids) != 1 {
			t.Errorf("%s: three connections from one process got %d entity ids: %v", p, len(ids), ids)
		}
		ids = map[any]bool{}
		for i, proc := range []Process{nc, curl, setuidProc} {
			d, _ := r.Connect(Connect{Time: t0, Serial: uint64(20 + i), Process: proc, Transport: TCP,
				Dest: netip.MustParseAddrPort("127.0.0.1:25"), Established: true})
			id, _ := d.Lookup("process.entity_id")
			ids[id] = true
		}
		if len(ids) != 3 {
			t.Errorf("%s: three processes got %d entity ids", p, len(ids))
		}
	}
}

func TestEndpointEntityIDShape(t *testing.T) {
	// Decodes as "<agent>-<pid>-<start seconds>", as real Defend ids do.
	p := Process{PID: 141190, Start: time.Date(2024, 6, 9, 13, 52, 1, 510_000_000, time.UTC)}
	got := EndpointEntityID("abcd-513b-4526-a34a-e229a6f15dff", &p)
	const want = "YWJjZC01MTNiLTQ1MjYtYTM0YS1lMjI5YTZmMTVkZmYtMTQxMTkwLTE3MTc5NDExMjE="
	if got != want {
		t.Errorf("EndpointEntityID = %q, want %q", got, want)
	}
	g := SysmonProcessGUID("d65774de1f2e4b7c", &Process{PID: 783, Start: time.Unix(0x61758d1e, 0)})
	if !strings.HasPrefix(g, "{d65774de-8d1e-6175-") || len(g) != 38 {
		t.Errorf("SysmonProcessGUID = %q, want {d65774de-8d1e-6175-xxxx-xxxxxxxxxxxx}", g)
	}
}

func TestCommunityID(t *testing.T) {
	// The community-id-spec's own example flow, and its reverse.
	a := netip.MustParseAddrPort("128.232.110.120:34855")
	b := netip.MustParseAddrPort("66.35.250.204:80")
	const want = "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
	if got := CommunityID(a, b, TCP); got != want {
		t.Errorf("CommunityID(%v, %v, tcp) = %q, want %q", a, b, got, want)
	}
	if got := CommunityID(b, a, TCP); got != want {
		t.Errorf("CommunityID of the reverse direction = %q, want %q", got, want)
	}
	if got := CommunityID(a, b, "icmp"); got != "" {
		t.Errorf("CommunityID for an unsupported transport = %q, want empty", got)
	}
}

func TestNotEmitted(t *testing.T) {
	r := fixtureRenderer(SysmonLinux)
	_, err := r.Render(fixtures[5].obs) // refused
	const want = "sysmon-linux sends no network event: Sysmon for Linux reports a TCP connection once it is established " +
		"(inet_sock_set_state SYN_SENT -> ESTABLISHED); connect(2) returned ECONNREFUSED and no peer was seen accepting it"
	if err == nil || err.Error() != want || !errors.Is(err, ErrNotEmitted) {
		t.Errorf("sysmon refused connect: err = %v\nwant %s", err, want)
	}
	for _, p := range []Profile{Endpoint, Auditbeat} {
		if _, err := fixtureRenderer(p).Render(fixtures[5].obs); err != nil {
			t.Errorf("%s must record a refused attempt: %v", p, err)
		}
	}
	_, err = fixtureRenderer(Endpoint).Render(fixtures[7].obs) // ENETUNREACH
	const wantEndpoint = "endpoint sends no network event: connect(2) failed with ENETUNREACH before a SYN was sent; " +
		"Elastic Defend reports an attempt only when tcp_v4_connect/tcp_v6_connect succeeds"
	if err == nil || err.Error() != wantEndpoint {
		t.Errorf("endpoint ENETUNREACH: err = %v\nwant %s", err, wantEndpoint)
	}
	if _, err := fixtureRenderer(Auditbeat).Render(fixtures[7].obs); err != nil {
		t.Errorf("auditbeat records every connect(2) its rule matches: %v", err)
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name string
		r    Renderer
		obs  Observation
		want string
	}{
		{"unknown profile", Renderer{Profile: "winlogbeat"}, Exec{}, `render: unknown profile "winlogbeat" (want endpoint, auditbeat or sysmon-linux)`},
		{"connect without destination", Renderer{}, Connect{Serial: 7}, "render endpoint connect (serial 7): no destination address"},
		{"nil observation", Renderer{}, nil, "render: unsupported observation <nil>"},
	}
	for _, tt := range tests {
		_, err := tt.r.Render(tt.obs)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	// Pointers render like values.
	e := fixtures[0].obs.(Exec)
	a, _ := fixtureRenderer(Endpoint).Render(e)
	b, _ := fixtureRenderer(Endpoint).Render(&e)
	if !reflect.DeepEqual(a, b) {
		t.Error("Render(&exec) differs from Render(exec)")
	}
}

func TestParseProfile(t *testing.T) {
	tests := []struct {
		in      string
		want    Profile
		wantErr string
	}{
		{"", Endpoint, ""},
		{"endpoint", Endpoint, ""},
		{"auditbeat", Auditbeat, ""},
		{"sysmon-linux", SysmonLinux, ""},
		{"Sysmon-Linux", "", `unknown profile "Sysmon-Linux" (want endpoint, auditbeat or sysmon-linux)`},
	}
	for _, tt := range tests {
		got, err := ParseProfile(tt.in)
		if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) {
			t.Errorf("ParseProfile(%q) = %q, %v; want %q, %q", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestIndex(t *testing.T) {
	tests := []struct {
		r    Renderer
		k    Kind
		want string
	}{
		{Renderer{}, NetworkKind, "logs-endpoint.events.network-default"},
		{Renderer{Namespace: "ci"}, ProcessKind, "logs-endpoint.events.process-ci"},
		{Renderer{Profile: Auditbeat}, NetworkKind, "auditbeat-8.17.0"},
		{Renderer{Profile: Auditbeat, Agent: Agent{Version: "8.15.3"}}, ProcessKind, "auditbeat-8.15.3"},
		{Renderer{Profile: SysmonLinux}, NetworkKind, "logs-sysmon_linux.log-default"},
	}
	for _, tt := range tests {
		if got := tt.r.Index(tt.k); got != tt.want {
			t.Errorf("%+v.Index(%s) = %q, want %q", tt.r, tt.k, got, tt.want)
		}
		if pat := IndexPattern(tt.r.profile()); !indexMatches(pat, tt.want) {
			t.Errorf("IndexPattern(%s) = %q does not match %q", tt.r.profile(), pat, tt.want)
		}
	}
}

func indexMatches(pattern, index string) bool {
	prefix, ok := strings.CutSuffix(pattern, "*")
	return ok && strings.HasPrefix(index, prefix)
}

func TestMappingJSON(t *testing.T) {
	for _, p := range Profiles {
		var m struct {
			Properties map[string]any `json:"properties"`
		}
		if err := json.Unmarshal(MappingJSON(p), &m); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		// Walk back to dotted paths and compare with Mapping.
		got := map[string]string{}
		var walk func(prefix string, props map[string]any)
		walk = func(prefix string, props map[string]any) {
			for k, v := range props {
				f := v.(map[string]any)
				if sub, ok := f["properties"].(map[string]any); ok {
					walk(prefix+k+".", sub)
					continue
				}
				typ := f["type"].(string)
				if val, ok := f["value"].(string); ok {
					typ += "=" + val
				}
				got[prefix+k] = typ
			}
		}
		walk("", m.Properties)
		if want := Mapping(p); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: MappingJSON does not round-trip to Mapping", p)
		}
	}
	if got := Mapping(SysmonLinux)["event.module"]; got != "constant_keyword=sysmon_linux" {
		t.Errorf("sysmon event.module mapping = %q", got)
	}
}

func TestWindowsArgv(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`nc -w 1 127.0.0.1 110`, []string{"nc", "-w", "1", "127.0.0.1", "110"}},
		{`  a   b	c `, []string{"a", "b", "c"}},
		{`sh -c "echo hi"`, []string{"sh", "-c", "echo hi"}},
		{`a "b c" d`, []string{"a", "b c", "d"}},
		{`a\b c`, []string{`a\b`, "c"}},
		{`a\\"b c" d`, []string{`a\b c`, "d"}},
		{`a\"b c`, []string{`a"b`, "c"}},
		{`a\\\"b`, []string{`a\"b`}},
		{`"a""b"`, []string{`a"b`}},
		{`""`, []string{""}},
		{`trailing\\`, []string{`trailing\\`}},
		{``, nil},
	}
	for _, tt := range tests {
		if got := windowsArgv(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("windowsArgv(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzWindowsArgv(f *testing.F) {
	for _, s := range []string{`a "b c" d`, `a\\"b`, `""`, "x\ty", `"unterminated`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := windowsArgv(s)
		total := 0
		for _, a := range args {
			total += len(a)
		}
		if total > len(s) {
			t.Fatalf("windowsArgv(%q) produced %d bytes from %d", s, total, len(s))
		}
		// Without quotes the rules reduce to splitting on blanks.
		if !strings.Contains(s, `"`) {
			if want := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' }); !reflect.DeepEqual(args, want) && !(len(args) == 0 && len(want) == 0) {
				t.Fatalf("windowsArgv(%q) = %q, want %q", s, args, want)
			}
		}
	})
}

func TestAuditExit(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{{0, "0"}, {-115, "EINPROGRESS"}, {-111, "ECONNREFUSED"}, {4242, "4242"}, {-99999, "-99999"}}
	for _, tt := range tests {
		if got := auditExit(tt.in); got != tt.want {
			t.Errorf("auditExit(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestApplyOSRelease(t *testing.T) {
	tests := []struct {
		name, in string
		want     Host
	}{
		{"debian", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
			Host{OSName: "Debian GNU/Linux", OSVersion: "12 (bookworm)", OSVersionID: "12", OSPlatform: "debian", OSFamily: "debian", OSCodename: "bookworm"}},
		{"ubuntu via ID_LIKE", "NAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nID=ubuntu\nID_LIKE=debian\n# comment\n",
			Host{OSName: "Ubuntu", OSVersionID: "24.04", OSPlatform: "ubuntu", OSFamily: "debian"}},
		{"rocky", "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n",
			Host{OSName: "Rocky Linux", OSPlatform: "rocky", OSFamily: "redhat"}},
		{"garbage", "this is not\n=an os-release\n", Host{}},
	}
	for _, tt := range tests {
		var h Host
		applyOSRelease(&h, []byte(tt.in))
		if !reflect.DeepEqual(h, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, h, tt.want)
		}
	}
}

func TestDebianVersion(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ content, want string }{
		{"12.11\n", "12.11"},
		{"trixie/sid\n", ""},
		{"", ""},
		{"11.9", "11.9"},
	}
	for i, tt := range tests {
		path := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := debianVersion(path); got != tt.want {
			t.Errorf("debianVersion(%q) = %q, want %q", tt.content, got, tt.want)
		}
	}
	if got := debianVersion(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("debianVersion(missing) = %q", got)
	}
}

func TestLocalHost(t *testing.T) {
	h, err := LocalHost()
	if err != nil {
		t.Fatal(err)
	}
	if h.Name == "" || h.Kernel == "" || h.Architecture == "" {
		t.Errorf("LocalHost() = %+v: missing name, kernel or architecture", h)
	}
	for _, mac := range h.MACs {
		if strings.Contains(mac, ":") || mac != strings.ToUpper(mac) {
			t.Errorf("MAC %q not in ECS form AA-BB-...", mac)
		}
	}
	hasLoopback := false
	for _, ip := range h.IPs {
		hasLoopback = hasLoopback || ip == "127.0.0.1"
	}
	if !hasLoopback {
		t.Errorf("LocalHost().IPs = %v, want the loopback address among them", h.IPs)
	}
}

// The profiles never share a document: a rule written for one source and
// run against another must see the other source's words.
func TestProfilesDiffer(t *testing.T) {
	c := fixtures[2].obs
	actions := map[string]Profile{}
	for _, p := range Profiles {
		d, _ := fixtureRenderer(p).Render(c)
		a, _ := d.Lookup("event.action")
		s := fmt.Sprint(a)
		if prev, dup := actions[s]; dup {
			t.Errorf("%s and %s both render event.action %q", prev, p, s)
		}
		actions[s] = p
	}
	keys := make([]string, 0, len(actions))
	for k := range actions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if want := []string{"connected-to", "connection_attempted", "log"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("event.action values = %v, want %v", keys, want)
	}
}

// Names for the effective and login ids fall back to the real user's name
// only when the ids are equal; otherwise an unknown name stays absent.
func TestIdentityNameFallback(t *testing.T) {
	tests := []struct {
		name    string
		p       Process
		profile Profile
		path    string
		want    any // nil: absent
	}{
		{"endpoint, euid == uid", Process{UID: 1000, EUID: 1000, User: "runner"}, Endpoint, "user.name", "runner"},
		{"endpoint, setuid, euid name unknown", Process{UID: 1000, EUID: 0, User: "runner"}, Endpoint, "user.name", nil},
		{"endpoint, setuid, euid name known", Process{UID: 1000, EUID: 0, User: "runner", EUser: "root"}, Endpoint, "user.name", "root"},
		{"endpoint, egid == gid", Process{GID: 50, EGID: 50, Group: "staff"}, Endpoint, "process.group.name", "staff"},
		{"auditbeat, auid == uid", Process{UID: 1000, AUID: 1000, User: "runner"}, Auditbeat, "user.audit.name", "runner"},
		{"auditbeat, auid differs", Process{UID: 0, AUID: 1000, User: "root"}, Auditbeat, "user.audit.name", nil},
		{"auditbeat, auid unset", Process{UID: 0, AUID: NoID, Session: NoID, User: "root"}, Auditbeat, "auditd.summary.actor.primary", "unset"},
		{"auditbeat, setuid shows effective", Process{UID: 1000, EUID: 0, EUser: "root"}, Auditbeat, "user.effective.name", "root"},
		{"auditbeat, no setuid drops effective", Process{UID: 1000, EUID: 1000}, Auditbeat, "user.effective.id", nil},
	}
	for _, tt := range tests {
		d, err := fixtureRenderer(tt.profile).Exec(Exec{Time: t0, Serial: 1, Process: tt.p})
		if err != nil {
			t.Fatal(err)
		}
		got, ok := d.Lookup(tt.path)
		if (tt.want == nil && ok) || (tt.want != nil && got != tt.want) {
			t.Errorf("%s: %s = %v (present %v), want %v", tt.name, tt.path, got, ok, tt.want)
		}
	}
}

func FuzzApplyOSRelease(f *testing.F) {
	f.Add("NAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID=\"12\"\n")
	f.Add("ID_LIKE=\"rhel fedora\"\n=\n#x\nA")
	f.Fuzz(func(t *testing.T, s string) {
		var h Host
		applyOSRelease(&h, []byte(s))
		for _, v := range []string{h.OSName, h.OSVersion, h.OSVersionID, h.OSPlatform, h.OSCodename} {
			if strings.ContainsAny(v, "\n") || !strings.Contains(s, v) {
				t.Fatalf("applyOSRelease(%q) produced %q, not a single-line part of the input", s, v)
			}
		}
	})
}

// Whatever the process looked like, every profile renders a document that
// survives JSON and keeps its destination, or says it would not be sent.
func FuzzRender(f *testing.F) {
	f.Add("/usr/bin/nc", "nc", "nc\x00-w 1", uint16(110), true, 4242, int64(0))
	f.Add("", "", "", uint16(0), false, -1, int64(-1))
	f.Add("/tmp/\"quoted\" \\path", "a\tb", "\"\"\\\"", uint16(65535), false, 1<<30, int64(1<<40))
	f.Fuzz(func(t *testing.T, exe, comm, args string, port uint16, established bool, pid int, startSec int64) {
		p := Process{PID: pid, PPID: pid / 2, Executable: exe, Comm: comm, Args: strings.Split(args, "\x00"),
			Start: time.Unix(startSec%(1<<33), 0), AUID: NoID, Session: NoID}
		p.Parent = &Process{PID: pid / 2, Executable: comm, Parent: &p} // a cycle must not hang
		c := Connect{Time: t0, Serial: 1, Process: p, Dest: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port),
			Established: established, Result: map[bool]string{true: "", false: "ECONNREFUSED"}[established], Transport: TCP}
		for _, prof := range Profiles {
			r := fixtureRenderer(prof)
			for _, o := range []Observation{c, Exec{Time: t0, Serial: 2, Process: p}} {
				d, err := r.Render(o)
				if errors.Is(err, ErrNotEmitted) {
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", prof, err)
				}
				b, err := json.Marshal(d)
				if err != nil {
					t.Fatalf("%s: marshal: %v", prof, err)
				}
				back, err := Decode(b)
				if err != nil {
					t.Fatalf("%s: decode: %v", prof, err)
				}
				if _, isConnect := o.(Connect); isConnect {
					got, _ := back.Lookup("destination.port")
					if fmt.Sprint(got) != strconv.Itoa(int(port)) {
						t.Fatalf("%s: destination.port = %v, want %d", prof, got, port)
					}
				}
			}
		}
	})
}

func TestEndpointLeaders(t *testing.T) {
	self := Process{PID: 50, Start: t0, Executable: "/usr/bin/bash"}
	self.GroupLeader = &Process{PID: 50, Start: t0, Executable: "/usr/bin/bash"}
	self.SessionLeader = loginShell
	r := fixtureRenderer(Endpoint)
	d, err := r.Exec(Exec{Time: t0, Serial: 1, Process: self})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := d.Lookup("process.group_leader.same_as_process"); v != true {
		t.Errorf("own group leader: same_as_process = %v, want true", v)
	}
	if v, _ := d.Lookup("process.session_leader.same_as_process"); v != false {
		t.Errorf("other session leader: same_as_process = %v, want false", v)
	}
	own, _ := d.Lookup("process.entity_id")
	if v, _ := d.Lookup("process.group_leader.entity_id"); v != own {
		t.Errorf("group leader entity id %v, want the process's own %v", v, own)
	}
	if _, ok := d.Lookup("process.entry_leader"); ok {
		t.Error("entry_leader rendered without an EntryLeader")
	}
	c, _ := r.Connect(Connect{Time: t0, Serial: 2, Process: self, Dest: netip.MustParseAddrPort("127.0.0.1:25"), Transport: TCP})
	if v, ok := c.Lookup("process.session_leader.entity_id"); !ok || v != EndpointEntityID(r.Agent.ID, loginShell) {
		t.Errorf("network event session_leader.entity_id = %v", v)
	}
	if _, ok := c.Lookup("process.session_leader.pid"); ok {
		t.Error("network event carries session_leader.pid; the Linux field list has only the entity id")
	}
}

// A forked shell that sleeps, then execs curl, is one instance from fork to
// end: every Defend document of it carries one process.entity_id and one
// process.start (the fork's), as the probes' group_leader start_time and
// RFC 0030's exec example have it; the exec lists the shell under
// process.previous, and Sysmon's ProcessGuid stays the same too.
func TestLifecycleKeepsIdentity(t *testing.T) {
	names := map[string]bool{
		"fork of a subshell": true, "exec after fork keeps the instance": true,
		"attempt with source read from the socket": true, "close of the attempted connection": true,
		"end with exit code": true,
	}
	for _, p := range []Profile{Endpoint, SysmonLinux} {
		ids, starts := map[string]bool{}, map[string]bool{}
		for _, e := range renderFixtures(t, p) {
			if !names[e.Name] || e.Document == nil {
				continue
			}
			id, _ := e.Document.Lookup("process.entity_id")
			ids[fmt.Sprint(id)] = true
			if s, ok := e.Document.Lookup("process.start"); ok {
				starts[fmt.Sprint(s)] = true
			}
		}
		if len(ids) != 1 {
			t.Errorf("%s: lifecycle of one process has entity ids %v, want one", p, ids)
		}
		if p == Endpoint && (len(starts) != 1 || !starts["2026-11-26T10:00:07.50Z"]) {
			t.Errorf("%s: process.start values %v, want only the fork's 2026-11-26T10:00:07.50Z", p, starts)
		}
	}
	d, err := fixtureRenderer(Endpoint).Render(fixtures[10].obs)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Lookup("process.previous.executable"); !reflect.DeepEqual(got, []any{"/usr/bin/bash"}) {
		t.Errorf("exec after fork: process.previous.executable = %v, want [/usr/bin/bash]", got)
	}
}

// asObject is a nested object of a Document, as jsondoc reads one.
func asObject(v any) (map[string]any, bool) {
	switch o := v.(type) {
	case map[string]any:
		return o, true
	case Document:
		return o, true
	}
	return nil, false
}
