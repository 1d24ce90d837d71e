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

	// Start is when this process instance began, as wall-clock time. The
	// sensor derives it from /proc/<pid>/stat starttime (clock ticks since
	// boot) plus the boot time, or from the execve time for processes it saw
	// start. Entity ids are derived from it, so it must be the same value
	// for every event of one instance: use the kernel start time, not the
	// time the sensor first noticed the process. Elastic Defend ids use
	// whole seconds of it (an exec without a fork keeps its id, as in
	// Defend); the Sysmon-style GUID hashes the nanoseconds. Zero means
	// unknown (the renderer then omits process.start and derives ids from
	// the PID alone: stable, but not proof against PID reuse).
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

// Exec is a process start: a successful execve(2)/execveat(2).
type Exec struct {
	Time    time.Time // kernel timestamp of the syscall exit
	Serial  uint64    // audit serial; used for event.sequence where the profile has one
	Process Process   // the process after the exec (new image, new Args)
	Audit   Audit
}

// Connect is one connection attempt: a connect(2) to an AF_INET or AF_INET6
// address, recorded whether or not it succeeded.
type Connect struct {
	Time    time.Time
	Serial  uint64
	Process Process

	Dest   netip.AddrPort // from the SOCKADDR record
	Source netip.AddrPort // zero unless known (e.g. joined from the fake server's accept)

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
