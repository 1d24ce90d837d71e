package ecs

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-libaudit/v2/aucoalesce"
	"github.com/elastic/go-libaudit/v2/auparse"
)

// The Auditbeat profile is checked against the library Auditbeat itself
// uses: raw audit records for an observation go through go-libaudit's
// aucoalesce (what buildMetricbeatEvent starts from), and every value the
// renderer derives by hand must equal the library's.
func TestAuditbeatMatchesAucoalesce(t *testing.T) {
	const stamp = "1795687200.015" // 2026-11-26T10:00:00.015Z
	when := time.Unix(1795687200, 15_000_000)
	hexArgs := func(args ...string) string { return fmt.Sprintf("%X", strings.Join(args, "\x00")) }

	tests := []struct {
		name    string
		records []string
		obs     Observation
	}{
		{
			name: "non-blocking connect to pop3",
			records: []string{
				`type=SYSCALL msg=audit(` + stamp + `:1002): arch=c000003e syscall=42 success=no exit=-115 a0=3 a1=7ffc5e0e5a50 a2=10 a3=0 items=0 ppid=4100 pid=4242 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="nc" exe="/usr/bin/nc.openbsd" key="purpleharness"`,
				`type=SOCKADDR msg=audit(` + stamp + `:1002): saddr=0200006E7F0000010000000000000000`,
				`type=PROCTITLE msg=audit(` + stamp + `:1002): proctitle=` + hexArgs("nc", "-w", "1", "127.0.0.1", "110"),
			},
			obs: Connect{Time: when, Serial: 1002, Transport: TCP, Result: "EINPROGRESS",
				Dest: netip.MustParseAddrPort("127.0.0.1:110"),
				Process: Process{PID: 4242, PPID: 4100, Executable: "/usr/bin/nc.openbsd", Comm: "nc",
					Args: []string{"nc", "-w", "1", "127.0.0.1", "110"}, UID: 1000, EUID: 1000, GID: 1000, EGID: 1000,
					AUID: 1000, Session: 3, TTY: "pts0"},
				Audit: Audit{Sequence: 1002, Syscall: "connect", Arch: "x86_64", Exit: -115, Key: "purpleharness"}},
		},
		{
			name: "refused connect by a daemon without login uid, ipv6",
			records: []string{
				`type=SYSCALL msg=audit(` + stamp + `:2001): arch=c000003e syscall=42 success=no exit=-111 a0=5 a1=7ffc5e0e5a50 a2=1c a3=0 items=0 ppid=1 pid=700 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="python3" exe="/usr/bin/python3.11"`,
				`type=SOCKADDR msg=audit(` + stamp + `:2001): saddr=0A00024B000000000000000000000000000000000000000100000000`,
				`type=PROCTITLE msg=audit(` + stamp + `:2001): proctitle=` + hexArgs("python3", "-c", "import socket"),
			},
			obs: Connect{Time: when, Serial: 2001, Transport: TCP, Result: "ECONNREFUSED",
				Dest: netip.MustParseAddrPort("[::1]:587"),
				Process: Process{PID: 700, PPID: 1, Executable: "/usr/bin/python3.11", Comm: "python3",
					Args: []string{"python3", "-c", "import socket"}, AUID: NoID, Session: NoID, TTY: "(none)"},
				Audit: Audit{Sequence: 2001, Syscall: "connect", Arch: "x86_64", Exit: -111}},
		},
		{
			name: "execve of nc with a setuid twist",
			records: []string{
				`type=SYSCALL msg=audit(` + stamp + `:1001): arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 a3=0 items=2 ppid=4100 pid=4242 auid=1000 uid=1000 gid=1000 euid=0 suid=0 fsuid=0 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="nc" exe="/usr/bin/nc.openbsd" key="purpleharness"`,
				`type=EXECVE msg=audit(` + stamp + `:1001): argc=5 a0="nc" a1="-w" a2="1" a3="127.0.0.1" a4="110"`,
				`type=CWD msg=audit(` + stamp + `:1001): cwd="/work"`,
				`type=PATH msg=audit(` + stamp + `:1001): item=0 name="/usr/bin/nc.openbsd" inode=1234 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0`,
				`type=PROCTITLE msg=audit(` + stamp + `:1001): proctitle=` + hexArgs("nc", "-w", "1", "127.0.0.1", "110"),
			},
			obs: Exec{Time: when, Serial: 1001,
				Process: Process{PID: 4242, PPID: 4100, Executable: "/usr/bin/nc.openbsd", Comm: "nc", WorkingDirectory: "/work",
					Args: []string{"nc", "-w", "1", "127.0.0.1", "110"}, UID: 1000, EUID: 0, GID: 1000, EGID: 1000,
					AUID: 1000, Session: 3, TTY: "pts0"},
				Audit: Audit{Sequence: 1001, Syscall: "execve", Arch: "x86_64", Exit: 0, Success: true, Key: "purpleharness"}},
		},
		{
			name: "execve of a shell: how is the comm",
			records: []string{
				`type=SYSCALL msg=audit(` + stamp + `:1003): arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 a3=0 items=2 ppid=4000 pid=4100 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="bash" exe="/usr/bin/bash"`,
				`type=EXECVE msg=audit(` + stamp + `:1003): argc=3 a0="bash" a1="-c" a2=6563686F206869`,
				`type=CWD msg=audit(` + stamp + `:1003): cwd="/work"`,
				`type=PATH msg=audit(` + stamp + `:1003): item=0 name="/usr/bin/bash" inode=99 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0`,
				`type=PROCTITLE msg=audit(` + stamp + `:1003): proctitle=` + hexArgs("bash", "-c", "echo hi"),
			},
			obs: Exec{Time: when, Serial: 1003,
				Process: Process{PID: 4100, PPID: 4000, Executable: "/usr/bin/bash", Comm: "bash", WorkingDirectory: "/work",
					Args: []string{"bash", "-c", "echo hi"}, UID: 1000, EUID: 1000, GID: 1000, EGID: 1000,
					AUID: 1000, Session: 3, TTY: "pts0"},
				Audit: Audit{Sequence: 1003, Syscall: "execve", Arch: "x86_64", Success: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var msgs []*auparse.AuditMessage
			for _, line := range tt.records {
				m, err := auparse.ParseLogLine(line)
				if err != nil {
					t.Fatalf("ParseLogLine(%q): %v", line, err)
				}
				msgs = append(msgs, m)
			}
			ev, err := aucoalesce.CoalesceMessages(msgs)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := Renderer{Profile: Auditbeat}.Render(tt.obs)
			if err != nil {
				t.Fatal(err)
			}
			outcome := ev.Result
			if outcome == "fail" {
				outcome = "failure"
			}
			want := map[string]any{
				"@timestamp":                      ev.Timestamp.UTC().Format(layoutMilli),
				"event.action":                    ev.Summary.Action,
				"event.category":                  strs(ev.ECS.Event.Category),
				"event.type":                      strs(ev.ECS.Event.Type),
				"event.outcome":                   outcome,
				"auditd.result":                   ev.Result,
				"auditd.sequence":                 uint64(ev.Sequence),
				"auditd.data.syscall":             ev.Data["syscall"],
				"auditd.data.arch":                ev.Data["arch"],
				"auditd.data.exit":                ev.Data["exit"],
				"auditd.data.tty":                 ev.Data["tty"],
				"auditd.summary.actor.primary":    ev.Summary.Actor.Primary,
				"auditd.summary.actor.secondary":  ev.Summary.Actor.Secondary,
				"auditd.summary.object.type":      ev.Summary.Object.Type,
				"auditd.summary.object.primary":   ev.Summary.Object.Primary,
				"auditd.summary.how":              ev.Summary.How,
				"process.name":                    ev.Process.Name,
				"process.executable":              ev.Process.Exe,
				"process.title":                   ev.Process.Title,
				"user.id":                         ev.User.IDs["uid"],
				"user.group.id":                   ev.User.IDs["gid"],
				"tags":                            nilIfEmpty(ev.Tags),
				"auditd.summary.object.secondary": emptyAsAbsent(ev.Summary.Object.Secondary),
				"process.working_directory":       emptyAsAbsent(ev.Process.CWD),
				"auditd.data.argc":                emptyAsAbsent(ev.Data["argc"]),
				"auditd.data.socket.addr":         emptyAsAbsent(ev.Data["socket_addr"]),
				"auditd.data.socket.port":         emptyAsAbsent(ev.Data["socket_port"]),
				"auditd.data.socket.family":       emptyAsAbsent(ev.Data["socket_family"]),
			}
			if len(ev.Process.Args) > 0 {
				want["process.args"] = strs(ev.Process.Args)
			}
			if ev.Session != "unset" {
				want["auditd.session"] = ev.Session
			}
			if auid := ev.User.IDs["auid"]; auid != "unset" {
				want["user.audit.id"] = auid
			}
			if euid := ev.User.IDs["euid"]; euid != ev.User.IDs["uid"] {
				want["user.effective.id"] = euid
				want["user.effective.group.id"] = ev.User.IDs["egid"]
			}
			if ev.Dest != nil {
				want["destination.ip"] = ev.Dest.IP
				want["destination.port"] = ev.Dest.Port
			}
			if ev.Net != nil {
				want["network.direction"] = ev.Net.Direction.String()
			}
			for path, w := range want {
				got, ok := doc.Lookup(path)
				if w == nil {
					if ok {
						t.Errorf("%s = %#v; aucoalesce has no value", path, got)
					}
					continue
				}
				if p, isInt := got.(int); isInt && path != "auditd.sequence" {
					got = p
				}
				if !reflect.DeepEqual(got, w) {
					t.Errorf("%s = %#v, aucoalesce says %#v", path, got, w)
				}
			}
			if pid, _ := doc.Lookup("process.pid"); fmt.Sprint(pid) != ev.Process.PID {
				t.Errorf("process.pid = %v, aucoalesce says %s", pid, ev.Process.PID)
			}
			if ppid, _ := doc.Lookup("process.parent.pid"); fmt.Sprint(ppid) != ev.Process.PPID {
				t.Errorf("process.parent.pid = %v, aucoalesce says %s", ppid, ev.Process.PPID)
			}
		})
	}
}

func emptyAsAbsent(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nilIfEmpty(v []string) any {
	if len(v) == 0 {
		return nil
	}
	return strs(v)
}
