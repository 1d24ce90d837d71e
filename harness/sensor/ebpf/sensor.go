//go:build linux

// Package ebpf is the eBPF sensor: it records process forks, execs and exits
// and TCP connection attempts, accepts and closes from kernel tracepoints,
// as the same sensor.Observation values the audit sensor produces, so every
// profile renders them without knowing which sensor ran.
//
// The kernel side (bpf/sensor.bpf.c, compiled by bpf2go into the committed
// ph_bpfel.o) copies what each tracepoint and the task or socket behind it
// say into a ring buffer; this package gives the records meaning (tracker.go):
// process identity across exec, ancestry, the socket a close belongs to.
// Nothing is pinned: the programs, maps and links live as long as this
// process's file descriptors, so a killed sensor leaves nothing behind.
package ebpf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	cebpf "github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/purpleharness/purpleharness/harness/sensor"
	"github.com/purpleharness/purpleharness/prereq"
)

// Config selects what a Sensor records; the fields mean what they mean in
// sensor.Config.
type Config struct {
	AllProcesses bool
	// Roots are the pids whose descendants are recorded; empty means this
	// process.
	Roots     []int
	KeepInfra bool
	InfraPIDs []int
	// MaxObservations bounds the observations held between Drain calls
	// (0 means 1,000,000); past it they are counted in Stats.Dropped.
	MaxObservations int
}

// Stats is what a capture received and lost. Lost() > 0 makes it incomplete.
type Stats struct {
	Records      uint64 // ring buffer records read
	Observations uint64 // observations kept
	Filtered     uint64 // observations left out (out of scope or infrastructure)
	Malformed    uint64 // records too short for their kind

	// RingLost counts records the kernel side could not write because
	// the ring buffer was full; TableLost connects whose arguments did not
	// fit the in-kernel table. Both are read from the ph_drops map.
	RingLost, TableLost uint64
	// Dropped counts observations discarded at Config.MaxObservations.
	Dropped uint64
}

// Lost is every event known lost.
func (s Stats) Lost() uint64 { return s.RingLost + s.TableLost + s.Dropped + s.Malformed }

// String is the one-line summary the CLI prints.
func (s Stats) String() string {
	return fmt.Sprintf("%d events, %d lost (ring %d, table %d, dropped %d, malformed %d), %d records, eBPF", s.Observations, s.Lost(), s.RingLost, s.TableLost, s.Dropped, s.Malformed, s.Records)
}

// Sensor captures process and TCP lifecycle events from tracepoints. Start
// it, run what is to be observed, call Sync, read Observations or Drain,
// and Close it.
type Sensor struct {
	cfg   Config
	objs  phObjects
	links []link.Link
	rd    *ringbuf.Reader

	mu      sync.Mutex
	tr      *tracker
	obs     []sensor.Observation
	waiters map[uint32]chan struct{}
	token   uint32

	records, malformed, filtered, dropped, kept atomic.Uint64
	finalRing, finalTable                       uint64 // ph_drops as Close found it
	closed                                      bool

	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// markFD is the fd of Sync's marker connect(2): invalid, so the call fails
// with EBADF at once; the program on sys_enter_connect recognises it (with
// this process's tgid) and writes a marker record carrying the token.
const markFD = -7

// Start loads the programs, attaches them and starts reading. An error
// wrapping prereq.BPF or prereq.Root means this machine cannot run the
// sensor (no privilege, no BTF, no tracepoints); the audit sensor may.
func Start(ctx context.Context, cfg Config) (*Sensor, error) {
	if cfg.MaxObservations <= 0 {
		cfg.MaxObservations = 1_000_000
	}
	if len(cfg.Roots) == 0 {
		cfg.Roots = []int{os.Getpid()}
	}
	if os.Geteuid() != 0 {
		return nil, prereq.Errorf(prereq.Root, "ebpf sensor: loading BPF programs needs root")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return nil, prereq.Errorf(prereq.BPF, "ebpf sensor: the kernel exposes no BTF (/sys/kernel/btf/vmlinux): %v", err)
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, prereq.Errorf(prereq.BPF, "ebpf sensor: memlock rlimit: %v", err)
	}
	clock, err := newClock()
	if err != nil {
		return nil, fmt.Errorf("ebpf sensor: %w", err)
	}
	s := &Sensor{
		cfg:     cfg,
		waiters: map[uint32]chan struct{}{},
		done:    make(chan struct{}),
		tr:      newTracker(cfg, clock, os.Getpid()),
	}
	if err := s.load(); err != nil {
		s.release()
		return nil, err
	}
	go s.readLoop(s.rd)
	return s, nil
}

func (s *Sensor) load() error {
	spec, err := loadPh()
	if err != nil {
		return fmt.Errorf("ebpf sensor: %w", err)
	}
	if err := spec.Variables[phVarPhSelfTgid].Set(uint32(os.Getpid())); err != nil {
		return fmt.Errorf("ebpf sensor: %w", err)
	}
	if err := spec.LoadAndAssign(&s.objs, nil); err != nil {
		var ve *cebpf.VerifierError
		if errors.As(err, &ve) {
			return fmt.Errorf("ebpf sensor: verifier: %+v", ve)
		}
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
			return prereq.Errorf(prereq.BPF, "ebpf sensor: load: %v", err)
		}
		return fmt.Errorf("ebpf sensor: load: %w", err)
	}
	// sched_process_fork through its raw interface: the program then gets
	// the child's task_struct (the classic record has only its pid), and a
	// clone that made a thread is told apart from one that made a process.
	fork, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sched_process_fork", Program: s.objs.PhFork})
	if err != nil {
		return prereq.Errorf(prereq.BPF, "ebpf sensor: attach sched_process_fork: %v", err)
	}
	s.links = append(s.links, fork)
	// Classic tracepoints: their records are what the programs read.
	attach := func() error {
		for _, tp := range []struct {
			group, name string
			prog        *cebpf.Program
		}{
			{"sched", "sched_process_exec", s.objs.PhExec},
			{"sched", "sched_process_exit", s.objs.PhExit},
			{"sock", "inet_sock_set_state", s.objs.PhSockState},
			{"syscalls", "sys_enter_connect", s.objs.PhConnectEnter},
			{"syscalls", "sys_exit_connect", s.objs.PhConnectExit},
			{"syscalls", "sys_exit_accept4", s.objs.PhAccept4Exit},
			{"syscalls", "sys_exit_accept", s.objs.PhAcceptExit},
		} {
			l, err := link.Tracepoint(tp.group, tp.name, tp.prog, nil)
			if err != nil {
				return prereq.Errorf(prereq.BPF, "ebpf sensor: attach %s:%s: %v", tp.group, tp.name, err)
			}
			s.links = append(s.links, l)
		}
		return nil
	}
	if err := withTracefs(attach); err != nil {
		if _, ok := prereq.As(err); ok {
			return err
		}
		return prereq.Errorf(prereq.BPF, "ebpf sensor: %v", err)
	}
	rd, err := ringbuf.NewReader(s.objs.PhEvents)
	if err != nil {
		return fmt.Errorf("ebpf sensor: ring buffer: %w", err)
	}
	s.rd = rd
	return nil
}

// release closes every link, the reader and every object, in that order.
func (s *Sensor) release() error {
	var errs []error
	for i := len(s.links) - 1; i >= 0; i-- {
		errs = append(errs, s.links[i].Close())
	}
	s.links = nil
	if s.rd != nil {
		errs = append(errs, s.rd.Close())
		s.rd = nil
	}
	errs = append(errs, s.objs.Close())
	return errors.Join(errs...)
}

func (s *Sensor) readLoop(rd *ringbuf.Reader) {
	defer close(s.done)
	var rec ringbuf.Record
	for {
		if err := rd.ReadInto(&rec); err != nil {
			if errors.Is(err, ringbuf.ErrClosed) {
				return
			}
			continue
		}
		s.records.Add(1)
		s.handle(rec.RawSample)
	}
}

// record returns the ring buffer sample as a T, or nil when it is too short.
func record[T any](b []byte) *T {
	var zero T
	if len(b) < int(unsafe.Sizeof(zero)) {
		return nil
	}
	v := *(*T)(unsafe.Pointer(&b[0]))
	return &v
}

func (s *Sensor) handle(b []byte) {
	if len(b) < 4 {
		s.malformed.Add(1)
		return
	}
	var o sensor.Observation
	var ok bool
	kind := *(*uint32)(unsafe.Pointer(&b[0]))
	s.mu.Lock()
	defer s.mu.Unlock()
	switch kind {
	case kindFork, kindExit:
		if e := record[phProcEvent](b); e != nil {
			o, ok = s.tr.proc(e)
		} else {
			s.malformed.Add(1)
		}
	case kindExec:
		if e := record[phExecEvent](b); e != nil {
			o, ok = s.tr.exec(e)
		} else {
			s.malformed.Add(1)
		}
	case kindSockState, kindConnect, kindAccept:
		if e := record[phSockEvent](b); e != nil {
			o, ok = s.tr.sock(e)
		} else {
			s.malformed.Add(1)
		}
	case kindMark:
		if e := record[phMarkEvent](b); e != nil {
			if ch, found := s.waiters[e.Token]; found {
				close(ch)
				delete(s.waiters, e.Token)
			}
		}
	default:
		s.malformed.Add(1)
	}
	if !ok {
		return
	}
	if (o.Infra && !s.cfg.KeepInfra) || !o.InScope {
		s.filtered.Add(1)
		return
	}
	if len(s.obs) >= s.cfg.MaxObservations {
		s.dropped.Add(1)
		return
	}
	s.kept.Add(1)
	s.obs = append(s.obs, o)
}

// Record kinds, as enum ph_kind in sensor.bpf.c.
const (
	kindFork      = 1
	kindExec      = 2
	kindExit      = 3
	kindSockState = 4
	kindConnect   = 5
	kindAccept    = 6
	kindMark      = 7
)

// Sync returns once every event the kernel recorded before the call has
// been read: it makes the kernel write a marker record and waits for it.
// Records are read in the order they were reserved, so everything written
// before the marker has been handled when the marker arrives.
func (s *Sensor) Sync(ctx context.Context) error {
	s.mu.Lock()
	s.token++
	tok := s.token
	ch := make(chan struct{})
	s.waiters[tok] = ch
	s.mu.Unlock()
	fd := markFD
	unix.Syscall(unix.SYS_CONNECT, uintptr(fd), 0, uintptr(tok))
	select {
	case <-ch:
		return nil
	case <-s.done:
		return errors.New("ebpf sensor: closed")
	case <-ctx.Done():
		s.mu.Lock()
		delete(s.waiters, tok)
		s.mu.Unlock()
		return fmt.Errorf("ebpf sensor: sync: %w", ctx.Err())
	}
}

// Track adds pid as a root: its descendants from now on are recorded.
func (s *Sensor) Track(pid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tr.track(pid)
}

// AddInfra tags pid as harness infrastructure from now on (only that
// process, not its children).
func (s *Sensor) AddInfra(pid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tr.infra[pid] = true
}

// Observations returns what was recorded so far (a copy), in arrival order.
func (s *Sensor) Observations() []sensor.Observation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sensor.Observation(nil), s.obs...)
}

// Drain returns what was recorded since the previous Drain and forgets it.
func (s *Sensor) Drain() []sensor.Observation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.obs
	s.obs = nil
	return out
}

// Stats reports what was received and lost so far.
func (s *Sensor) Stats() Stats {
	st := Stats{
		Records:      s.records.Load(),
		Observations: s.kept.Load(),
		Filtered:     s.filtered.Load(),
		Malformed:    s.malformed.Load(),
		Dropped:      s.dropped.Load(),
	}
	st.RingLost, st.TableLost = s.drops()
	return st
}

// drops sums the per-CPU ph_drops counters.
func (s *Sensor) drops() (ring, table uint64) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	m := s.objs.PhDrops
	if closed || m == nil {
		return s.finalRing, s.finalTable
	}
	sum := func(k uint32) uint64 {
		var per []uint64
		if err := m.Lookup(k, &per); err != nil {
			return 0
		}
		var n uint64
		for _, v := range per {
			n += v
		}
		return n
	}
	return sum(0), sum(1)
}

// Close detaches the programs and frees every kernel object. It is safe to
// call more than once; Stats still answers afterwards.
func (s *Sensor) Close() error {
	s.closeOnce.Do(func() {
		ring, table := s.drops()
		s.mu.Lock()
		s.finalRing, s.finalTable, s.closed = ring, table, true
		s.mu.Unlock()
		s.closeErr = s.release()
		<-s.done
	})
	return s.closeErr
}

// clock converts CLOCK_BOOTTIME nanoseconds (bpf_ktime_get_boot_ns, task
// start_boottime) to wall-clock time.
type clock struct{ bootEpoch time.Time }

func newClock() (clock, error) {
	var rt, bt unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_REALTIME, &rt); err != nil {
		return clock{}, err
	}
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &bt); err != nil {
		return clock{}, err
	}
	return clock{bootEpoch: time.Unix(rt.Sec, rt.Nsec).Add(-time.Duration(bt.Nano()))}, nil
}

func (c clock) wall(ns uint64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return c.bootEpoch.Add(time.Duration(ns)).UTC()
}

// ProgramIDs lists the kernel ids of the sensor's programs, for checks that
// none outlives it.
func (s *Sensor) ProgramIDs() []cebpf.ProgramID {
	var ids []cebpf.ProgramID
	for _, p := range []*cebpf.Program{s.objs.PhFork, s.objs.PhExec, s.objs.PhExit, s.objs.PhSockState,
		s.objs.PhConnectEnter, s.objs.PhConnectExit, s.objs.PhAccept4Exit, s.objs.PhAcceptExit} {
		if info, err := p.Info(); err == nil {
			if id, ok := info.ID(); ok {
				ids = append(ids, id)
			}
		}
	}
	return ids
}
