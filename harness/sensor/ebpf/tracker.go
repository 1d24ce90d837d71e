//go:build linux

package ebpf

import (
	"bytes"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/harness/sensor"
)

// tracker turns ring buffer records into observations. It keeps one entry
// per process instance it knows of (the latest per pid), the set of pids in
// the tracked tree, and the sockets it saw connect or accept, keyed by the
// kernel address of their struct sock: later state changes of one socket
// run in other contexts (softirq, another process), so only that address
// ties them to the process that owns the socket.
//
// Process identity is (pid, start): start is the thread group leader's
// kernel start time, set at fork. An exec keeps it (the same instance runs a
// new image; the old one goes to Previous), as Elastic Defend's probes read
// task->group_leader->start_time.
type tracker struct {
	cfg     Config
	clk     clock
	self    int
	roots   map[int]bool
	members map[int]bool
	outside map[int]bool
	infra   map[int]bool
	procs   map[uint32]*proc
	socks   map[uint64]*sock
	serial  uint64
	names   *names
	// gen changes whenever an entry changes; a snapshot made at the same
	// gen is reused, so a burst of events from unchanged processes does
	// not copy their ancestry again and again.
	gen uint64
}

type proc struct {
	p                  ecs.Process // Parent and leaders unset; snapshot links them
	startNs            uint64
	parentStartNs      uint64
	pgid, sid          uint32
	ttyMajor, ttyMinor uint32 // controlling terminal; 0, 0 for none
	exited             bool
	// entry is the process's entry leader (nil: none), valid once
	// entryDecided; entryType is how the session was entered, set on
	// the entry leader itself. A fork inherits the parent's; an exec
	// decides again (sensor.DecideEntry).
	entry        *proc
	entryType    ecs.EntryType
	entryDecided bool
	snap         ecs.Process // the last snapshot, valid while snapGen == tracker.gen
	snapGen      uint64
}

type sock struct {
	owner         ecs.Process
	dir           ecs.Direction
	local, remote netip.AddrPort
	synNs         uint64
	established   bool
	closed        bool
	transport     ecs.Transport
}

// Bounds on the tables; past them exited processes and closed sockets are
// forgotten first, then everything (ancestry of older processes is lost,
// never memory).
const (
	maxProcs = 1 << 16
	maxSocks = 1 << 16
	// maxAncestry is how deep Parent chains go (Elastic Defend's
	// process.Ext.ancestry holds at most 20 entity ids).
	maxAncestry = 20
)

// infraNames are executables whose events are container plumbing.
var infraNames = map[string]bool{
	"docker-proxy": true, "dockerd": true, "containerd": true, "runc": true,
	"containerd-shim": true, "containerd-shim-runc-v2": true, "docker-init": true,
}

func newTracker(cfg Config, clk clock, self int) *tracker {
	t := &tracker{
		cfg: cfg, clk: clk, self: self,
		roots: map[int]bool{}, members: map[int]bool{}, outside: map[int]bool{},
		infra: map[int]bool{},
		procs: map[uint32]*proc{}, socks: map[uint64]*sock{},
		names: newNames(),
	}
	for _, p := range cfg.Roots {
		t.track(p)
	}
	for _, p := range cfg.InfraPIDs {
		t.infra[p] = true
	}
	return t
}

func (t *tracker) track(pid int) {
	t.roots[pid] = true
	t.members[pid] = true
	delete(t.outside, pid)
}

func (t *tracker) next() uint64 {
	t.serial++
	return t.serial
}

// proc handles a fork (the record's task is the child) or an exit.
func (t *tracker) proc(e *phProcEvent) (sensor.Observation, bool) {
	now := t.clk.wall(e.Ktime)
	switch e.Kind {
	case kindFork:
		parent := t.parentOf(&e.Task)
		child := t.newProc(&e.Task)
		if parent != nil {
			// Until it execs, the child runs its parent's image, in
			// its parent's entry.
			child.p.Executable = parent.p.Executable
			child.p.Args = parent.p.Args
			child.p.WorkingDirectory = parent.p.WorkingDirectory
			child.entry, child.entryDecided = t.entryOf(parent, 0), true
		}
		t.remember(child)
		if t.members[int(e.Task.Ppid)] {
			t.members[int(e.Task.Pid)] = true
		}
		delete(t.outside, int(e.Task.Pid))
		p := t.snapshot(child)
		return t.classify(sensor.Observation{Fork: &ecs.Fork{Time: now, Serial: t.next(), Process: p}}, &p)
	case kindExit:
		pr := t.current(&e.Task)
		pr.exited = true
		p := t.snapshot(pr)
		x := &ecs.Exit{Time: now, Serial: t.next(), Process: p}
		// task->exit_code is a wait status: the exit(2) status in bits
		// 8..15, or the killing signal in the low 7 bits.
		if sig := int(e.ExitCode & 0x7f); sig != 0 {
			x.Signal = sig
		} else {
			x.ExitCode = int(e.ExitCode>>8) & 0xff
		}
		return t.classify(sensor.Observation{Exit: x}, &p)
	}
	return sensor.Observation{}, false
}

func (t *tracker) exec(e *phExecEvent) (sensor.Observation, bool) {
	pr := t.current(&e.Task)
	if pr.p.Executable != "" || pr.p.Args != nil {
		pr.p.Previous = append(append([]ecs.Image(nil), pr.p.Previous...), ecs.Image{Executable: pr.p.Executable, Args: pr.p.Args})
	}
	t.gen++
	pr.p.Executable = joinPath(e.Exe[:min(int(e.ExeLen), len(e.Exe))])
	pr.p.Args = splitArgs(e.Args[:min(int(e.ArgsLen), len(e.Args))])
	if cwd := joinPath(e.Cwd[:min(int(e.CwdLen), len(e.Cwd))]); cwd != "" {
		pr.p.WorkingDirectory = cwd
	}
	pr.entry, pr.entryType, pr.entryDecided = nil, "", false
	// A new image may be a reused pid: decide membership afresh.
	delete(t.outside, int(e.Task.Pid))
	p := t.snapshot(pr)
	return t.classify(sensor.Observation{Exec: &ecs.Exec{Time: t.clk.wall(e.Ktime), Serial: t.next(), Process: p}}, &p)
}

// TCP states (include/net/tcp_states.h).
const (
	tcpEstablished = 1
	tcpSynSent     = 2
	tcpSynRecv     = 3
	tcpFinWait1    = 4
	tcpClose       = 7
	tcpCloseWait   = 8
	tcpLastAck     = 9
)

// Trace flags (common_flags) that mean the tracepoint ran in interrupt
// context, where the current task is unrelated to the socket.
const traceFlagIRQ = 0x08 | 0x10 // TRACE_FLAG_HARDIRQ | TRACE_FLAG_SOFTIRQ

func (t *tracker) sock(e *phSockEvent) (sensor.Observation, bool) {
	now := t.clk.wall(e.Ktime)
	local, remote := addrPort(e.Family, e.Saddr, e.Sport), addrPort(e.Family, e.Daddr, e.Dport)
	switch e.Kind {
	case kindSockState:
		s := t.socks[e.Skaddr]
		if e.Oldstate == tcpClose && e.Newstate == tcpSynSent {
			// tcp_v4_connect/tcp_v6_connect, in the connecting task;
			// the source port is not bound yet.
			pr := t.current(&e.Task)
			s = &sock{owner: t.snapshot(pr), dir: ecs.Egress, synNs: e.Ktime, transport: ecs.TCP}
			t.rememberSock(e.Skaddr, s)
		}
		if s == nil {
			return sensor.Observation{}, false
		}
		if e.Sport != 0 && local.IsValid() {
			s.local = local
		}
		if e.Dport != 0 && remote.IsValid() {
			s.remote = remote
		}
		if e.Newstate == tcpEstablished {
			s.established = true
		}
		closing := (e.Oldstate == tcpEstablished || e.Oldstate == tcpCloseWait) &&
			(e.Newstate == tcpFinWait1 || e.Newstate == tcpLastAck || e.Newstate == tcpClose)
		if e.Newstate == tcpClose {
			delete(t.socks, e.Skaddr)
		}
		if !closing || s.closed {
			return sensor.Observation{}, false
		}
		s.closed = true
		// tcp_close runs in the task that closed its last descriptor; a
		// reset or the peer's FIN arrive in softirq context, where the
		// socket's owner is the best account of who held it.
		p := s.owner
		if e.TraceFlags&traceFlagIRQ == 0 && e.Task.Pid != 0 {
			p = t.snapshot(t.current(&e.Task))
		}
		c := &ecs.Close{
			Time: now, Serial: t.next(), Process: p,
			Local: s.local, Remote: s.remote, Direction: s.dir,
			BytesSent: e.BytesAcked, BytesReceived: e.BytesReceived,
			Transport: s.transport,
		}
		return t.classify(sensor.Observation{Close: c}, &p)

	case kindConnect:
		pr := t.current(&e.Task)
		p := t.snapshot(pr)
		dest := addrPort(e.ArgFamily, e.ArgAddr, e.ArgPort)
		c := &ecs.Connect{Time: now, Serial: t.next(), Process: p, Dest: dest, Result: errnoName(e.Ret)}
		switch e.Protocol {
		case unix.IPPROTO_TCP:
			c.Transport = ecs.TCP
		case unix.IPPROTO_UDP:
			c.Transport = ecs.UDP
		}
		s := t.socks[e.Skaddr]
		if e.Skaddr != 0 && s == nil && c.Transport == ecs.TCP && e.Ret == 0 {
			s = &sock{owner: p, dir: ecs.Egress, transport: ecs.TCP, established: true}
			t.rememberSock(e.Skaddr, s)
		}
		if e.Sport != 0 && local.IsValid() {
			c.Source = local
		} else if s != nil {
			c.Source = s.local
		}
		if s != nil {
			s.owner = p
			if s.synNs != 0 {
				// The attempt happened when the SYN was queued, as
				// Defend reports it from tcp_v4_connect's return.
				c.Time = t.clk.wall(s.synNs)
			}
			if s.local.IsValid() && !c.Source.IsValid() {
				c.Source = s.local
			}
			if !s.local.IsValid() {
				s.local = c.Source
			}
		}
		c.Established = c.Transport == ecs.TCP && (e.Ret == 0 || (s != nil && s.established))
		return t.classify(sensor.Observation{Connect: c}, &p)

	case kindAccept:
		pr := t.current(&e.Task)
		p := t.snapshot(pr)
		a := &ecs.Accept{Time: now, Serial: t.next(), Process: p, Local: local, Remote: remote}
		if e.Protocol == unix.IPPROTO_TCP {
			a.Transport = ecs.TCP
			t.rememberSock(e.Skaddr, &sock{owner: p, dir: ecs.Ingress, local: local, remote: remote, established: true, transport: ecs.TCP})
		}
		return t.classify(sensor.Observation{Accept: a}, &p)
	}
	return sensor.Observation{}, false
}

func (t *tracker) rememberSock(addr uint64, s *sock) {
	if addr == 0 {
		return
	}
	if len(t.socks) >= maxSocks {
		clear(t.socks)
	}
	t.socks[addr] = s
}

// current returns the entry for the task the record describes, creating it
// when the sensor has not seen this instance fork, and refreshing what may
// change without an exec (credentials, comm, process group, session).
func (t *tracker) current(ti *phTaskInfo) *proc {
	pr, ok := t.procs[ti.Pid]
	if !ok || pr.startNs != ti.StartNs {
		pr = t.newProc(ti)
		if f, ok := readProc(int(ti.Pid)); ok && f.startTicks == ti.StartNs/1e7 {
			pr.p.Executable, pr.p.Args, pr.p.WorkingDirectory = f.exe, f.args, f.cwd
		}
		t.remember(pr)
		return pr
	}
	t.refresh(pr, ti)
	return pr
}

func (t *tracker) newProc(ti *phTaskInfo) *proc {
	pr := &proc{startNs: ti.StartNs}
	pr.p.PID = int(ti.Pid)
	pr.p.Start = t.clk.wall(ti.StartNs)
	t.refresh(pr, ti)
	return pr
}

func (t *tracker) refresh(pr *proc, ti *phTaskInfo) {
	if pr.snapGen != 0 && int(ti.Ppid) == pr.p.PPID && ti.ParentStartNs == pr.parentStartNs &&
		ti.Pgid == pr.pgid && ti.Sid == pr.sid && cstring(ti.Comm[:]) == pr.p.Comm &&
		int(ti.Uid) == pr.p.UID && int(ti.Euid) == pr.p.EUID && int(ti.Gid) == pr.p.GID && int(ti.Egid) == pr.p.EGID &&
		ti.Auid == pr.p.AUID && ti.Ses == pr.p.Session &&
		ti.TtyMajor == pr.ttyMajor && ti.TtyMinor == pr.ttyMinor && ttyOf(ti) == pr.p.TTY {
		return
	}
	t.gen++
	p := &pr.p
	p.PPID = int(ti.Ppid)
	pr.parentStartNs = ti.ParentStartNs
	pr.pgid, pr.sid = ti.Pgid, ti.Sid
	p.Comm = cstring(ti.Comm[:])
	p.UID, p.EUID, p.GID, p.EGID = int(ti.Uid), int(ti.Euid), int(ti.Gid), int(ti.Egid)
	p.User, p.Group = t.names.user(p.UID), t.names.group(p.GID)
	p.EUser, p.EGroup = "", ""
	if p.EUID != p.UID {
		p.EUser = t.names.user(p.EUID)
	}
	if p.EGID != p.GID {
		p.EGroup = t.names.group(p.EGID)
	}
	p.AUID, p.Session = ti.Auid, ti.Ses
	pr.ttyMajor, pr.ttyMinor = ti.TtyMajor, ti.TtyMinor
	p.TTY = ttyOf(ti)
	p.AUser = ""
	if p.AUID != ecs.NoID && int64(p.AUID) != int64(p.UID) {
		p.AUser = t.names.user(int(p.AUID))
	}
}

func (t *tracker) remember(pr *proc) {
	if len(t.procs) >= maxProcs {
		for pid, old := range t.procs {
			if old.exited {
				delete(t.procs, pid)
			}
		}
		if len(t.procs) >= maxProcs {
			clear(t.procs)
		}
	}
	t.procs[uint32(pr.p.PID)] = pr
	t.gen++
}

// parentOf returns the entry of ti's parent: the one the sensor knows by
// pid and start time, or one read from /proc for a parent that started
// before the sensor.
func (t *tracker) parentOf(ti *phTaskInfo) *proc {
	return t.byPID(ti.Ppid, ti.ParentStartNs)
}

// byPID returns the entry of the instance (pid, startNs); startNs 0 means
// whichever instance the pid has now.
func (t *tracker) byPID(pid uint32, startNs uint64) *proc {
	if pid == 0 {
		return nil
	}
	if pr, ok := t.procs[pid]; ok && (startNs == 0 || pr.startNs == startNs) {
		return pr
	}
	f, ok := readProc(int(pid))
	if !ok || (startNs != 0 && f.startTicks != startNs/1e7) {
		return nil
	}
	if startNs == 0 {
		startNs = f.startTicks * 1e7
	}
	pr := &proc{startNs: startNs, pgid: f.pgid, sid: f.sid, ttyMajor: f.ttyMajor, ttyMinor: f.ttyMinor}
	pr.p = ecs.Process{
		PID: int(pid), PPID: f.ppid, Start: t.clk.wall(startNs),
		Executable: f.exe, Args: f.args, WorkingDirectory: f.cwd, Comm: f.comm,
		UID: f.uid, EUID: f.euid, GID: f.gid, EGID: f.egid,
		User: t.names.user(f.uid), Group: t.names.group(f.gid),
		AUID: ecs.NoID, Session: ecs.NoID,
		TTY: ttyName(f.ttyMajor, f.ttyMinor),
	}
	if pp, ok := readProc(f.ppid); ok {
		pr.parentStartNs = pp.startTicks * 1e7
	}
	t.remember(pr)
	return pr
}

// snapshot is pr's process as an observation carries it: a copy, with its
// Parent chain (up to maxAncestry) and its group and session leaders.
func (t *tracker) snapshot(pr *proc) ecs.Process {
	if pr.snapGen != 0 && pr.snapGen == t.gen {
		return pr.snap
	}
	p := pr.p
	cur, link := pr, &p
	for range maxAncestry {
		par := t.byPID(uint32(cur.p.PPID), cur.parentStartNs)
		if par == nil || par == pr {
			break
		}
		cp := par.p
		link.Parent = &cp
		link, cur = &cp, par
	}
	if l := t.byPID(pr.pgid, 0); l != nil {
		cp := l.p
		p.GroupLeader = &cp
	}
	if l := t.byPID(pr.sid, 0); l != nil {
		cp := l.p
		p.SessionLeader = &cp
	}
	if l := t.entryOf(pr, 0); l != nil {
		cp := l.p
		cp.EntryMeta = ecs.EntryMeta{Type: l.entryType}
		if par := t.byPID(uint32(l.p.PPID), l.parentStartNs); par != nil && par != l {
			pp := par.p
			cp.Parent = &pp
		}
		p.EntryLeader = &cp
	}
	pr.snap, pr.snapGen = p, t.gen
	return p
}

// maxEntryDepth bounds the walk through relatives that decides an entry
// leader (each step is remembered, so it is walked once).
const maxEntryDepth = 64

// entryOf returns pr's entry leader, nil when it has none, deciding it on
// first need from pr's facts and then from its parent, session leader and
// group leader, in that order (sensor.DecideEntry).
func (t *tracker) entryOf(pr *proc, depth int) *proc {
	if pr.entryDecided {
		return pr.entry
	}
	// Decided (as none) before the walk, so that a cycle of relatives ends.
	pr.entryDecided = true
	parent := t.byPID(uint32(pr.p.PPID), pr.parentStartNs)
	f := sensor.EntryFacts{
		PID: pr.p.PID, PPID: pr.p.PPID, SID: int(pr.sid),
		TTYMajor: pr.ttyMajor, TTYMinor: pr.ttyMinor, Executable: pr.p.Executable,
	}
	if parent != nil {
		f.ParentExecutable = parent.p.Executable
	}
	switch d, typ := sensor.DecideEntry(f); d {
	case sensor.EntryNever:
		return nil
	case sensor.EntryOwn:
		pr.entry, pr.entryType = pr, typ
		return pr
	}
	if depth < maxEntryDepth {
		// The session and group leaders are looked up only when the
		// parent names no entry leader.
		for i := range 3 {
			rel := parent
			switch i {
			case 1:
				rel = t.byPID(pr.sid, 0)
			case 2:
				rel = t.byPID(pr.pgid, 0)
			}
			if rel == nil || rel == pr {
				continue
			}
			if l := t.entryOf(rel, depth+1); l != nil {
				pr.entry = l
				return l
			}
		}
	}
	if pr.p.PID == int(pr.sid) {
		pr.entry, pr.entryType = pr, ecs.EntryUnknown
	}
	return pr.entry
}

func (t *tracker) classify(o sensor.Observation, p *ecs.Process) (sensor.Observation, bool) {
	o.Infra = p.PID == t.self || t.infra[p.PID] || infraNames[filepath.Base(p.Executable)] || infraNames[p.Comm]
	o.InScope = t.cfg.AllProcesses || t.inScope(p)
	return o, true
}

// inScope decides whether p belongs to the tracked tree, walking its known
// ancestry for a process the sensor did not see fork.
func (t *tracker) inScope(p *ecs.Process) bool {
	if t.members[p.PID] {
		return true
	}
	if t.outside[p.PID] {
		return false
	}
	for a := p.Parent; a != nil; a = a.Parent {
		if t.members[a.PID] {
			t.members[p.PID] = true
			return true
		}
	}
	if p.Parent == nil && t.members[p.PPID] {
		t.members[p.PID] = true
		return true
	}
	if len(t.outside) >= maxProcs {
		clear(t.outside)
	}
	t.outside[p.PID] = true
	return false
}

// addrPort is the address of family fam held in b (IPv4 in its first four
// bytes) with port; the zero value for another family.
func addrPort(fam uint16, b [16]uint8, port uint16) netip.AddrPort {
	switch fam {
	case unix.AF_INET:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), port)
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(b), port)
	}
	return netip.AddrPort{}
}

// errnoName is the errno name of a failed syscall's return ("ECONNREFUSED"),
// "" for success.
func errnoName(ret int32) string {
	if ret >= 0 {
		return ""
	}
	if n := unix.ErrnoName(syscall.Errno(-ret)); n != "" {
		return n
	}
	return "E" + strconv.Itoa(int(-ret))
}

// joinPath turns the kernel side's components (leaf first, each
// NUL-terminated) into an absolute path; "" when there are none.
func joinPath(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	parts := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	var sb strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		if parts[i] == "/" || parts[i] == "" {
			continue
		}
		sb.WriteByte('/')
		sb.WriteString(parts[i])
	}
	if sb.Len() == 0 {
		return "/"
	}
	return sb.String()
}

// splitArgs splits the argv area (NUL-separated strings) into argv.
func splitArgs(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// noTTY is what audit prints, and the renderers read, for a process
// without a controlling terminal.
const noTTY = "(none)"

// ttyOf is the name of ti's controlling terminal as audit prints it
// (tty->name: "pts0", "tty1", "ttyS0"), noTTY when it has none.
func ttyOf(ti *phTaskInfo) string {
	if n := cstring(ti.TtyName[:]); n != "" {
		return n
	}
	return noTTY
}

// ttyName names the terminal device major:minor (from /proc's tty_nr) the
// way the kernel names it (Documentation/admin-guide/devices.txt): noTTY
// for none, "" for a device it does not name here.
func ttyName(major, minor uint32) string {
	switch {
	case major == 0 && minor == 0:
		return noTTY
	case major >= 136 && major <= 143:
		return "pts" + strconv.FormatUint(uint64((major-136)<<8|minor), 10)
	case major == 4 && minor <= 63:
		return "tty" + strconv.FormatUint(uint64(minor), 10)
	case major == 4 && minor <= 255:
		return "ttyS" + strconv.FormatUint(uint64(minor-64), 10)
	case major == 5 && minor == 1:
		return "console"
	}
	return ""
}

// procInfo is what /proc says about a live process the sensor did not see
// start.
type procInfo struct {
	ppid                 int
	pgid, sid            uint32
	ttyMajor, ttyMinor   uint32
	startTicks           uint64
	comm, exe, cwd       string
	args                 []string
	uid, euid, gid, egid int
}

func readProc(pid int) (procInfo, bool) {
	if pid <= 0 {
		return procInfo{}, false
	}
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return procInfo{}, false
	}
	f := strings.Fields(string(stat[end+1:]))
	if len(f) < 20 {
		return procInfo{}, false
	}
	var fi procInfo
	fi.comm = string(stat[open+1 : end])
	fi.ppid, _ = strconv.Atoi(f[1])
	pg, _ := strconv.ParseUint(f[2], 10, 32)
	sid, _ := strconv.ParseUint(f[3], 10, 32)
	fi.pgid, fi.sid = uint32(pg), uint32(sid)
	// tty_nr: minor in bits 0-7 and 20-31, major in bits 8-19 (proc(5)).
	if nr, err := strconv.ParseInt(f[4], 10, 64); err == nil {
		fi.ttyMajor = uint32(nr>>8) & 0xfff
		fi.ttyMinor = uint32(nr&0xff) | uint32(nr>>12)&0xfff00
	}
	fi.startTicks, _ = strconv.ParseUint(f[19], 10, 64)
	fi.exe, _ = os.Readlink(dir + "/exe")
	fi.cwd, _ = os.Readlink(dir + "/cwd")
	if cl, err := os.ReadFile(dir + "/cmdline"); err == nil {
		fi.args = splitArgs(cl)
	}
	if st, err := os.ReadFile(dir + "/status"); err == nil {
		for _, line := range strings.Split(string(st), "\n") {
			if v, ok := strings.CutPrefix(line, "Uid:"); ok {
				if ids := strings.Fields(v); len(ids) >= 2 {
					fi.uid, _ = strconv.Atoi(ids[0])
					fi.euid, _ = strconv.Atoi(ids[1])
				}
			}
			if v, ok := strings.CutPrefix(line, "Gid:"); ok {
				if ids := strings.Fields(v); len(ids) >= 2 {
					fi.gid, _ = strconv.Atoi(ids[0])
					fi.egid, _ = strconv.Atoi(ids[1])
				}
			}
		}
	}
	return fi, true
}

// names resolves uids and gids, caching each answer.
type names struct {
	users, groups map[int]string
}

func newNames() *names { return &names{users: map[int]string{}, groups: map[int]string{}} }

func (n *names) user(id int) string {
	if v, ok := n.users[id]; ok {
		return v
	}
	var name string
	if u, err := user.LookupId(strconv.Itoa(id)); err == nil {
		name = u.Username
	}
	n.users[id] = name
	return name
}

func (n *names) group(id int) string {
	if v, ok := n.groups[id]; ok {
		return v
	}
	var name string
	if g, err := user.LookupGroupId(strconv.Itoa(id)); err == nil {
		name = g.Name
	}
	n.groups[id] = name
	return name
}
