package ecs

import (
	"net/netip"
	"time"
)

// Profile Endpoint: Elastic Defend on Linux, as the endpoint package
// documents its events (elastic/endpoint-package,
// package/endpoint/docs/custom_documentation/network/linux/
// linux_network_connection_attempt.md and process/linux/linux_process_exec.md,
// data_stream/*/sample_event.json) and as real Linux documents look (numeric
// user and group ids, entity ids "base64(agent-pid-start)", 7-digit
// timestamps). docs/profiles.md lists every field.

// EndpointECSVersion is the ecs.version Elastic Defend 8.10 and later send.
const EndpointECSVersion = "8.10.0"

func (r Renderer) endpointCommon(d Document, kind Kind, t time.Time, serial uint64) {
	d.Set("@timestamp", ts(t, layout100ns))
	d.Set("agent.id", r.Agent.ID)
	d.Set("agent.type", "endpoint")
	d.Set("agent.version", r.agentVersion())
	d.Set("elastic.agent.id", r.Agent.ID)
	d.Set("data_stream.type", "logs")
	d.Set("data_stream.dataset", "endpoint.events."+string(kind))
	d.Set("data_stream.namespace", r.namespace())
	d.Set("ecs.version", EndpointECSVersion)
	d.Set("event.kind", "event")
	d.Set("event.module", "endpoint")
	d.Set("event.dataset", "endpoint.events."+string(kind))
	d.Set("event.category", []any{string(kind)})
	d.Set("event.type", []any{"start"})
	d.Set("event.created", ts(t, layout100ns))
	d.Set("event.sequence", serial)
	d.Set("event.id", endpointEventID(r.Host.ID, serial, kind))
	r.endpointHost(d)
}

func (r Renderer) endpointHost(d Document) {
	h := r.Host
	setIf(d, "host.architecture", h.Architecture)
	setIf(d, "host.hostname", h.Hostname)
	setIf(d, "host.id", h.ID)
	setList(d, "host.ip", h.IPs)
	setList(d, "host.mac", h.MACs)
	setIf(d, "host.name", h.Name)
	// Defend reports the kernel as its OS name and the distribution as the
	// variant: host.os.name "Linux", host.os.Ext.variant "Debian",
	// host.os.full "Debian 11.9", host.os.version "11.9", host.os.kernel
	// "<uname -r> <uname -v>".
	d.Set("host.os.type", "linux")
	d.Set("host.os.name", "Linux")
	setIf(d, "host.os.family", h.OSFamily)
	setIf(d, "host.os.platform", h.OSPlatform)
	variant := osVariant(h)
	setIf(d, "host.os.Ext.variant", variant)
	version := h.OSPointRelease
	if version == "" {
		version = h.OSVersionID
	}
	setIf(d, "host.os.version", version)
	if variant != "" && version != "" {
		d.Set("host.os.full", variant+" "+version)
	}
	kernel := h.Kernel
	if h.KernelVersion != "" && kernel != "" {
		kernel += " " + h.KernelVersion
	}
	setIf(d, "host.os.kernel", kernel)
}

// osVariant is the distribution's short name: the first word of os-release
// NAME ("Debian GNU/Linux" -> "Debian", "Ubuntu" -> "Ubuntu").
func osVariant(h Host) string {
	name := h.OSName
	for i, c := range name {
		if c == ' ' {
			return name[:i]
		}
	}
	return name
}

// endpointIdentity sets user.* and group.* (effective ids, with the real ids
// under Ext.real) at prefix "" (the event's user) or "process." style
// prefixes for the process's own user/real_user fields.
func endpointEventUser(d Document, p *Process) {
	d.Set("user.id", p.EUID)
	setIf(d, "user.name", p.effectiveUser())
	d.Set("user.Ext.real.id", p.UID)
	setIf(d, "user.Ext.real.name", p.User)
	d.Set("group.id", p.EGID)
	setIf(d, "group.name", p.effectiveGroup())
	d.Set("group.Ext.real.id", p.GID)
	setIf(d, "group.Ext.real.name", p.Group)
}

func endpointProcessUsers(d Document, prefix string, p *Process) {
	d.Set(prefix+"user.id", p.EUID)
	setIf(d, prefix+"user.name", p.effectiveUser())
	d.Set(prefix+"group.id", p.EGID)
	setIf(d, prefix+"group.name", p.effectiveGroup())
	d.Set(prefix+"real_user.id", p.UID)
	setIf(d, prefix+"real_user.name", p.User)
	d.Set(prefix+"real_group.id", p.GID)
	setIf(d, prefix+"real_group.name", p.Group)
}

// maxAncestry bounds process.Ext.ancestry (and protects against a cyclic
// Parent chain from a confused caller).
const maxAncestry = 20

func (r Renderer) endpointAncestry(d Document, p *Process) {
	var anc []any
	seen := map[*Process]bool{p: true}
	for q := p.Parent; q != nil && len(anc) < maxAncestry && !seen[q]; q = q.Parent {
		seen[q] = true
		anc = append(anc, EndpointEntityID(r.Agent.ID, q))
	}
	if len(anc) > 0 {
		d.Set("process.Ext.ancestry", anc)
	}
}

func interactive(tty string) (bool, bool) {
	switch tty {
	case "":
		return false, false
	case "(none)":
		return false, true
	}
	return true, true
}

// preSYNErrors are connect(2) failures that happen before tcp_v4_connect /
// tcp_v6_connect queue a SYN (state checks in inet_stream_connect, route
// and address lookups): Defend's probe only reports a connection attempt
// when that function returns 0, so these leave no event. Failures that
// arrive after the SYN (ECONNREFUSED, ETIMEDOUT, an ICMP EHOSTUNREACH) and
// the non-blocking EINPROGRESS do have one.
var preSYNErrors = map[string]bool{
	"ENETUNREACH": true, "EADDRNOTAVAIL": true, "EADDRINUSE": true, "EACCES": true, "EPERM": true,
	"EINVAL": true, "EAFNOSUPPORT": true, "EALREADY": true, "EISCONN": true, "EBADF": true,
	"ENOTSOCK": true, "EPROTOTYPE": true, "EFAULT": true,
}

// endpointEmits says whether Defend's Linux network probe (elastic/ebpf
// GPL/Events/Network/Probe.bpf.c: fexit tcp_v4_connect / tcp_v6_connect,
// emitted only when they return 0) would report c.
func endpointEmits(c Connect) error {
	switch {
	case c.Transport == UDP:
		return &NotEmittedError{Endpoint, NetworkKind,
			"Elastic Defend on Linux reports TCP connection attempts (tcp_v4_connect/tcp_v6_connect); UDP appears only as DNS traffic"}
	case !c.Established && preSYNErrors[c.Result]:
		return &NotEmittedError{Endpoint, NetworkKind,
			"connect(2) failed with " + c.Result + " before a SYN was sent; Elastic Defend reports an attempt only when tcp_v4_connect/tcp_v6_connect succeeds"}
	}
	return nil
}

func (r Renderer) endpointConnect(c Connect) (Document, error) {
	if err := endpointEmits(c); err != nil {
		return nil, err
	}
	d := Document{}
	r.endpointNetwork(d, "connection_attempted", "start", c.Time, c.Serial, &c.Process)
	// The probe fires when tcp_v4_connect returns, before the handshake:
	// Defend cannot know how the attempt ends, and its Linux events say
	// "unknown" (as its exec events do). Claiming success for an accepted
	// connection would be a value the real source never sends.
	d.Set("event.outcome", "unknown")
	d.Set("network.direction", string(Egress))
	// source.* is the local end tcp_v4_connect bound (the probe reads it
	// from the socket); a sensor that could not see it leaves it zero and
	// the fields stay out.
	endpointEnds(d, c.Source, c.Dest, c.Transport)
	return d, nil
}

// endpointAccept renders an accepted inbound connection. Defend's probe
// (elastic/ebpf GPL/Events/Network/Probe.bpf.c, inet_csk_accept) fills the
// same socket record as for an attempt: saddr/sport are the socket's own
// (local) end, daddr/dport the peer's; the documents keep that order.
func (r Renderer) endpointAccept(a Accept) (Document, error) {
	if a.Transport == UDP {
		return nil, &NotEmittedError{Endpoint, NetworkKind, "Elastic Defend on Linux reports accepted TCP connections (inet_csk_accept); UDP has no accept"}
	}
	d := Document{}
	r.endpointNetwork(d, "connection_accepted", "start", a.Time, a.Serial, &a.Process)
	d.Set("event.outcome", "unknown")
	d.Set("network.direction", string(Ingress))
	endpointEnds(d, a.Local, a.Remote, a.Transport)
	return d, nil
}

// endpointClose renders the close of a socket the probe saw connect or
// accept (tcp_close; it reports only sockets it recorded then).
func (r Renderer) endpointClose(c Close) (Document, error) {
	if c.Transport == UDP {
		return nil, &NotEmittedError{Endpoint, NetworkKind, "Elastic Defend on Linux reports the close of TCP sockets it saw connect or accept (tcp_close)"}
	}
	d := Document{}
	r.endpointNetwork(d, "disconnect_received", "end", c.Time, c.Serial, &c.Process)
	d.Set("event.outcome", "unknown")
	setIf(d, "network.direction", string(c.Direction))
	endpointEnds(d, c.Local, c.Remote, c.Transport)
	// The close probe reads the socket's byte counters: what this end
	// sent is source.bytes, what it received destination.bytes.
	if c.BytesSent > 0 || c.BytesReceived > 0 {
		d.Set("source.bytes", c.BytesSent)
		d.Set("destination.bytes", c.BytesReceived)
	}
	return d, nil
}

// endpointNetwork writes what every Linux network event carries: the
// common fields, the action and type, and the process's identity. The
// network events carry the process's command line but no process.args
// (linux_network_attempted_accepted_and_disconnect.md).
func (r Renderer) endpointNetwork(d Document, action, typ string, t time.Time, serial uint64, p *Process) {
	r.endpointCommon(d, NetworkKind, t, serial)
	d.Set("event.action", action)
	d.Set("event.type", []any{typ})
	d.Set("message", "Endpoint network event")
	d.Set("process.entity_id", EndpointEntityID(r.Agent.ID, p))
	d.Set("process.pid", p.PID)
	setIf(d, "process.executable", p.Executable)
	setIf(d, "process.name", p.Name())
	if p.Args != nil {
		d.Set("process.command_line", argsLine(p.Args))
	}
	if p.Parent != nil {
		d.Set("process.parent.entity_id", EndpointEntityID(r.Agent.ID, p.Parent))
	}
	r.endpointAncestry(d, p)
	r.endpointLeaders(d, p, false)
	endpointEventUser(d, p)
}

// endpointEnds writes source.* (src) and destination.* (dst) for the ends
// that are known, and network.transport/type.
func endpointEnds(d Document, src, dst netip.AddrPort, tr Transport) {
	for _, e := range []struct {
		prefix string
		ap     netip.AddrPort
	}{{"source.", src}, {"destination.", dst}} {
		if !e.ap.IsValid() {
			continue
		}
		a := e.ap.Addr().String()
		d.Set(e.prefix+"address", a)
		d.Set(e.prefix+"ip", a)
		d.Set(e.prefix+"port", int(e.ap.Port()))
	}
	if tr == "" {
		tr = TCP // the probes only report IPPROTO_TCP sockets
	}
	d.Set("network.transport", string(tr))
	switch {
	case dst.IsValid():
		d.Set("network.type", networkType(dst.Addr()))
	case src.IsValid():
		d.Set("network.type", networkType(src.Addr()))
	}
}

func (r Renderer) endpointExec(e Exec) Document {
	d := r.endpointProcessEvent("exec", "start", e.Time, e.Serial, &e.Process)
	// The images this instance ran before: process.previous, an array
	// (RFC 0030's exec example; args, args_count and executable are the
	// sub-fields linux_process_fork_exec_exit.md lists).
	var prev []any
	for _, im := range e.Process.Previous {
		m := map[string]any{}
		if im.Args != nil {
			m["args"] = strs(im.Args)
			m["args_count"] = len(im.Args)
		}
		if im.Executable != "" {
			m["executable"] = im.Executable
		}
		if len(m) > 0 {
			prev = append(prev, m)
		}
	}
	if len(prev) > 0 {
		d.Set("process.previous", prev)
	}
	return d
}

func (r Renderer) endpointFork(f Fork) Document {
	return r.endpointProcessEvent("fork", "start", f.Time, f.Serial, &f.Process)
}

func (r Renderer) endpointExit(x Exit) Document {
	d := r.endpointProcessEvent("end", "end", x.Time, x.Serial, &x.Process)
	// The exit probe reports (task->exit_code >> 8) & 0xff: the exit
	// status, 0 for a process killed by a signal (elastic/ebpf
	// GPL/Events/Process/Probe.bpf.c, sched_process_exit).
	d.Set("process.exit_code", x.ExitCode)
	d.Set("process.end", ts(x.Time, layout100ns))
	return d
}

// endpointProcessEvent writes a Linux process event (fork, exec, end:
// linux_process_fork_exec_exit.md): the process, its parent, leaders and
// ancestry, and the event's user.
func (r Renderer) endpointProcessEvent(action, typ string, t time.Time, serial uint64, p *Process) Document {
	d := Document{}
	r.endpointCommon(d, ProcessKind, t, serial)
	d.Set("event.action", action)
	d.Set("event.type", []any{typ})
	// Real Linux process events carry event.outcome "unknown".
	d.Set("event.outcome", "unknown")
	d.Set("message", "Endpoint process event")

	r.endpointProcess(d, "process.", p)
	r.endpointAncestry(d, p)
	r.endpointLeaders(d, p, true)
	if p.Parent != nil {
		r.endpointProcess(d, "process.parent.", p.Parent)
	} else if p.PPID > 0 {
		d.Set("process.parent.pid", p.PPID)
	}
	endpointEventUser(d, p)
	return d
}

// endpointLeaders writes process.{group,session,entry}_leader.*: only the
// entity ids on network events (linux_network_connection_attempt.md), the
// leader's description on exec events (linux_process_exec.md).
func (r Renderer) endpointLeaders(d Document, p *Process, full bool) {
	for _, l := range []struct {
		name   string
		leader *Process
	}{{"group_leader", p.GroupLeader}, {"session_leader", p.SessionLeader}, {"entry_leader", p.EntryLeader}} {
		if l.leader == nil {
			continue
		}
		prefix := "process." + l.name + "."
		d.Set(prefix+"entity_id", EndpointEntityID(r.Agent.ID, l.leader))
		if l.name == "entry_leader" && l.leader.Parent != nil {
			d.Set(prefix+"parent.entity_id", EndpointEntityID(r.Agent.ID, l.leader.Parent))
		}
		if !full {
			continue
		}
		r.endpointProcess(d, prefix, l.leader)
		d.Set(prefix+"same_as_process", l.leader.PID == p.PID && l.leader.Start.Equal(p.Start))
		if l.name == "entry_leader" && l.leader.EntryMeta.Type != "" {
			d.Set(prefix+"entry_meta.type", string(l.leader.EntryMeta.Type))
			if l.leader.EntryMeta.SourceIP.IsValid() {
				d.Set(prefix+"entry_meta.source.ip", l.leader.EntryMeta.SourceIP.String())
			}
		}
		if l.name == "entry_leader" && l.leader.Parent != nil {
			d.Set(prefix+"parent.pid", l.leader.Parent.PID)
			if !l.leader.Parent.Start.IsZero() {
				d.Set(prefix+"parent.start", ts(l.leader.Parent.Start, layoutTicks))
			}
		}
	}
}

func (r Renderer) endpointProcess(d Document, prefix string, p *Process) {
	d.Set(prefix+"entity_id", EndpointEntityID(r.Agent.ID, p))
	d.Set(prefix+"pid", p.PID)
	setIf(d, prefix+"executable", p.Executable)
	setIf(d, prefix+"name", p.Name())
	if p.Args != nil {
		d.Set(prefix+"args", strs(p.Args))
		d.Set(prefix+"args_count", len(p.Args))
		d.Set(prefix+"command_line", argsLine(p.Args))
	}
	if !p.Start.IsZero() {
		d.Set(prefix+"start", ts(p.Start, layoutTicks))
	}
	setIf(d, prefix+"working_directory", p.WorkingDirectory)
	if v, ok := interactive(p.TTY); ok {
		d.Set(prefix+"interactive", v)
	}
	endpointProcessUsers(d, prefix, p)
}
