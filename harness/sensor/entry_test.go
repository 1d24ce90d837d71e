package sensor

import (
	"testing"

	"github.com/purpleharness/purpleharness/ecs"
)

// TestDecideEntry pins the entry-leader decision to the cases of Elastic's
// open-source session tracking (elastic/beats
// x-pack/auditbeat/processors/sessionmd/processdb/db.go, evaluateEntryLeader,
// and its entry_leader_test.go scenarios; terminal classes from
// auditbeat/helper/tty/tty.go).
func TestDecideEntry(t *testing.T) {
	const (
		pts0     = 136
		ttyMajor = 4
	)
	for _, c := range []struct {
		name string
		f    EntryFacts
		want EntryDecision
		typ  ecs.EntryType
	}{
		{"init", EntryFacts{PID: 1, PPID: 0, SID: 1, Executable: "/usr/lib/systemd/systemd"}, EntryNever, ""},
		{"kthreadd", EntryFacts{PID: 2, PPID: 0, SID: 0}, EntryNever, ""},
		{"kernel thread", EntryFacts{PID: 40, PPID: 2, SID: 0}, EntryNever, ""},
		{"service started by init", EntryFacts{PID: 500, PPID: 1, SID: 500, Executable: "/usr/sbin/cron", ParentExecutable: "/usr/lib/systemd/systemd"}, EntryOwn, ecs.EntryInit},
		{"service whose parent is unknown", EntryFacts{PID: 500, PPID: 1, SID: 500, Executable: "/usr/sbin/cron"}, EntryOwn, ecs.EntryInit},
		{"child of a service", EntryFacts{PID: 501, PPID: 500, SID: 500, Executable: "/usr/bin/sh", ParentExecutable: "/usr/sbin/cron"}, EntryInherit, ""},
		{"ssh login shell", EntryFacts{PID: 900, PPID: 899, SID: 900, TTYMajor: pts0, Executable: "/usr/bin/bash", ParentExecutable: "/usr/sbin/sshd"}, EntryOwn, ecs.EntrySSHD},
		{"ssh command without a terminal", EntryFacts{PID: 900, PPID: 899, SID: 900, Executable: "/usr/bin/bash", ParentExecutable: "/usr/sbin/sshd"}, EntryOwn, ecs.EntrySSHD},
		{"sshd's own privilege-separated child", EntryFacts{PID: 899, PPID: 898, SID: 899, Executable: "/usr/sbin/sshd", ParentExecutable: "/usr/sbin/sshd"}, EntryInherit, ""},
		{"shell under sshd, not a session leader", EntryFacts{PID: 901, PPID: 899, SID: 880, Executable: "/usr/bin/bash", ParentExecutable: "/usr/sbin/sshd"}, EntryInherit, ""},
		{"ssm session", EntryFacts{PID: 700, PPID: 699, SID: 700, TTYMajor: pts0, TTYMinor: 3, Executable: "/usr/bin/sh", ParentExecutable: "/usr/bin/ssm-session-worker"}, EntryOwn, ecs.EntrySSM},
		{"ssm without a pseudo-terminal", EntryFacts{PID: 700, PPID: 699, SID: 700, Executable: "/usr/bin/sh", ParentExecutable: "/usr/bin/ssm-session-worker"}, EntryInherit, ""},
		{"container entrypoint", EntryFacts{PID: 800, PPID: 799, SID: 800, Executable: "/app/server", ParentExecutable: "/usr/bin/containerd-shim-runc-v2"}, EntryOwn, ecs.EntryContainer},
		{"podman entrypoint", EntryFacts{PID: 800, PPID: 799, SID: 800, Executable: "/app/server", ParentExecutable: "/usr/bin/conmon"}, EntryOwn, ecs.EntryContainer},
		{"runc itself under a shim", EntryFacts{PID: 798, PPID: 797, SID: 798, Executable: "/usr/bin/runc", ParentExecutable: "/usr/bin/containerd-shim-runc-v2"}, EntryInherit, ""},
		{"serial line login", EntryFacts{PID: 600, PPID: 599, SID: 600, TTYMajor: ttyMajor, TTYMinor: 64, Executable: "/usr/bin/login", ParentExecutable: "/usr/sbin/agetty"}, EntryOwn, ecs.EntryTerminal},
		{"virtual console login", EntryFacts{PID: 600, PPID: 599, SID: 600, TTYMajor: ttyMajor, TTYMinor: 1, Executable: "/usr/bin/login", ParentExecutable: "/usr/sbin/agetty"}, EntryOwn, ecs.EntryConsole},
		{"virtual console, not login", EntryFacts{PID: 601, PPID: 599, SID: 601, TTYMajor: ttyMajor, TTYMinor: 1, Executable: "/usr/bin/bash", ParentExecutable: "/usr/bin/login"}, EntryInherit, ""},
		{"terminal emulator's shell", EntryFacts{PID: 1000, PPID: 990, SID: 1000, TTYMajor: pts0, TTYMinor: 1, Executable: "/usr/bin/bash", ParentExecutable: "/usr/bin/gnome-terminal-server"}, EntryInherit, ""},
		{"setsid under anything else", EntryFacts{PID: 1100, PPID: 1099, SID: 1100, Executable: "/usr/bin/sleep", ParentExecutable: "/usr/bin/bash"}, EntryInherit, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, typ := DecideEntry(c.f)
			if got != c.want || typ != c.typ {
				t.Errorf("DecideEntry(%+v) = %v %q, want %v %q", c.f, got, typ, c.want, c.typ)
			}
		})
	}
}

func TestClassifyTTY(t *testing.T) {
	for _, c := range []struct {
		major, minor uint32
		want         TTYClass
	}{
		{0, 0, TTYNone}, {136, 0, TTYPts}, {143, 255, TTYPts}, {144, 0, TTYNone},
		{4, 0, TTYConsole}, {4, 63, TTYConsole}, {4, 64, TTYSerial}, {4, 255, TTYSerial},
		{4, 256, TTYNone}, {5, 1, TTYNone},
	} {
		if got := ClassifyTTY(c.major, c.minor); got != c.want {
			t.Errorf("ClassifyTTY(%d, %d) = %v, want %v", c.major, c.minor, got, c.want)
		}
	}
}
