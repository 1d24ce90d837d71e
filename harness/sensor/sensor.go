package sensor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/auparse"
	"github.com/purpleharness/purpleharness/prereq"
	"golang.org/x/sys/unix"
)

// Sentinel errors a caller branches on (skip a test, exit code 3). The
// wrapped message names what is missing. They are returned only inside a
// *prereq.Missing, for what the machine lacks; a failure of the sensor's
// own doing (a rule the kernel refuses, a stale rule that will not go) is
// a plain error.
var (
	ErrNotRoot = errors.New("not permitted to control audit")
	ErrNoAudit = errors.New("kernel audit unavailable")
)

// Config selects what a Sensor records.
type Config struct {
	// AllProcesses records every process on the host. Otherwise only the
	// descendants of Roots are recorded.
	AllProcesses bool

	// Roots are the pids whose descendants (children, grandchildren, ...
	// started while the sensor runs) are recorded. Empty means this
	// process: the harness's own children and their descendants. More
	// roots can be added later with Track.
	Roots []int

	// KeepInfra keeps events the sensor tags as harness infrastructure:
	// this process itself (the harness, its fake mail servers, its
	// threads), InfraPIDs, and Docker's plumbing (docker-proxy, dockerd,
	// containerd, containerd-shim, runc). They are left out by default.
	KeepInfra bool
	InfraPIDs []int

	// BacklogLimit is the kernel backlog the sensor raises the limit to
	// (never lowers it); 0 means 8192. The kernel's default of 64 drops
	// records in any burst.
	BacklogLimit uint32

	// Raw, when set, receives every audit record the sensor reads, one
	// per line in audit.log form (ParseLogLine reads it back): the input
	// of golden tests and of debugging. Written from the reading goroutine.
	Raw io.Writer

	// MaxObservations bounds the observations held between Drain calls
	// (0 means 1,000,000): a long --all-processes capture on a busy host
	// must not exhaust memory. Observations past the bound are counted in
	// Stats.Dropped and make the capture lossy.
	MaxObservations int

	// Multicast forces reading from the audit multicast group even when
	// no audit daemon holds the unicast stream.
	Multicast bool
}

// Stats is what a capture received and what it lost. A capture with
// Lost() > 0 is incomplete and reports must say so.
type Stats struct {
	Records      uint64 // audit records received
	Events       uint64 // distinct audit events (serials) received
	Observations uint64 // process starts and connection attempts kept
	Filtered     uint64 // observations left out (out of scope or infrastructure)
	Malformed    uint64 // events that could not be parsed

	// KernelLost is the increase of the kernel's lost counter during the
	// capture (records dropped for backlog or rate limits). The counter
	// is host-wide, so it may include records of other audit users.
	KernelLost uint32
	// Gaps counts audit serials missing between the first and last the
	// sensor received: records the kernel sent that never arrived (a
	// full multicast socket, reported as ENOBUFS by Overruns).
	Gaps     uint64
	Overruns uint64
	// Dropped counts observations discarded at Config.MaxObservations.
	Dropped uint64

	// Multicast is true when the sensor read the multicast group because
	// another reader (auditd, auditbeat, another sensor) held the audit
	// unicast stream.
	Multicast bool
	// Warnings lists degraded features (e.g. b32 rules the kernel refused).
	Warnings []string
}

// Lost is every event known lost: kernel drops plus sequence gaps.
func (s Stats) Lost() uint64 { return uint64(s.KernelLost) + s.Gaps + s.Dropped }

// String is the one-line summary the CLI prints.
func (s Stats) String() string {
	mode := "unicast"
	if s.Multicast {
		mode = "multicast"
	}
	return fmt.Sprintf("%d events, %d lost (kernel %d, gaps %d, dropped %d), %d records, %s", s.Observations, s.Lost(), s.KernelLost, s.Gaps, s.Dropped, s.Records, mode)
}

// Sensor captures process starts and connection attempts from the kernel's
// audit subsystem. Start it, run what is to be observed, call Sync, read
// Observations, and Close it.
type Sensor struct {
	cfg      Config
	ctl      *libaudit.AuditClient // control socket: rules, status
	ctlMu    sync.Mutex
	marker   *libaudit.NetlinkClient // sends Sync markers; replies are never read
	rd       *reader
	rdClient *libaudit.AuditClient // non-nil when registered as the audit daemon
	inst     instance
	rules    [][]byte // wire formats we added
	baseLost uint32
	token    string
	started  time.Time // capture start, less the audit clock's coarseness

	mu       sync.Mutex
	tr       *tracker
	obs      []Observation
	pending  map[uint64]*pendingEvent
	waiters  map[string]chan struct{}
	syncN    int
	seen     map[uint64]struct{}
	minSer   uint64
	maxSer   uint64
	distinct uint64

	records, malformed, filtered, overruns, dropped atomic.Uint64
	warnings                                        []string
	multicast                                       bool

	stop      chan struct{}
	done      chan struct{}
	sigStop   chan struct{}
	closeOnce sync.Once
	closeErr  error
}

type pendingEvent struct {
	recs  []Record
	first time.Time
}

var instanceN atomic.Int64

// Start loads the sensor's audit rules, raises the backlog limit, enables
// auditing if it was off, and starts reading events. It first removes rules
// left by sensors that died without cleaning up. SIGINT and SIGTERM close
// the sensor (rules removed, state restored) before the signal takes its
// usual course.
func Start(ctx context.Context, cfg Config) (*Sensor, error) {
	if err := checkCapabilities(); err != nil {
		return nil, err
	}
	if cfg.BacklogLimit == 0 {
		cfg.BacklogLimit = 8192
	}
	if cfg.MaxObservations <= 0 {
		cfg.MaxObservations = 1_000_000
	}
	if len(cfg.Roots) == 0 {
		cfg.Roots = []int{os.Getpid()}
	}
	ctl, err := libaudit.NewAuditClient(nil)
	if err != nil {
		return nil, noAudit("%v", err)
	}
	st, err := ctl.GetStatus()
	if err != nil {
		ctl.Close()
		return nil, statusError(err)
	}
	if st.Enabled == 2 {
		ctl.Close()
		return nil, noAudit("audit configuration is immutable (enabled=2) until reboot")
	}
	pfs, err := newProcfs()
	if err != nil {
		ctl.Close()
		return nil, fmt.Errorf("sensor: %w", err)
	}
	marker, err := libaudit.NewNetlinkClient(syscall.NETLINK_AUDIT, 0, nil, nil)
	if err != nil {
		ctl.Close()
		return nil, noAudit("audit socket: %v", err)
	}
	self := os.Getpid()
	tick, _ := startTicks(self)
	s := &Sensor{
		cfg:      cfg,
		started:  time.Now().Add(-2 * time.Second),
		ctl:      ctl,
		marker:   marker,
		baseLost: st.Lost,
		tr:       newTracker(cfg.AllProcesses, cfg.Roots, append([]int{self}, cfg.InfraPIDs...), pfs, &passwd{}),
		pending:  map[uint64]*pendingEvent{},
		waiters:  map[string]chan struct{}{},
		seen:     map[uint64]struct{}{},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		sigStop:  make(chan struct{}),
		inst:     instance{PID: self, StartTick: tick, N: int(instanceN.Add(1))},
	}
	s.token = fmt.Sprintf("purpleharness-sync %d.%d", self, s.inst.N)

	if err := s.openReader(st, cfg.Multicast); err != nil {
		ctl.Close()
		marker.Close()
		return nil, err
	}
	go s.readLoop()

	lock, err := acquireHostLock(ctx)
	if err != nil {
		s.shutdownReader()
		ctl.Close()
		marker.Close()
		return nil, fmt.Errorf("sensor: %w", err)
	}
	err = s.install()
	lock.release()
	if err != nil {
		s.Close()
		return nil, err
	}
	s.watchSignals()
	return s, nil
}

// checkCapabilities names the first missing audit capability.
func checkCapabilities() error {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("sensor: read capabilities: %w", err)
	}
	var eff uint64
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			eff, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	for _, c := range []struct {
		bit  uint
		name string
	}{{unix.CAP_AUDIT_CONTROL, "CAP_AUDIT_CONTROL"}, {unix.CAP_AUDIT_WRITE, "CAP_AUDIT_WRITE"}, {unix.CAP_AUDIT_READ, "CAP_AUDIT_READ"}} {
		if eff&(1<<c.bit) == 0 {
			return prereq.Errorf(prereq.Root, "%w: missing %s (run as root)", ErrNotRoot, c.name)
		}
	}
	return nil
}

// noAudit is the environment cause "no usable kernel audit".
func noAudit(format string, args ...any) error {
	return prereq.Errorf(prereq.Audit, "%w: "+format, append([]any{ErrNoAudit}, args...)...)
}

func statusError(err error) error {
	switch {
	case errors.Is(err, syscall.EPERM):
		return prereq.Errorf(prereq.Root, "%w: audit status: missing CAP_AUDIT_CONTROL: %v", ErrNotRoot, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return noAudit("the kernel refused the audit socket (audit works only in the initial user and network namespace): %v", err)
	}
	return noAudit("audit status: %v", err)
}

// openReader becomes the audit daemon when nobody is, else joins the
// multicast group: the unicast stream has backpressure (the kernel waits
// rather than drops when the reader is slow), multicast does not.
func (s *Sensor) openReader(st *libaudit.AuditStatus, forceMulticast bool) error {
	if !forceMulticast && (st.PID == 0 || !pidAlive(int(st.PID))) {
		rd, err := newReader(false)
		if err != nil {
			return noAudit("audit socket: %v", err)
		}
		client := &libaudit.AuditClient{Netlink: rd}
		if err := client.SetPID(libaudit.WaitForReply); err == nil {
			s.rd, s.rdClient = rd, client
			return nil
		} else {
			s.warnings = append(s.warnings, fmt.Sprintf("could not become the audit reader (%v); using multicast", err))
		}
		rd.Close()
	} else if st.PID != 0 && !forceMulticast {
		s.warnings = append(s.warnings, fmt.Sprintf("audit stream held by pid %d (%s); reading the multicast group", st.PID, commOf(int(st.PID))))
	}
	rd, err := newReader(true)
	if err != nil {
		return noAudit("audit multicast group (needs CAP_AUDIT_READ): %v", err)
	}
	s.rd, s.multicast = rd, true
	return nil
}

func pidAlive(pid int) bool {
	return unix.Kill(pid, 0) == nil || errors.Is(unix.Kill(pid, 0), unix.EPERM)
}

func commOf(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "exited"
	}
	return strings.TrimSpace(string(b))
}

// install removes stale rules, adds ours and changes the audit state. The
// caller holds the host lock.
func (s *Sensor) install() error {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	// Read the state under the lock: one read before it may predate
	// another sensor's Close, whose restored state we would then take
	// for raised (and skip enabling audit) or whose raised state we would
	// record as the original.
	st, err := s.ctl.GetStatus()
	if err != nil {
		return statusError(err)
	}
	orig := instance{Enabled: st.Enabled, Backlog: st.BacklogLimit}
	var oldest *instance
	existing, err := s.ctl.GetRules()
	if err != nil {
		return fmt.Errorf("sensor: list audit rules: %w", err)
	}
	for _, wf := range existing {
		in, ok := ownedBy(wf)
		if !ok {
			continue
		}
		// Every sensor records the state found before the first one
		// changed it; inherit it rather than the current, raised state.
		// Should keys disagree, the earliest-started sensor saw the
		// host before any of the others touched it.
		if in.startedBefore(oldest) {
			cp := in
			oldest = &cp
		}
		if !in.alive() {
			if err := s.ctl.DeleteRule(wf); err != nil {
				return fmt.Errorf("sensor: remove stale rule of dead sensor %d: %w", in.PID, err)
			}
		}
	}
	if oldest != nil {
		orig.Enabled, orig.Backlog = oldest.Enabled, oldest.Backlog
	}
	s.inst.Enabled, s.inst.Backlog = orig.Enabled, orig.Backlog
	keys := []string{Key, s.inst.key()}
	for _, spec := range ruleSpecs() {
		wf, err := spec.build(keys...)
		if err != nil {
			return fmt.Errorf("sensor: build rule %q: %v", spec, err)
		}
		if err := s.ctl.AddRule(wf); err != nil {
			if spec.optional {
				s.warnings = append(s.warnings, fmt.Sprintf("rule %q not loaded: %v", spec, err))
				continue
			}
			return fmt.Errorf("sensor: kernel refused rule %q: %w", spec, err)
		}
		s.rules = append(s.rules, wf)
	}
	if st.BacklogLimit < s.cfg.BacklogLimit {
		if err := s.ctl.SetBacklogLimit(s.cfg.BacklogLimit, libaudit.WaitForReply); err != nil {
			return fmt.Errorf("sensor: raise backlog limit: %w", err)
		}
	}
	if st.Enabled != 1 {
		if err := s.ctl.SetEnabled(true, libaudit.WaitForReply); err != nil {
			return fmt.Errorf("sensor: enable audit: %w", err)
		}
	}
	return nil
}

// uninstall removes our rules and, when no other live sensor remains,
// restores the original audit state. The caller holds the host lock.
//
// The state is restored before the rules go: the rules carry the original
// state in their keys, so if this process dies in between, the next sensor
// still finds the truth in them (and finds the state already restored).
// Deleting first would leave a raised state with no record of the original.
func (s *Sensor) uninstall() error {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	// A fresh control socket: no stray replies from earlier requests.
	ctl, err := libaudit.NewAuditClient(nil)
	if err != nil {
		return fmt.Errorf("audit control socket: %w", err)
	}
	defer ctl.Close()
	existing, err := ctl.GetRules()
	if err != nil {
		return fmt.Errorf("list audit rules: %w", err)
	}
	var errs []error
	var remove [][]byte
	others := false
	for _, wf := range existing {
		in, ok := ownedBy(wf)
		if !ok {
			continue
		}
		mine := in.PID == s.inst.PID && in.StartTick == s.inst.StartTick && in.N == s.inst.N
		if mine || !in.alive() {
			remove = append(remove, wf)
			continue
		}
		others = true
	}
	if !others {
		errs = append(errs, restoreState(ctl, s.inst))
	}
	for _, wf := range remove {
		if err := ctl.DeleteRule(wf); err != nil {
			errs = append(errs, fmt.Errorf("remove rule: %w", err))
		}
	}
	s.rules = nil
	return errors.Join(errs...)
}

// restoreState sets the enabled flag and backlog limit back to orig's.
func restoreState(ctl *libaudit.AuditClient, orig instance) error {
	st, err := ctl.GetStatus()
	if err != nil {
		return fmt.Errorf("audit status: %w", err)
	}
	var errs []error
	if st.BacklogLimit != orig.Backlog {
		if err := ctl.SetBacklogLimit(orig.Backlog, libaudit.WaitForReply); err != nil {
			errs = append(errs, fmt.Errorf("restore backlog limit %d: %w", orig.Backlog, err))
		}
	}
	if st.Enabled != orig.Enabled && st.Enabled != 2 {
		if err := ctl.SetEnabled(orig.Enabled == 1, libaudit.WaitForReply); err != nil {
			errs = append(errs, fmt.Errorf("restore enabled=%d: %w", orig.Enabled, err))
		}
	}
	return errors.Join(errs...)
}

// watchSignals closes the sensor on SIGINT/SIGTERM, then re-raises the
// signal: with no other handler the process dies as it would have, with
// one (the CLI's context) that handler sees it too.
func (s *Sensor) watchSignals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		defer signal.Stop(ch)
		select {
		case sig := <-ch:
			s.Close()
			signal.Stop(ch)
			if ss, ok := sig.(syscall.Signal); ok {
				_ = syscall.Kill(os.Getpid(), ss)
			}
		case <-s.sigStop:
		}
	}()
}

// Track adds pid as a root: its descendants are recorded from now on.
func (s *Sensor) Track(pid int) {
	s.mu.Lock()
	s.tr.track(pid)
	s.mu.Unlock()
}

// AddInfra tags pid as harness infrastructure from now on, e.g. a fake
// mail server container's process started after the sensor (its pid from
// the container runtime). Only that process is tagged, not its children.
func (s *Sensor) AddInfra(pid int) {
	s.mu.Lock()
	s.tr.infraPIDs[pid] = true
	s.mu.Unlock()
}

// readLoop receives records until Close.
func (s *Sensor) readLoop() {
	defer close(s.done)
	lastSweep := time.Now()
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		typ, data, err := s.rd.read()
		switch {
		case err == nil:
			if data != nil {
				s.receive(auparse.AuditMessageType(typ), data)
			}
		case errors.Is(err, unix.ENOBUFS):
			s.overruns.Add(1)
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
		default:
			select {
			case <-s.stop:
				return
			default:
			}
			time.Sleep(10 * time.Millisecond)
		}
		if time.Since(lastSweep) > 250*time.Millisecond {
			s.sweep(time.Second)
			lastSweep = time.Now()
		}
	}
}

// receive groups records by serial. An event is complete at its EOE or
// PROCTITLE record (the kernel writes PROCTITLE last, just before EOE), or
// at once for standalone records (user messages, daemon messages).
func (s *Sensor) receive(typ auparse.AuditMessageType, data []byte) {
	if typ < auparse.AUDIT_USER || (typ > auparse.AUDIT_USER && typ < auparse.AUDIT_USER_AUTH) {
		return // netlink control replies, not records
	}
	s.records.Add(1)
	r := Record{Type: typ, Text: string(data)}
	if s.cfg.Raw != nil {
		_, _ = io.WriteString(s.cfg.Raw, r.LogLine()+"\n")
	}
	stamp, serial, _, err := r.header()
	if err != nil {
		s.malformed.Add(1)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// A kernel booted with audit=1 holds records while no daemon is
	// registered and flushes them to the next one: old serials that would
	// read as a huge gap. Only records from this capture count for gaps.
	if !stamp.Before(s.started) {
		s.noteSerial(serial)
	}
	p := s.pending[serial]
	if typ == auparse.AUDIT_EOE {
		if p != nil {
			s.complete(serial, p)
		}
		return
	}
	if p == nil {
		p = &pendingEvent{first: time.Now()}
		s.pending[serial] = p
	}
	p.recs = append(p.recs, r)
	if typ == auparse.AUDIT_PROCTITLE || typ <= auparse.AUDIT_LAST_USER_MSG || typ >= auparse.AUDIT_ANOM_LOGIN_FAILURES {
		s.complete(serial, p)
	}
}

// noteSerial counts distinct serials for gap accounting. The seen set only
// needs to cover serials that can still arrive late; it is pruned far
// behind the newest.
func (s *Sensor) noteSerial(serial uint64) {
	if _, ok := s.seen[serial]; ok {
		return
	}
	s.seen[serial] = struct{}{}
	if s.distinct == 0 || serial < s.minSer {
		s.minSer = serial
	}
	s.distinct++
	if serial > s.maxSer {
		s.maxSer = serial
	}
	if len(s.seen) > 1<<17 {
		for k := range s.seen {
			if k+1<<16 < s.maxSer {
				delete(s.seen, k)
			}
		}
	}
}

// sweep completes events older than age that never got an EOE.
func (s *Sensor) sweep(age time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for serial, p := range s.pending {
		if time.Since(p.first) >= age {
			s.complete(serial, p)
		}
	}
}

// complete turns one event into an observation. Called with s.mu held.
func (s *Sensor) complete(serial uint64, p *pendingEvent) {
	delete(s.pending, serial)
	ev, err := parseEvent(p.recs)
	if err != nil {
		s.malformed.Add(1)
		return
	}
	if ev.HasUserMsg {
		n, ok := s.markerN(ev.UserMsg)
		if !ok {
			return
		}
		// Everything queued before the marker has arrived: finish
		// events still waiting for their EOE, and release this marker's
		// waiter and those of earlier markers (possibly lost ones).
		for ser, q := range s.pending {
			if ser < serial {
				s.complete(ser, q)
			}
		}
		for text, ch := range s.waiters {
			if m, ok := s.markerN(text); ok && m <= n {
				close(ch)
				delete(s.waiters, text)
			}
		}
		return
	}
	obs, ok := s.tr.handle(ev)
	if !ok {
		return
	}
	if (obs.Infra && !s.cfg.KeepInfra) || !obs.InScope {
		s.filtered.Add(1)
		return
	}
	if len(s.obs) >= s.cfg.MaxObservations {
		s.dropped.Add(1)
		return
	}
	s.obs = append(s.obs, obs)
}

// markerN returns the sequence number of one of our sync markers.
func (s *Sensor) markerN(text string) (int, bool) {
	rest, ok := strings.CutPrefix(text, s.token+".")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil
}

// Sync returns once every event that happened before the call has been
// received and turned into observations. It sends a user message through
// the kernel's audit queue and waits for it to come back: the queue is
// FIFO, so records of syscalls that returned before Sync precede it.
func (s *Sensor) Sync(ctx context.Context) error {
	// The marker can itself be lost (a full backlog drops it and bumps
	// the kernel's lost counter), and audit can be switched off under us
	// by another program; neither may hang the caller. Check once a
	// second and send a fresh marker when the kernel reports new losses.
	ch, err := s.sendMarker()
	if err != nil {
		return err
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lost := s.kernelLost()
	for {
		select {
		case <-ch:
			return s.checkRules()
		case <-s.done:
			return errors.New("sensor: closed while syncing")
		case <-ctx.Done():
			return fmt.Errorf("sensor: sync: %w", ctx.Err())
		case <-tick.C:
			s.ctlMu.Lock()
			st, err := s.ctl.GetStatus()
			s.ctlMu.Unlock()
			if err != nil {
				continue
			}
			if st.Enabled == 0 {
				return fmt.Errorf("sensor: sync: another program disabled audit (enabled=0); events since then are lost")
			}
			if st.Lost != lost {
				lost = st.Lost
				if ch, err = s.sendMarker(); err != nil {
					return err
				}
			}
		}
	}
}

// ErrRulesRemoved reports that another program deleted the sensor's audit
// rules (auditctl -D, a configuration reload) while it ran: events after
// that were never generated, so the capture is incomplete.
var ErrRulesRemoved = errors.New("sensor: audit rules removed by another program; capture incomplete")

// checkRules verifies the kernel still has every rule this sensor loaded.
func (s *Sensor) checkRules() error {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	rules, err := s.ctl.GetRules()
	if err != nil {
		return nil // cannot tell; the events themselves arrived
	}
	n := 0
	for _, wf := range rules {
		if in, ok := ownedBy(wf); ok && in == s.inst {
			n++
		}
	}
	if n < len(s.rules) {
		return fmt.Errorf("%w (%d of %d left)", ErrRulesRemoved, n, len(s.rules))
	}
	return nil
}

// sendMarker sends a new sync marker and returns the channel closed when it
// (or a later marker) comes back.
func (s *Sensor) sendMarker() (chan struct{}, error) {
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		return nil, errors.New("sensor: closed")
	default:
	}
	s.syncN++
	text := fmt.Sprintf("%s.%d", s.token, s.syncN)
	ch := make(chan struct{})
	s.waiters[text] = ch
	s.mu.Unlock()

	s.ctlMu.Lock()
	// On its own socket: a failed user message gets an error reply even
	// without NLM_F_ACK, which must not end up where GetStatus reads.
	_, err := s.marker.Send(syscall.NetlinkMessage{
		Header: syscall.NlMsghdr{Type: uint16(auparse.AUDIT_USER), Flags: syscall.NLM_F_REQUEST},
		Data:   append([]byte(text), 0),
	})
	s.ctlMu.Unlock()
	if err != nil {
		s.mu.Lock()
		delete(s.waiters, text)
		s.mu.Unlock()
		return nil, fmt.Errorf("sensor: send sync marker: %w", err)
	}
	return ch, nil
}

func (s *Sensor) kernelLost() uint32 {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	if st, err := s.ctl.GetStatus(); err == nil {
		return st.Lost
	}
	return 0
}

// Observations returns the observations recorded so far, in audit serial
// order. Call Sync first to include everything that has happened.
func (s *Sensor) Observations() []Observation {
	s.mu.Lock()
	out := slices.Clone(s.obs)
	s.mu.Unlock()
	sortObservations(out)
	return out
}

// Drain returns the observations recorded so far and forgets them, so the
// next Drain returns only newer ones (one scenario after another).
func (s *Sensor) Drain() []Observation {
	s.mu.Lock()
	out := s.obs
	s.obs = nil
	s.mu.Unlock()
	sortObservations(out)
	return out
}

func sortObservations(o []Observation) {
	slices.SortStableFunc(o, func(a, b Observation) int {
		switch {
		case a.Serial() < b.Serial():
			return -1
		case a.Serial() > b.Serial():
			return 1
		}
		return 0
	})
}

// Stats reports what the capture received and lost so far.
func (s *Sensor) Stats() Stats {
	st := Stats{
		Records:   s.records.Load(),
		Malformed: s.malformed.Load(),
		Filtered:  s.filtered.Load(),
		Overruns:  s.overruns.Load(),
		Dropped:   s.dropped.Load(),
		Multicast: s.multicast,
	}
	s.mu.Lock()
	st.Observations = uint64(len(s.obs))
	st.Events = s.distinct
	if s.maxSer >= s.minSer && s.distinct > 0 {
		st.Gaps = s.maxSer - s.minSer + 1 - min(s.distinct, s.maxSer-s.minSer+1)
	}
	st.Warnings = slices.Clone(s.warnings)
	s.mu.Unlock()
	s.ctlMu.Lock()
	if as, err := s.ctl.GetStatus(); err == nil {
		st.KernelLost = as.Lost - s.baseLost
	}
	s.ctlMu.Unlock()
	return st
}

// Close removes the sensor's rules, restores the audit state it changed
// (when no other sensor still runs) and stops reading. It is safe to call
// more than once and from several goroutines; observations stay readable.
func (s *Sensor) Close() error {
	s.closeOnce.Do(func() {
		close(s.sigStop)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var errs []error
		if lock, err := acquireHostLock(ctx); err != nil {
			errs = append(errs, err)
			// Remove our rules even without the lock: leftovers are worse.
			errs = append(errs, s.uninstall())
		} else {
			errs = append(errs, s.uninstall())
			lock.release()
		}
		s.shutdownReader()
		s.ctlMu.Lock()
		errs = append(errs, s.ctl.Close())
		_ = s.marker.Close()
		s.ctlMu.Unlock()
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sensor: close: %w", err)
		}
	})
	return s.closeErr
}

func (s *Sensor) shutdownReader() {
	close(s.stop)
	<-s.done
	s.sweep(0)
	if s.rdClient != nil {
		_ = s.rdClient.Close() // unregisters us as the audit daemon, closes the socket
	} else {
		_ = s.rd.Close()
	}
}
