package ecs

import (
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Profile Auditbeat: the auditd module of Auditbeat 8.x. The document is
// what buildMetricbeatEvent (elastic/beats auditbeat/module/auditd/
// audit_linux.go) makes of go-libaudit's aucoalesce output, with
// resolve_ids on (the default), plus the fields libbeat adds (agent.*,
// ecs.version, event.module, service.type) and add_host_metadata's host.*.
// Values keep Auditbeat's types: ids, ports and the session are strings
// ("0", "25"), pid and sequence are numbers. There is no process.entity_id:
// Auditbeat has none. docs/profiles.md lists every field.

// AuditbeatECSVersion is the ecs.version libbeat 8.x stamps on events.
const AuditbeatECSVersion = "8.0.0"

func (r Renderer) auditbeatCommon(d Document, a auditContext) {
	d.Set("@timestamp", ts(a.t, layoutMilli))
	setIf(d, "agent.id", r.Agent.ID)
	setIf(d, "agent.name", r.agentName())
	d.Set("agent.type", "auditbeat")
	d.Set("agent.version", r.agentVersion())
	d.Set("ecs.version", AuditbeatECSVersion)
	d.Set("service.type", "auditd")
	d.Set("event.module", "auditd")
	d.Set("event.kind", "event")
	r.beatsHost(d)

	p := a.p
	d.Set("auditd.message_type", "syscall")
	d.Set("auditd.sequence", a.sequence)
	if a.success {
		d.Set("auditd.result", "success")
		d.Set("event.outcome", "success")
	} else {
		d.Set("auditd.result", "fail")
		d.Set("event.outcome", "failure")
	}
	if p.Session != NoID {
		d.Set("auditd.session", strconv.FormatUint(uint64(p.Session), 10))
	}
	setIf(d, "auditd.data.syscall", a.syscall)
	setIf(d, "auditd.data.arch", a.arch)
	setIf(d, "auditd.data.exit", a.exit)
	setIf(d, "auditd.data.tty", p.TTY)

	// Summary: actor is auid (primary) and uid (secondary), resolved to
	// names when the names are known.
	if p.AUID == NoID {
		d.Set("auditd.summary.actor.primary", "unset")
	} else {
		d.Set("auditd.summary.actor.primary", nameOr(p.loginUser(), int(p.AUID)))
	}
	d.Set("auditd.summary.actor.secondary", nameOr(p.User, p.UID))
	if how := auditHow(p); how != "" {
		d.Set("auditd.summary.how", how)
	}

	// process.* as addProcess writes it: name is the kernel comm, title the
	// PROCTITLE record (argv joined by spaces, cut at the kernel's 128 bytes).
	d.Set("process.pid", p.PID)
	if p.PPID > 0 {
		d.Set("process.parent.pid", p.PPID)
	}
	setIf(d, "process.name", p.Comm)
	setIf(d, "process.executable", p.Executable)
	if t := procTitle(p.Args); t != "" {
		d.Set("process.title", t)
	}

	// user.* as addUser writes it: string ids, names from resolve_ids.
	d.Set("user.id", itoa(p.UID))
	setIf(d, "user.name", p.User)
	d.Set("user.group.id", itoa(p.GID))
	setIf(d, "user.group.name", p.Group)
	// user.effective is dropped when it equals user (removeRedundantEntity).
	if p.EUID != p.UID {
		d.Set("user.effective.id", itoa(p.EUID))
		setIf(d, "user.effective.name", p.EUser)
		d.Set("user.effective.group.id", itoa(p.EGID))
		setIf(d, "user.effective.group.name", p.effectiveGroup())
	}
	if p.AUID != NoID {
		d.Set("user.audit.id", strconv.FormatUint(uint64(p.AUID), 10))
		setIf(d, "user.audit.name", p.loginUser())
	}
	if a.key != "" {
		d.Set("tags", []any{a.key})
	}
}

// auditContext is what the Auditbeat renderer needs from either
// observation.
type auditContext struct {
	t        time.Time
	p        *Process
	sequence uint64
	success  bool
	syscall  string
	arch     string
	exit     string
	key      string
}

// nameOr returns name, or the decimal id when the name is unknown.
func nameOr(name string, id int) string {
	if name != "" {
		return name
	}
	return itoa(id)
}

// auditHow is aucoalesce's setHowDefaults: the executable, except for
// interpreters where the comm says more.
func auditHow(p *Process) string {
	exe := p.Executable
	if exe == "" {
		return p.Comm
	}
	for _, interp := range []string{"/usr/bin/python", "/usr/bin/sh", "/usr/bin/bash", "/usr/bin/perl"} {
		if strings.HasPrefix(exe, interp) && p.Comm != "" {
			return p.Comm
		}
	}
	return exe
}

// maxProcTitle is the kernel's limit on the PROCTITLE record
// (MAX_PROCTITLE_AUDIT_LEN).
const maxProcTitle = 128

func procTitle(args []string) string {
	t := argsLine(args)
	if len(t) > maxProcTitle {
		t = t[:maxProcTitle]
	}
	return t
}

// auditExit renders a syscall return the way auparse does: an errno name
// for failures, the decimal value otherwise.
func auditExit(exit int64) string {
	if exit < 0 {
		if name := unix.ErrnoName(syscall.Errno(-exit)); name != "" {
			return name
		}
	}
	return strconv.FormatInt(exit, 10)
}

func (r Renderer) auditbeatConnect(c Connect) Document {
	d := Document{}
	a := auditContext{
		t: c.Time, p: &c.Process, sequence: c.Serial, syscall: "connect",
		arch: c.Audit.Arch, key: c.Audit.Key,
	}
	if c.Audit.Sequence != 0 {
		a.sequence = c.Audit.Sequence
	}
	// The audit record says what connect(2) returned, nothing more: a
	// non-blocking connect that later succeeds is still "fail"/EINPROGRESS
	// to Auditbeat.
	if c.Audit.Syscall != "" {
		a.success, a.exit = c.Audit.Success, auditExit(c.Audit.Exit)
	} else {
		a.success, a.exit = c.Result == "", c.Result
		if c.Result == "" {
			a.exit = "0"
		}
	}
	r.auditbeatCommon(d, a)
	d.Set("event.action", "connected-to")
	d.Set("event.category", []any{"network"})
	d.Set("event.type", []any{"connection", "start"})

	ip := c.Dest.Addr().String()
	port := strconv.Itoa(int(c.Dest.Port()))
	d.Set("auditd.data.socket.addr", ip)
	d.Set("auditd.data.socket.port", port)
	d.Set("auditd.data.socket.family", networkType(c.Dest.Addr()))
	d.Set("auditd.summary.object.type", "socket")
	d.Set("auditd.summary.object.primary", ip)
	d.Set("auditd.summary.object.secondary", port)
	d.Set("destination.ip", ip)
	d.Set("destination.port", port)
	d.Set("network.direction", "egress")
	return d
}

// auditbeatAccept renders accept(2)/accept4(2) as aucoalesce normalises it
// ("accepted-connection-from", network/[connection,start]; the SOCKADDR
// record holds the peer, which setSocketAddress puts in source.* with
// direction ingress). It needs an audit rule on accept/accept4, as Auditbeat
// would.
func (r Renderer) auditbeatAccept(x Accept) Document {
	d := Document{}
	a := auditContext{
		t: x.Time, p: &x.Process, sequence: x.Serial,
		syscall: x.Audit.Syscall, arch: x.Audit.Arch, key: x.Audit.Key, success: true,
	}
	if x.Audit.Sequence != 0 {
		a.sequence = x.Audit.Sequence
	}
	if x.Audit.Syscall != "" {
		a.success, a.exit = x.Audit.Success, auditExit(x.Audit.Exit)
	}
	r.auditbeatCommon(d, a)
	d.Set("event.action", "accepted-connection-from")
	d.Set("event.category", []any{"network"})
	d.Set("event.type", []any{"connection", "start"})

	ip := x.Remote.Addr().String()
	port := strconv.Itoa(int(x.Remote.Port()))
	d.Set("auditd.data.socket.addr", ip)
	d.Set("auditd.data.socket.port", port)
	d.Set("auditd.data.socket.family", networkType(x.Remote.Addr()))
	d.Set("auditd.summary.object.type", "socket")
	d.Set("auditd.summary.object.primary", ip)
	d.Set("auditd.summary.object.secondary", port)
	d.Set("source.ip", ip)
	d.Set("source.port", port)
	d.Set("network.direction", "ingress")
	return d
}

// auditbeatExit: aucoalesce normalises exit_group as action "end"
// (process/end), but exit_group never returns, and what its audit record
// carries for result and exit is not established here; a signal death has
// no exit_group at all.
func (r Renderer) auditbeatExit(x Exit) (Document, error) {
	if x.Signal != 0 {
		return nil, &NotEmittedError{Auditbeat, ProcessKind,
			"the process was killed by a signal and never called exit_group(2), the only exit Auditbeat's auditd module can report"}
	}
	return nil, &NotRenderedError{Auditbeat, ProcessKind, "end",
		"Auditbeat reports exit_group(2) as \"end\" under an audit rule on it, but the result and exit fields of a syscall that never returns are not established from public sources"}
}

func (r Renderer) auditbeatExec(e Exec) Document {
	d := Document{}
	a := auditContext{
		t: e.Time, p: &e.Process, sequence: e.Serial, syscall: "execve",
		arch: e.Audit.Arch, key: e.Audit.Key, success: true, exit: "0",
	}
	if e.Audit.Sequence != 0 {
		a.sequence = e.Audit.Sequence
	}
	if e.Audit.Syscall != "" {
		a.syscall = e.Audit.Syscall
		a.success, a.exit = e.Audit.Success, auditExit(e.Audit.Exit)
	}
	r.auditbeatCommon(d, a)
	d.Set("event.action", "executed")
	d.Set("event.category", []any{"process"})
	d.Set("event.type", []any{"start"})
	p := &e.Process
	if p.Args != nil {
		d.Set("process.args", strs(p.Args))
		d.Set("auditd.data.argc", itoa(len(p.Args)))
	}
	setIf(d, "process.working_directory", p.WorkingDirectory)
	if p.Executable != "" {
		d.Set("auditd.summary.object.type", "file")
		d.Set("auditd.summary.object.primary", p.Executable)
	}
	return d
}

// beatsHost writes host.* as libbeat's add_host_metadata processor does:
// os-release words, loopback addresses left out.
func (r Renderer) beatsHost(d Document) {
	h := r.Host
	setIf(d, "host.name", h.Name)
	setIf(d, "host.hostname", h.Hostname)
	setIf(d, "host.architecture", h.Architecture)
	setIf(d, "host.id", h.ID)
	setList(d, "host.ip", nonLoopback(h.IPs))
	setList(d, "host.mac", h.MACs)
	d.Set("host.containerized", h.Containerized)
	d.Set("host.os.type", "linux")
	setIf(d, "host.os.platform", h.OSPlatform)
	setIf(d, "host.os.name", h.OSName)
	setIf(d, "host.os.family", h.OSFamily)
	setIf(d, "host.os.version", h.OSVersion)
	setIf(d, "host.os.codename", h.OSCodename)
	setIf(d, "host.os.kernel", h.Kernel)
}
