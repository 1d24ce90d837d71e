package ecs

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// This file declares the typed observations the sensor (harness/sensor)
// hands to the renderer. They carry what the kernel reported, nothing shaped
// for a particular data source: the Renderer turns one observation into the
// document a given Profile (Elastic Defend, Auditbeat, Sysmon for Linux)
// would have sent. Fields the sensor could not fill stay at their zero value
// and the renderer omits the matching ECS fields rather than inventing them.

// NoID is the audit subsystem's "unset" value for auid and ses
// (4294967295, printed by auditd as "unset"). Auditbeat leaves user.audit.*
// and auditd.session out when they carry it.
const NoID = ^uint32(0)

// Process is one process instance as the kernel saw it at the moment of the
// event. Identity is (PID, Start): a reused PID with a new Start is a new
// instance and gets a new entity id.
type Process struct {
	PID  int // tgid, "pid=" in the SYSCALL record
	PPID int // "ppid=" in the SYSCALL record

	// Start is when this process instance began, as wall-clock time: the
	// fork that created it (the kernel's task start_time of the thread
	// group leader, /proc/<pid>/stat starttime). An execve does not change
	// it: the process after an exec is the same instance, with the same
	// PID, Start and entity id, and the image it replaced goes to Previous
	// (Elastic Defend's probes read task->group_leader->start_time, and
	// ECS RFC 0030's exec example keeps the fork's entity_id and start).
	// Entity ids are derived from it, so it must be the same value for
	// every event of one instance: use the kernel start time, not the time
	// the sensor first noticed the process. Elastic Defend ids use whole
	// seconds of it; the Sysmon-style GUID hashes the nanoseconds. Zero
	// means unknown (the renderer then omits process.start and derives ids
	// from the PID alone: stable, but not proof against PID reuse).
	Start time.Time

	Executable       string   // "exe=" — absolute path of the image
	Comm             string   // "comm=" — kernel task name (15 bytes max)
	WorkingDirectory string   // CWD record
	Args             []string // EXECVE record a0..aN, argv[0] first; nil if unknown

	UID, EUID, GID, EGID int    // real and effective ids from the SYSCALL record
	User, Group          string // names resolved from UID/GID; "" if unknown
	EUser, EGroup        string // names resolved from EUID/EGID; "" if unknown or equal to User/Group's ids

	// AUID and Session are the audit login uid and session id ("auid=",
	// "ses="); NoID when unset. Auditbeat renders them as user.audit.id and
	// auditd.session. The zero value means uid 0 / session 0, so a sensor
	// that does not know them must set NoID.
	AUID, Session uint32
	AUser         string // name resolved from AUID; "" if unknown, unset, or AUID == UID

	TTY string // "tty=" e.g. "pts0", or "(none)"

	// Parent is the parent instance when known (its PID equals PPID); it
	// gives process.parent.* and the parent's entity id. The Elastic
	// Defend profile follows Parent.Parent... for process.Ext.ancestry
	// (at most 20, cycles cut), so a sensor may link the chain or not.
	Parent *Process

	// GroupLeader, SessionLeader and EntryLeader are the instances leading
	// this process's process group (/proc/<pid>/stat pgrp), session (sid)
	// and entry into the system (the session's first process after init,
	// sshd, a container runtime...), when the sensor knows them. Elastic
	// Defend reports them as process.{group,session,entry}_leader.*, and
	// rules correlate on them ("sequence by process.entry_leader.entity_id").
	// Nil leaves the fields out. A leader may be the process itself.
	GroupLeader, SessionLeader, EntryLeader *Process

	// EntryMeta describes how the session was entered; meaningful on the
	// instance that is some process's EntryLeader. Zero when unknown.
	EntryMeta EntryMeta

	// Previous lists the images this instance ran before the current one,
	// oldest first: for a fork that then exec'd once, the one image it
	// inherited from its parent. ECS process.previous (RFC 0030: "an
	// array of previous executions for the process, including the initial
	// fork"). Nil when the process never exec'd since the sensor saw it
	// start, or when unknown.
	Previous []Image
}

// Image is one program a process ran: what an execve loaded.
type Image struct {
	Executable string   // absolute path of the image; "" if unknown
	Args       []string // argv, argv[0] first; nil if unknown
}

// EntryType is how a session was entered, in the words of ECS
// process.entry_leader.entry_meta.type.
type EntryType string

// Entry types ECS lists for process.entry_leader.entry_meta.type.
const (
	EntryInit      EntryType = "init"
	EntrySSHD      EntryType = "sshd"
	EntrySSM       EntryType = "ssm"
	EntryKubelet   EntryType = "kubelet"
	EntryTeleport  EntryType = "teleport"
	EntryTerminal  EntryType = "terminal"
	EntryConsole   EntryType = "console"
	EntryContainer EntryType = "container"
	EntryUnknown   EntryType = "unknown"
)

// EntryMeta is the entry into the system that started a session.
type EntryMeta struct {
	Type EntryType // "" when unknown (the renderer then omits entry_meta)
	// SourceIP is the remote address of the entry (an sshd session's
	// client); the zero Addr when none or unknown.
	SourceIP netip.Addr
}

// Name is the process name as Elastic Defend reports it: the basename of
// the executable (symlinks resolved by the kernel: "nc.openbsd"), falling
// back to the kernel comm. Auditbeat reports the comm instead, and the
// Sysmon integration "sysmon"; the renderer handles that per profile.
func (p Process) Name() string {
	if p.Executable != "" {
		if i := strings.LastIndexByte(p.Executable, '/'); i >= 0 && i < len(p.Executable)-1 {
			return p.Executable[i+1:]
		}
		return p.Executable
	}
	return p.Comm
}

// effectiveUser is EUser, or User when the effective uid is the real one
// (same id, same name: a deduction, not an invention).
func (p *Process) effectiveUser() string {
	if p.EUser == "" && p.EUID == p.UID {
		return p.User
	}
	return p.EUser
}

// effectiveGroup is EGroup, or Group when the effective gid is the real one.
func (p *Process) effectiveGroup() string {
	if p.EGroup == "" && p.EGID == p.GID {
		return p.Group
	}
	return p.EGroup
}

// loginUser is AUser, or User when the login uid is the real uid.
func (p *Process) loginUser() string {
	if p.AUser == "" && p.AUID != NoID && int64(p.AUID) == int64(p.UID) {
		return p.User
	}
	return p.AUser
}

// Audit is the audit record context an observation came from. Auditbeat
// documents expose it (auditd.sequence, auditd.data.syscall, ...); the other
// profiles ignore it. The zero value means "not from audit" (e.g. a fixture).
type Audit struct {
	Sequence uint64 // audit event serial ("msg=audit(t:SERIAL)")
	Syscall  string // "connect", "execve" (name, not number)
	Arch     string // "x86_64", "i386", ... as auditd/aucoalesce name it
	Exit     int64  // syscall return value: 0, a pid, or -errno
	Success  bool   // "success=yes"
	Key      string // the audit rule key that matched
	// Argc etc. are not kept: Args carries argv.
}

// Observations. Each carries the kernel time of the event, a Serial that
// orders the sensor's events (the audit serial for the audit sensor, a
// per-run counter for others; profiles use it for event.sequence), the
// process as it was at that moment, and, for the audit sensor, its record
// context. A sensor leaves every field it cannot observe at its zero value;
// the renderer then omits the matching ECS fields instead of inventing them.

// Fork is a new process: a fork(2), vfork(2) or clone(2) that created a new
// thread group (not a thread).
type Fork struct {
	Time   time.Time
	Serial uint64
	// Process is the child. It has its own PID and Start (the fork time)
	// and, until it execs, the parent's image: Executable, Args, Comm and
	// WorkingDirectory as inherited, credentials as the child has them.
	// Process.Parent is the process that forked.
	Process Process
	Audit   Audit
}

// Exec is a successful execve(2)/execveat(2): the same process instance
// (same PID and Start) now runs a new image.
type Exec struct {
	Time    time.Time // kernel timestamp of the syscall exit
	Serial  uint64    // audit serial; used for event.sequence where the profile has one
	Process Process   // the process after the exec (new image, new Args; Previous holds the old ones)
	Audit   Audit
}

// Exit is the end of a process: its last thread exited.
type Exit struct {
	Time    time.Time
	Serial  uint64
	Process Process // the process as it ended (its last image)
	// ExitCode is the status the process passed to exit(2)/exit_group(2),
	// 0..255 (WEXITSTATUS of the wait status). For a process killed by a
	// signal it is 0 and Signal says which; a sensor that cannot tell
	// leaves both 0.
	ExitCode int
	// Signal is the number of the signal that killed the process (the low
	// 7 bits of the wait status), 0 if it exited or is unknown.
	Signal int
	Audit  Audit
}

// Connect is one connection attempt: a connect(2) to an AF_INET or AF_INET6
// address, recorded whether or not it succeeded.
type Connect struct {
	Time    time.Time
	Serial  uint64
	Process Process

	Dest netip.AddrPort // the peer's address and port
	// Source is the local address and port of the connecting socket. A
	// sensor that reads the socket when the kernel has bound it (at
	// tcp_v4_connect/tcp_v6_connect, as Elastic Defend's probe does) fills
	// it on every attempt; one that sees only the syscall arguments (the
	// audit sensor) knows it only when the peer's accept was joined (one
	// of our fake servers logged it) and leaves it zero otherwise.
	Source netip.AddrPort

	// Result is the errno name of a failed connect(2) ("ECONNREFUSED",
	// "EINPROGRESS", "ENETUNREACH") or "" for a return of 0.
	Result string

	// Established is true when the peer is known to have accepted the
	// connection (e.g. one of our fake servers logged the accept). A
	// non-blocking connect returns EINPROGRESS whether or not it will
	// succeed, so Result alone cannot say.
	Established bool

	Transport Transport // tcp or udp; "" if unknown
	Audit     Audit
}

// Accept is an inbound connection accepted by a local process: accept(2)
// or accept4(2) returned a connected socket (inet_csk_accept).
type Accept struct {
	Time    time.Time
	Serial  uint64
	Process Process // the process that accepted

	Local  netip.AddrPort // this host's end: the listening address and port
	Remote netip.AddrPort // the peer that connected

	Transport Transport // tcp; "" if unknown
	Audit     Audit
}

// Close is the end of a connection a process had attempted or accepted:
// the socket was closed (tcp_close). A sensor that cannot see closes (the
// audit sensor) never produces one, and says so in its run report.
type Close struct {
	Time    time.Time
	Serial  uint64
	Process Process // the process that closed the socket

	Local  netip.AddrPort // this host's end of the connection
	Remote netip.AddrPort // the peer's end

	// Direction is how the connection began, from this host's point of
	// view: Egress for a socket that connected out (a Connect), Ingress
	// for one that was accepted (an Accept); "" when the sensor does not
	// know.
	Direction Direction

	// BytesSent and BytesReceived count the payload bytes this socket sent
	// and received over its life (tcp_sock bytes_acked / bytes_received);
	// zero when unknown.
	BytesSent, BytesReceived uint64

	Transport Transport // tcp; "" if unknown
	Audit     Audit
}

// Direction is the direction of a connection from the host's point of view,
// in the words of ECS network.direction for host-based monitoring.
type Direction string

const (
	Egress  Direction = "egress"  // initiated by this host (connect)
	Ingress Direction = "ingress" // initiated by the peer (accept)
)

// Transport is the IANA protocol name, as ECS network.transport carries it.
type Transport string

const (
	TCP Transport = "tcp"
	UDP Transport = "udp"
)

// Host describes the machine the sensor ran on (host.* in every profile).
// It holds the raw facts; each profile words them as its source does (Elastic
// Defend reports host.os.name "Linux" and host.os.full "Debian 12", the Beats
// report the os-release NAME and VERSION). LocalHost fills it for this machine.
type Host struct {
	Name         string // host.name: the hostname as the agent reports it
	ID           string // host.id: /etc/machine-id
	Hostname     string // host.hostname
	Architecture string // host.architecture: uname -m, e.g. "x86_64"

	OSName      string // os-release NAME, e.g. "Debian GNU/Linux"
	OSVersion   string // os-release VERSION, e.g. "12 (bookworm)"
	OSVersionID string // os-release VERSION_ID, e.g. "12"
	OSPlatform  string // os-release ID, e.g. "debian"
	OSFamily    string // e.g. "debian", "redhat" (from ID / ID_LIKE)
	OSCodename  string // os-release VERSION_CODENAME, e.g. "bookworm"
	// OSPointRelease is the distribution's point release where it keeps one
	// apart from os-release: /etc/debian_version on Debian ("12.11").
	// Elastic Defend reports it as host.os.version ("Debian 11.9").
	OSPointRelease string

	Kernel        string // uname -r, e.g. "6.1.0-18-amd64"
	KernelVersion string // uname -v, e.g. "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)"

	IPs  []string // every interface address, loopback included
	MACs []string // "AA-BB-CC-DD-EE-FF", as ECS recommends

	Containerized bool // running inside a container (Beats: host.containerized)
}

// Agent describes the shipper the rendered documents claim to come from
// (agent.*). Type and Version default per profile when empty.
type Agent struct {
	ID, Name, Version, Type string
}

// Profile selects which real data source the rendered documents imitate.
type Profile string

const (
	// Endpoint is Elastic Defend (the endpoint integration): the default.
	Endpoint Profile = "endpoint"
	// Auditbeat is Auditbeat's auditd module.
	Auditbeat Profile = "auditbeat"
	// SysmonLinux is Sysmon for Linux shipped by Elastic Agent's
	// sysmon_linux integration.
	SysmonLinux Profile = "sysmon-linux"
)

// Profiles lists every profile, default first.
var Profiles = []Profile{Endpoint, Auditbeat, SysmonLinux}

// ParseProfile returns the profile named s ("" selects Endpoint).
func ParseProfile(s string) (Profile, error) {
	if s == "" {
		return Endpoint, nil
	}
	for _, p := range Profiles {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown profile %q (want endpoint, auditbeat or sysmon-linux)", s)
}

// String returns the profile's name as ParseProfile accepts it.
func (p Profile) String() string { return string(p) }
