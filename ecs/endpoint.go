package ecs

import "time"

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
	r.endpointCommon(d, NetworkKind, c.Time, c.Serial)
	d.Set("event.action", "connection_attempted")
	// The probe fires when tcp_v4_connect returns, before the handshake:
	// Defend cannot know how the attempt ends, and its Linux events say
	// "unknown" (as its exec events do). Claiming success for an accepted
	// connection would be a value the real source never sends.
	d.Set("event.outcome", "unknown")
	d.Set("message", "Endpoint network event")

	dst := c.Dest.Addr().String()
	d.Set("destination.address", dst)
	d.Set("destination.ip", dst)
	d.Set("destination.port", int(c.Dest.Port()))
	if c.Source.IsValid() {
		src := c.Source.Addr().String()
		d.Set("source.address", src)
		d.Set("source.ip", src)
		d.Set("source.port", int(c.Source.Port()))
	}
	setIf(d, "network.transport", string(c.Transport))
	d.Set("network.type", networkType(c.Dest.Addr()))

	// The network event carries the process's identity and, in current
	// endpoint-package docs (linux_network_connection_attempt.md), its
	// command line — but no process.args.
	p := &c.Process
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
	return d, nil
}

func (r Renderer) endpointExec(e Exec) Document {
	d := Document{}
	r.endpointCommon(d, ProcessKind, e.Time, e.Serial)
	d.Set("event.action", "exec")
	// Real Linux exec events carry event.outcome "unknown".
	d.Set("event.outcome", "unknown")
	d.Set("message", "Endpoint process event")

	p := &e.Process
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
