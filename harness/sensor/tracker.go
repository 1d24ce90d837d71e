package sensor

import (
	"path/filepath"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
)

// Observation is one thing the kernel saw: exactly one of Fork, Exec,
// Exit, Connect, Accept and Close is set. Infra marks events caused by the
// harness's own infrastructure (the harness process and its threads,
// Docker's plumbing); InScope marks events from the tracked process tree.
// Observations returns only in-scope, non-infra events unless Config says
// otherwise. The audit sensor fills Exec and Connect only: it sees neither
// forks without exec, nor exits, accepts or closes.
type Observation struct {
	Fork    *ecs.Fork
	Exec    *ecs.Exec
	Exit    *ecs.Exit
	Connect *ecs.Connect
	Accept  *ecs.Accept
	Close   *ecs.Close
	Infra   bool
	InScope bool
}

// Event returns the observation that is set, for ecs.Renderer.Render; nil
// when none is.
func (o Observation) Event() ecs.Observation {
	switch {
	case o.Fork != nil:
		return o.Fork
	case o.Exec != nil:
		return o.Exec
	case o.Exit != nil:
		return o.Exit
	case o.Connect != nil:
		return o.Connect
	case o.Accept != nil:
		return o.Accept
	case o.Close != nil:
		return o.Close
	}
	return nil
}

// Serial is the sensor serial of the event behind o.
func (o Observation) Serial() uint64 {
	s, _, _ := o.common()
	return s
}

// Time is the kernel timestamp of the event behind o.
func (o Observation) Time() time.Time {
	_, t, _ := o.common()
	return t
}

// Process returns the process that caused o.
func (o Observation) Process() ecs.Process {
	_, _, p := o.common()
	if p == nil {
		return ecs.Process{}
	}
	return *p
}

func (o Observation) common() (uint64, time.Time, *ecs.Process) {
	switch {
	case o.Fork != nil:
		return o.Fork.Serial, o.Fork.Time, &o.Fork.Process
	case o.Exec != nil:
		return o.Exec.Serial, o.Exec.Time, &o.Exec.Process
	case o.Exit != nil:
		return o.Exit.Serial, o.Exit.Time, &o.Exit.Process
	case o.Connect != nil:
		return o.Connect.Serial, o.Connect.Time, &o.Connect.Process
	case o.Accept != nil:
		return o.Accept.Serial, o.Accept.Time, &o.Accept.Process
	case o.Close != nil:
		return o.Close.Serial, o.Close.Time, &o.Close.Process
	}
	return 0, time.Time{}, nil
}

// procFacts is what /proc says about a live process that the sensor did not
// see start (it was running before the sensor, or forked without exec).
type procFacts struct {
	PPID             int
	Start            time.Time // /proc/<pid>/stat starttime + boot time
	Comm, Executable string
	WorkingDirectory string
	Args             []string
	UID, EUID        int
	GID, EGID        int
}

// procSource looks up live processes. The sensor reads /proc; golden tests
// use none, so rendering captured records is deterministic.
type procSource interface {
	lookup(pid int) (procFacts, bool)
}

// userSource names uids and gids.
type userSource interface {
	user(uid int) string
	group(gid int) string
}

// infraNames are executables whose events are the harness's container
// plumbing rather than anything an atomic did.
var infraNames = map[string]bool{
	"docker-proxy": true, "dockerd": true, "containerd": true, "runc": true,
	"containerd-shim": true, "containerd-shim-runc-v2": true, "docker-init": true,
}

// tracker turns parsed audit events into observations. It keeps one entry
// per live pid (the latest instance the sensor knows of), the set of pids in
// the tracked tree, and the transport of sockets it saw created.
//
// Process instance identity is (pid, Start), and Start is the fork's: an
// execve keeps the instance (pid, Start and so the entity id) and pushes
// the image it replaced onto Process.Previous, as Elastic Defend does (its
// probes take task->group_leader->start_time; ECS RFC 0030's exec example
// keeps the fork's entity_id and start). Audit reports no fork, so the
// tracker reads the fork time from /proc/<pid>/stat starttime while the
// process is still alive and still runs the image the record names. When
// /proc no longer has it (a process that exec'd and exited before its
// records were read), an instance already known for the pid keeps its
// Start; failing that, Start is the exec's timestamp, later than the real
// fork by the fork-to-exec gap (docs/sensor.md lists this limit). Every
// event of one instance carries the same Start either way.
type tracker struct {
	all       bool
	roots     map[int]bool
	infraPIDs map[int]bool
	procs     map[int]*ecs.Process
	members   map[int]bool
	outside   map[int]bool // pids known not to descend from a root
	sockets   map[sockKey]ecs.Transport
	proc      procSource
	users     userSource
}

type sockKey struct{ pid, fd int }

// Bounds on the tracker's tables: a long capture on a busy host must not
// grow without limit. Past the bound a table is dropped and rebuilt, which
// costs transport and ancestry knowledge for older processes only.
const (
	maxProcs   = 1 << 16
	maxSockets = 1 << 16
)

func newTracker(all bool, roots, infra []int, proc procSource, users userSource) *tracker {
	t := &tracker{
		all:       all,
		roots:     map[int]bool{},
		infraPIDs: map[int]bool{},
		procs:     map[int]*ecs.Process{},
		members:   map[int]bool{},
		outside:   map[int]bool{},
		sockets:   map[sockKey]ecs.Transport{},
		proc:      proc,
		users:     users,
	}
	for _, p := range roots {
		t.roots[p] = true
		t.members[p] = true
	}
	for _, p := range infra {
		t.infraPIDs[p] = true
	}
	return t
}

// track adds pid as a root: its descendants from now on are in scope.
func (t *tracker) track(pid int) {
	t.roots[pid] = true
	t.members[pid] = true
}

// handle turns one event into an observation; ok is false for events that
// are not process starts or connection attempts (socket creation, markers,
// failed execs, records of other kinds).
func (t *tracker) handle(ev *rawEvent) (Observation, bool) {
	if !ev.HasSyscall {
		return Observation{}, false
	}
	switch ev.Syscall {
	case "socket":
		if ev.Success && ev.Exit >= 0 {
			t.noteSocket(ev)
		}
		return Observation{}, false
	case "execve", "execveat":
		if !ev.Success {
			return Observation{}, false
		}
		return t.exec(ev), true
	case "connect":
		return t.connect(ev, int(ev.A[0])), true
	case "socketcall":
		// i386 without direct socket syscalls: socketcall(SYS_CONNECT=3,
		// args) — the fd is behind a user pointer, so the transport
		// stays unknown.
		if ev.A[0] == 3 {
			return t.connect(ev, -1), true
		}
	}
	return Observation{}, false
}

func (t *tracker) noteSocket(ev *rawEvent) {
	var tr ecs.Transport
	typ, proto := ev.A[1]&0xf, ev.A[2]
	switch {
	case typ == 1 && (proto == 0 || proto == 6): // SOCK_STREAM, IPPROTO_TCP
		tr = ecs.TCP
	case typ == 2 && (proto == 0 || proto == 17): // SOCK_DGRAM, IPPROTO_UDP
		tr = ecs.UDP
	default:
		return
	}
	if len(t.sockets) >= maxSockets {
		clear(t.sockets)
	}
	t.sockets[sockKey{ev.PID, int(ev.Exit)}] = tr
}

// fromRecord is the process as the SYSCALL record describes it.
func (t *tracker) fromRecord(ev *rawEvent) ecs.Process {
	p := ecs.Process{
		PID: ev.PID, PPID: ev.PPID,
		Executable: ev.Exe, Comm: ev.Comm,
		UID: ev.UID, EUID: ev.EUID, GID: ev.GID, EGID: ev.EGID,
		AUID: ev.AUID, Session: ev.Session, TTY: ev.TTY,
	}
	if t.users != nil {
		p.User, p.Group = t.users.user(ev.UID), t.users.group(ev.GID)
	}
	return p
}

func (t *tracker) remember(p *ecs.Process) {
	if len(t.procs) >= maxProcs {
		clear(t.procs)
	}
	t.procs[p.PID] = p
}

func (t *tracker) exec(ev *rawEvent) Observation {
	p := t.fromRecord(ev)
	p.WorkingDirectory = ev.CWD
	p.Args = ev.Args
	if p.Args == nil {
		p.Args = ev.Proctitle
	}
	p.Parent = t.parent(ev.PPID)
	p.Start = ev.Time
	f, live := t.lookupSame(ev)
	prev, known := t.procs[ev.PID]
	switch {
	case live && known && sameStart(prev.Start, f.Start):
		// The instance the tracker already knows, now running a new image.
		p.Start = prev.Start
		p.Previous = appendImage(prev.Previous, prev)
	case live:
		// First sight of this instance: it was forked (the parent's image,
		// inherited) and has now exec'd.
		p.Start = f.Start
		if p.Parent != nil {
			p.Previous = appendImage(nil, p.Parent)
		}
	case known && prev.PPID == ev.PPID:
		// Gone from /proc already: keep the instance the tracker knew for
		// this pid and parent.
		p.Start = prev.Start
		p.Previous = appendImage(prev.Previous, prev)
	}
	// A new image may be a reused pid: decide membership afresh.
	delete(t.outside, ev.PID)
	if t.members[ev.PPID] || t.roots[ev.PID] {
		t.members[ev.PID] = true
	}
	t.remember(&p)
	obs := Observation{
		Exec: &ecs.Exec{
			Time: ev.Time, Serial: ev.Serial, Process: p,
			Audit: t.audit(ev),
		},
	}
	obs.Infra, obs.InScope = t.classify(&p)
	return obs
}

// lookupSame reads /proc for the process behind ev, trusting it only when it
// still runs the image the record names (the pid may have exited and been
// reused since the event).
func (t *tracker) lookupSame(ev *rawEvent) (procFacts, bool) {
	if t.proc == nil {
		return procFacts{}, false
	}
	f, ok := t.proc.lookup(ev.PID)
	if !ok || f.Comm != ev.Comm || f.Executable != ev.Exe || f.Start.IsZero() {
		return procFacts{}, false
	}
	return f, true
}

// sameStart compares start times at the precision of /proc (clock ticks):
// an instance first seen through an audit timestamp and later through /proc
// is the same if they agree within a tick.
func sameStart(a, b time.Time) bool {
	d := a.Sub(b)
	if d < 0 {
		d = -d
	}
	return d < 10*time.Millisecond
}

// maxPrevious bounds Process.Previous: a process that execs in a loop must
// not grow without limit.
const maxPrevious = 8

// appendImage returns prev plus p's image (a new slice: instances share
// nothing).
func appendImage(prev []ecs.Image, p *ecs.Process) []ecs.Image {
	if p.Executable == "" && p.Args == nil {
		return prev
	}
	out := append(append([]ecs.Image(nil), prev...), ecs.Image{Executable: p.Executable, Args: p.Args})
	if len(out) > maxPrevious {
		out = out[len(out)-maxPrevious:]
	}
	return out
}

func (t *tracker) connect(ev *rawEvent, fd int) Observation {
	p := t.process(ev)
	c := &ecs.Connect{
		Time: ev.Time, Serial: ev.Serial, Process: p,
		Dest:   ev.Dest,
		Result: errnoName(ev.Exit),
		Audit:  t.audit(ev),
	}
	if fd >= 0 {
		tr, ok := t.sockets[sockKey{ev.PID, fd}]
		if !ok {
			// A socket inherited across fork keeps its fd number: the
			// parent may have created it.
			tr = t.sockets[sockKey{ev.PPID, fd}]
		}
		c.Transport = tr
	}
	// A blocking TCP connect that returned 0 completed the handshake.
	c.Established = ev.Exit == 0 && c.Transport == ecs.TCP
	obs := Observation{Connect: c}
	obs.Infra, obs.InScope = t.classify(&p)
	return obs
}

// process returns the instance that produced ev, creating it when the
// sensor has not seen this pid exec.
func (t *tracker) process(ev *rawEvent) ecs.Process {
	if known, ok := t.procs[ev.PID]; ok && known.Executable == ev.Exe {
		p := *known
		// Credentials can change after exec (setuid); the record is
		// the truth at the time of the event.
		p.UID, p.EUID, p.GID, p.EGID = ev.UID, ev.EUID, ev.GID, ev.EGID
		p.Comm, p.PPID = ev.Comm, ev.PPID
		if t.users != nil {
			p.User, p.Group = t.users.user(ev.UID), t.users.group(ev.GID)
		}
		if p.Parent == nil || p.Parent.PID != ev.PPID {
			p.Parent = t.parent(ev.PPID)
		}
		return p
	}
	p := t.fromRecord(ev)
	p.Args = ev.Proctitle
	p.Start = ev.Time
	if t.proc != nil {
		// Only trust /proc if it still shows the same program: the pid
		// may have exited and been reused since the event.
		if f, ok := t.proc.lookup(ev.PID); ok && f.Comm == ev.Comm && f.Executable == ev.Exe {
			p.Start = f.Start
			p.WorkingDirectory = f.WorkingDirectory
			if len(f.Args) > 0 {
				p.Args = f.Args
			}
		}
	}
	p.Parent = t.parent(ev.PPID)
	t.inScope(ev.PID, ev.PPID)
	t.remember(&p)
	return p
}

// parent returns a copy of the parent instance (without its own Parent,
// so chains do not grow), from the table or from /proc.
func (t *tracker) parent(ppid int) *ecs.Process {
	if ppid <= 0 {
		return nil
	}
	if known, ok := t.procs[ppid]; ok {
		cp := *known
		cp.Parent = nil
		return &cp
	}
	if t.proc == nil {
		return nil
	}
	f, ok := t.proc.lookup(ppid)
	if !ok {
		return nil
	}
	p := &ecs.Process{
		PID: ppid, PPID: f.PPID, Start: f.Start,
		Executable: f.Executable, Comm: f.Comm, WorkingDirectory: f.WorkingDirectory,
		Args: f.Args, UID: f.UID, EUID: f.EUID, GID: f.GID, EGID: f.EGID,
		AUID: ecs.NoID, Session: ecs.NoID,
	}
	if t.users != nil {
		p.User, p.Group = t.users.user(f.UID), t.users.group(f.GID)
	}
	t.remember(p)
	cp := *p
	return &cp
}

// inScope decides whether pid (child of ppid) belongs to the tracked tree,
// walking /proc ancestry for parents the sensor never saw (a subshell that
// forked twice without exec). Membership is sticky: a process that outlives
// its parent keeps being tracked after it is reparented.
func (t *tracker) inScope(pid, ppid int) bool {
	if t.members[pid] {
		return true
	}
	if t.members[ppid] {
		t.members[pid] = true
		return true
	}
	if t.proc == nil || t.outside[pid] {
		return false
	}
	cur := ppid
	for range 64 {
		if cur <= 1 {
			break
		}
		f, ok := t.proc.lookup(cur)
		if !ok {
			break
		}
		if t.members[f.PPID] {
			t.members[cur] = true
			t.members[pid] = true
			return true
		}
		cur = f.PPID
	}
	// Ancestry does not change (except reparenting to a subreaper, which
	// never makes a process a descendant of ours): remember the answer so
	// a busy unrelated process costs one /proc walk, not one per event.
	if len(t.outside) >= maxProcs {
		clear(t.outside)
	}
	t.outside[pid] = true
	return false
}

func (t *tracker) classify(p *ecs.Process) (infra, inScope bool) {
	infra = t.infraPIDs[p.PID] || infraNames[filepath.Base(p.Executable)] || infraNames[p.Comm]
	inScope = t.all || t.inScope(p.PID, p.PPID)
	return infra, inScope
}

func (t *tracker) audit(ev *rawEvent) ecs.Audit {
	return ecs.Audit{
		Sequence: ev.Serial,
		Syscall:  ev.Syscall,
		Arch:     ev.Arch,
		Exit:     ev.Exit,
		Success:  ev.Success,
		Key:      ev.Key,
	}
}
