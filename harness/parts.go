package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/purpleharness/purpleharness/atomics"
	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/fakemail"
	"github.com/purpleharness/purpleharness/fakemail/container"
	"github.com/purpleharness/purpleharness/harness/sensor"
	"github.com/purpleharness/purpleharness/rules"
	"github.com/purpleharness/purpleharness/scenarios"
)

// This file adapts the project's concrete parts to the harness's seams.

var (
	_ Engine      = Embedded{}
	_ Explainer   = Embedded{}
	_ Sensor      = (*AuditSensor)(nil)
	_ MailServers = (*InProcessServers)(nil)
	_ Atomics     = (*Catalog)(nil)
)

// Embedded is the embedded EQL engine (package eql).
type Embedded struct{}

func (Embedded) Name() string { return "embedded" }

// Search evaluates the rule over the documents of the indices its patterns
// match, one eql.Source per index, as Elasticsearch searches "index1,index2".
func (Embedded) Search(ctx context.Context, rule *rules.Rule, req eql.Request, docs []ecs.Document) (*eql.Response, error) {
	byIndex := map[string][]ecs.Document{}
	for _, d := range docs {
		idx := DocIndex(d)
		if matchesIndex(rule.Index, idx) {
			byIndex[idx] = append(byIndex[idx], d)
		}
	}
	names := make([]string, 0, len(byIndex))
	for n := range byIndex {
		names = append(names, n)
	}
	sort.Strings(names)
	var sources []eql.Source
	for _, n := range names {
		m, err := indexMapping(byIndex[n])
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", n, err)
		}
		sources = append(sources, eql.Source{Index: n, Mapping: m, Events: eql.Events(docSeq(byIndex[n]))})
	}
	if len(sources) == 0 {
		sources = []eql.Source{{Index: strings.Join(rule.Index, ","), Events: eql.Events(docSeq(nil))}}
	}
	return eql.SearchSources(ctx, req, sources)
}

// shapeMapping is the merge of every profile's index mapping, partial.
var shapeMapping = sync.OnceValue(func() *eql.Mapping {
	var ms []*eql.Mapping
	for _, p := range ecs.Profiles {
		body, _ := ecs.IndexMappingJSON(p)
		m, err := eql.ParseMapping(body)
		if err != nil {
			panic("harness: the " + string(p) + " mapping does not parse: " + err.Error()) // built from fixed tables; TestIndexMappingDefend parses them
		}
		ms = append(ms, m)
	}
	return eql.Merge(ms...).Partial()
})

// indexMapping is the mapping Elasticsearch would hold for an index of the
// real data source holding docs: the source's index template
// (ecs.IndexMappingJSON) with docs indexed into it, so that fields compare
// by their mapped types as in Elasticsearch (Defend's numeric user.id 0
// equals "0"). A template held here only in part (Auditbeat, Sysmon for
// Linux) is a partial mapping: a field it does not list reads untyped.
// Documents of no known source get no mapping.
func indexMapping(docs []ecs.Document) (*eql.Mapping, error) {
	if len(docs) == 0 {
		return nil, nil
	}
	p := docProfile(docs[0])
	if p == "" {
		return nil, nil
	}
	body, complete := ecs.IndexMappingJSON(p)
	m, err := eql.ParseMapping(body)
	if err != nil {
		return nil, fmt.Errorf("the %s mapping: %w", p, err)
	}
	if !complete {
		m.Partial()
	}
	for _, d := range docs {
		if err := m.AddDynamic(d); err != nil {
			return nil, fmt.Errorf("a %s document does not index: %w", p, err)
		}
	}
	return m, nil
}

// docProfile names the data source a document is shaped after, by the
// index it would be written to; "" when none is recognised.
func docProfile(d ecs.Document) ecs.Profile {
	switch ds := docString(d, "data_stream.dataset"); {
	case strings.HasPrefix(ds, "endpoint.events."):
		return ecs.Endpoint
	case ds == "sysmon_linux.log":
		return ecs.SysmonLinux
	}
	if docString(d, "agent.type") == "auditbeat" {
		return ecs.Auditbeat
	}
	return ""
}

func docSeq(docs []ecs.Document) iter.Seq2[ecs.Document, error] {
	return func(yield func(ecs.Document, error) bool) {
		for _, d := range docs {
			if !yield(d, nil) {
				return
			}
		}
	}
}

// DocIndex names the index (data stream) a document would be written to:
// data_stream.{type}-{dataset}-{namespace} for Elastic Agent sources,
// auditbeat-{version} for Auditbeat.
func DocIndex(d ecs.Document) string {
	if t := docString(d, "data_stream.type"); t != "" {
		return t + "-" + docString(d, "data_stream.dataset") + "-" + docString(d, "data_stream.namespace")
	}
	if docString(d, "agent.type") == "auditbeat" {
		return "auditbeat-" + docString(d, "agent.version")
	}
	return ""
}

// matchesIndex reports whether idx matches one of the patterns (Elasticsearch
// wildcard patterns; "-pattern" exclusions are honoured). No patterns match
// everything, as a raw .eql rule without --index does.
func matchesIndex(patterns []string, idx string) bool {
	if len(patterns) == 0 {
		return true
	}
	in := false
	for _, p := range patterns {
		for _, q := range strings.Split(p, ",") {
			q = strings.TrimSpace(q)
			if neg := strings.HasPrefix(q, "-"); neg {
				if ok, _ := path.Match(q[1:], idx); ok {
					return false
				}
				continue
			}
			if ok, _ := path.Match(q, idx); ok {
				in = true
			}
		}
	}
	return in
}

// Shape parses the query into the shape explanations use.
func (Embedded) Shape(query string) (*Shape, error) {
	q, err := eql.Parse(query)
	if err != nil {
		return nil, err
	}
	if _, err := eql.Compile(q); err != nil {
		return nil, err
	}
	// The conditions are evaluated as the search evaluates them: typed by
	// the sources' index mappings (indexMapping). The shape does not know
	// which source's events it will explain; the profiles map their common
	// fields alike (ECS types), so their merge types every condition. A
	// query that mapping refuses (a field only one source defines, used
	// as another cannot be) is explained untyped.
	stages := q.Stages()
	if prog, err := eql.Compile(q, eql.WithMapping(shapeMapping())); err == nil {
		stages = prog.Stages()
	}
	s := &Shape{Kind: string(q.Kind), JoinKeys: q.Keys(), MaxSpan: q.MaxSpan}
	for _, st := range stages {
		if st.Missing {
			continue
		}
		cat := st.Category
		if cat == "" {
			cat = "any"
		}
		stage := Stage{Category: cat, JoinKeys: st.Keys, Runs: max(st.Runs, 1)}
		for _, c := range st.Conds {
			c := c
			stage.Conditions = append(stage.Conditions, Condition{Source: c.Text, Eval: func(f eql.Fields) Tri {
				switch c.Eval(f) {
				case eql.True:
					return True
				case eql.False:
					return False
				}
				return Null
			}})
		}
		s.Stages = append(s.Stages, stage)
	}
	return s, nil
}

// AuditSensor is a kernel sensor (eBPF or audit, see StartKernelSensor)
// with its renderer.
type AuditSensor struct {
	S        KernelSensor
	Renderer ecs.Renderer
	// NotEmitted counts observations the profile's source would not have
	// reported (e.g. Elastic Defend does not report a connect that never
	// queued a SYN).
	NotEmitted atomic.Int64
	// NotRendered counts observations the profile's source would send
	// but the profile does not render (ecs.ErrNotRendered).
	NotRendered atomic.Int64
	// RenderErrs counts observations that could not be rendered: lost to
	// the rules as surely as a kernel drop, so Lost counts them too.
	RenderErrs atomic.Int64
}

// StartAuditSensor starts the audit sensor recording this process's
// descendants, rendering with profile.
func StartAuditSensor(ctx context.Context, profile ecs.Profile) (*AuditSensor, error) {
	return StartSensor(ctx, profile, SensorAudit)
}

// StartSensor starts the kernel sensor choice names, recording this
// process's descendants, rendering with profile.
func StartSensor(ctx context.Context, profile ecs.Profile, choice SensorChoice) (*AuditSensor, error) {
	host, err := ecs.LocalHost()
	if err != nil {
		return nil, fmt.Errorf("describe host: %w", err)
	}
	s, err := StartKernelSensor(ctx, choice, sensor.Config{})
	if err != nil {
		return nil, err
	}
	return &AuditSensor{S: s, Renderer: NewRenderer(profile, host)}, nil
}

// NewRenderer is the renderer of this host's telemetry in profile, as if
// one agent installed on it had sent it: validate run and validate record
// use it, so their documents share agent.id and entity ids.
func NewRenderer(profile ecs.Profile, host ecs.Host) ecs.Renderer {
	return ecs.Renderer{Profile: profile, Host: host, Agent: ecs.Agent{ID: agentID(host.ID), Name: host.Name}}
}

// agentID is the agent.id the documents carry: Elastic Agent ids are
// UUIDs, fixed per installation; the machine id (32 hex digits) written as
// a UUID is that, stable across runs on one host. Entity ids embed it.
func agentID(machineID string) string {
	m := strings.ToLower(strings.ReplaceAll(machineID, "-", ""))
	if len(m) != 32 {
		return machineID
	}
	return m[:8] + "-" + m[8:12] + "-" + m[12:16] + "-" + m[16:20] + "-" + m[20:]
}

// Unobserved is what the running kernel sensor cannot see (GapReporter).
func (a *AuditSensor) Unobserved() []ecs.Observes {
	if g, ok := a.S.(GapReporter); ok {
		return g.Unobserved()
	}
	return nil
}

func (a *AuditSensor) Name() string                   { return a.S.Name() }
func (a *AuditSensor) Notes() []string                { return a.S.Notes() }
func (a *AuditSensor) Sync(ctx context.Context) error { return a.S.Sync(ctx) }
func (a *AuditSensor) Lost() uint64                   { return a.S.Lost() + uint64(a.RenderErrs.Load()) }
func (a *AuditSensor) Close() error                   { return a.S.Close() }

// Documents renders what the sensor recorded since the previous call,
// after joining the connection attempts with the servers' accepts.
func (a *AuditSensor) Documents(peers []Peer) []ecs.Document {
	return a.render(a.S.Drain(), peers)
}

func (a *AuditSensor) render(obs []sensor.Observation, peers []Peer) []ecs.Document {
	var conns []*ecs.Connect
	for _, o := range obs {
		if o.Connect != nil {
			conns = append(conns, o.Connect)
		}
	}
	sp := make([]sensor.Peer, len(peers))
	for i, p := range peers {
		sp[i] = p
	}
	sensor.Join(conns, sp)
	var out []ecs.Document
	for _, o := range obs {
		var (
			d   ecs.Document
			err error
		)
		ev := o.Event()
		if ev == nil {
			continue
		}
		d, err = a.Renderer.Render(ev)
		var ne *ecs.NotEmittedError
		switch {
		case errors.As(err, &ne):
			a.NotEmitted.Add(1)
		case errors.Is(err, ecs.ErrNotRendered):
			// The source sends it, the profile does not model it: a gap
			// of ours the verdicts account for, not a lost event.
			a.NotRendered.Add(1)
		case err != nil:
			a.RenderErrs.Add(1)
		default:
			out = append(out, d)
		}
	}
	return out
}

// InProcessServers are the fake mail servers running inside this process.
// Their error log (clients hanging up mid-greeting, protocol errors from
// hostile clients) is kept, not printed over the progress lines: the run
// writes it to servers.log.
type InProcessServers struct {
	S *fakemail.Servers
	// Why, when set, says why the servers run in-process rather than in a
	// container; Mode includes it.
	Why   string
	where string
	log   lockedBuffer
}

// Log returns what the servers logged.
func (m *InProcessServers) Log() string { return m.log.String() }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil // bounded: a hostile client must not fill memory
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StartInProcessServers starts the default account on the canonical
// loopback ports (ports overrides them; nil keeps them).
func StartInProcessServers(ctx context.Context, ports map[fakemail.Service]int) (*InProcessServers, error) {
	return StartInProcessServersWith(ctx, ServerOptions{Ports: ports})
}

// ServerOptions place the mail servers.
type ServerOptions struct {
	// Ports overrides the canonical ports; nil keeps them.
	Ports map[fakemail.Service]int
	// Host is the address to listen on, 127.0.0.1 when empty.
	Host string
	// Listen opens the listeners (in the run's network namespace); nil
	// listens in this process's namespace. Container servers get the
	// listeners it opens handed over.
	Listen func(ctx context.Context, network, addr string) (net.Listener, error)
	// Where names the place the servers listen, for Mode ("network
	// namespace purpleharness-…").
	Where string
	// Log receives the container's build log and stderr; nil drops them.
	Log io.Writer
	// Progress, when set, hears of steps that take a while.
	Progress func(string)
}

// StartInProcessServersWith starts the default account as opts ask.
func StartInProcessServersWith(ctx context.Context, opts ServerOptions) (*InProcessServers, error) {
	m := &InProcessServers{where: opts.Where}
	cfg := fakemail.DefaultConfig()
	if opts.Ports != nil {
		cfg.Ports = opts.Ports
	}
	cfg.Host = opts.Host
	cfg.Listen = opts.Listen
	cfg.ErrorLog = log.New(&m.log, "fakemail: ", log.LstdFlags|log.Lmicroseconds)
	s, err := fakemail.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	m.S = s
	return m, nil
}

func (m *InProcessServers) Mode() string {
	mode := "in-process"
	if m.where != "" {
		mode += ", " + m.where
	}
	if m.Why != "" {
		mode += " (" + m.Why + ")"
	}
	return mode
}

func (m *InProcessServers) Addrs() map[string]string {
	out := map[string]string{}
	for svc, a := range m.S.Addrs() {
		out[string(svc)] = a
	}
	return out
}

func (m *InProcessServers) Evidence() []any {
	var out []any
	for _, s := range m.S.Evidence() {
		out = append(out, s)
	}
	return out
}

func (m *InProcessServers) Shutdown(ctx context.Context) error { return m.S.Shutdown(ctx) }

func (m *InProcessServers) Peers() []Peer { return sessionPeers(m.S.Evidence()) }

// sessionPeer adapts a fakemail session to the sensor's Peer.
type sessionPeer struct{ s fakemail.Session }

func (p sessionPeer) AcceptTime() time.Time      { return p.s.Start }
func (p sessionPeer) LocalAddr() netip.AddrPort  { return addrPort(p.s.Local) }
func (p sessionPeer) RemoteAddr() netip.AddrPort { return addrPort(p.s.Remote) }

func addrPort(e fakemail.Endpoint) netip.AddrPort {
	ip, err := netip.ParseAddr(e.IP)
	if err != nil || e.Port < 0 || e.Port > 65535 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ip, uint16(e.Port))
}

func sessionPeers(ss []fakemail.Session) []Peer {
	out := make([]Peer, len(ss))
	for i, s := range ss {
		out[i] = sessionPeer{s}
	}
	return out
}

// Catalog runs atomics from a loaded Atomic Red Team folder.
type Catalog struct {
	C *atomics.Catalog
	// GetPrereqs fetches unmet prerequisites (get_prereq_command).
	GetPrereqs bool
	// Start, if set, starts the atomics' processes (in the run's sandbox).
	Start func(*exec.Cmd) error
	// TempDir, if set, holds each test's working directory (a directory
	// the run's reaper removes should the run die).
	TempDir string
	// C2, if set, is the mail servers' address: input arguments whose
	// value (default or override) is DefaultC2 get it instead.
	C2 string
}

func (c *Catalog) find(ref scenarios.AtomicRef) (*atomics.Test, error) {
	var t *atomics.Test
	if ref.GUID != "" {
		t = c.C.ByGUID(ref.GUID)
	} else {
		t = c.C.Find(ref.Technique, ref.Name)
	}
	if t == nil {
		var names []string
		tech := ref.Technique
		for _, x := range c.C.Tests() {
			if tech == "" || x.Technique == tech {
				names = append(names, fmt.Sprintf("%q", x.Name))
			}
		}
		return nil, fmt.Errorf("no atomic test %s (have: %s)", ref, strings.Join(names, ", "))
	}
	return t, nil
}

// DefaultC2 is where the fake mail servers listen unless the run says
// otherwise (--c2-address); the atomics and the suite name it literally.
const DefaultC2 = "127.0.0.1"

// c2Inputs points the test's inputs that name DefaultC2 at c2.
func c2Inputs(t *atomics.Test, inputs map[string]string, c2 string) map[string]string {
	if c2 == "" || c2 == DefaultC2 {
		return inputs
	}
	out := map[string]string{}
	for k, v := range inputs {
		out[k] = v
	}
	for _, a := range t.InputArguments {
		v, set := out[a.Name]
		if !set {
			v = a.Default
		}
		if v == DefaultC2 {
			out[a.Name] = c2
		}
	}
	return out
}

// c2Command points a benign command's literal DefaultC2 at c2.
func c2Command(c scenarios.Command, c2 string) scenarios.Command {
	if c2 == "" || c2 == DefaultC2 {
		return c
	}
	c.Shell = replaceAddr(c.Shell, DefaultC2, c2)
	argv := make([]string, len(c.Argv))
	for i, a := range c.Argv {
		argv[i] = replaceAddr(a, DefaultC2, c2)
	}
	c.Argv = argv
	return c
}

// replaceAddr replaces the IPv4 address old where it stands as a whole
// address in s ("127.0.0.1", "127.0.0.1:110", "pop3://127.0.0.1/"), not
// where it is part of another ("127.0.0.10", "1127.0.0.1", "127.0.0.1.5").
func replaceAddr(s, old, repl string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(old)
		whole := (i == 0 || !addrByte(s[i-1])) &&
			(end == len(s) || !(isDigit(s[end]) || s[end] == '.' && end+1 < len(s) && isDigit(s[end+1])))
		b.WriteString(s[:i])
		if whole {
			b.WriteString(repl)
		} else {
			b.WriteString(old)
		}
		s = s[end:]
	}
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func addrByte(c byte) bool { return isDigit(c) || c == '.' }

// Check finds the test, refuses one that cannot run as written (an
// unknown executor or argument type, a default of the wrong type, ...;
// see atomics.Test.Problems) and type-checks the input overrides.
func (c *Catalog) Check(ref scenarios.AtomicRef, inputs map[string]string) error {
	t, err := c.find(ref)
	if err != nil {
		return err
	}
	if probs := t.Problems(inputs); len(probs) > 0 {
		lines := make([]string, len(probs))
		for i, f := range probs {
			lines[i] = f.String()
		}
		return fmt.Errorf("atomic %s cannot run as written:\n  %s", t.ID(), strings.Join(lines, "\n  "))
	}
	_, err = t.Resolve(inputs)
	return err
}

// Run executes the test with atomics.Run.
func (c *Catalog) Run(ctx context.Context, ref scenarios.AtomicRef, inputs map[string]string, timeout time.Duration, onStart func(int)) (Execution, error) {
	t, err := c.find(ref)
	if err != nil {
		return Execution{}, err
	}
	opts := atomics.RunOptions{Inputs: c2Inputs(t, inputs, c.C2), Timeout: timeout, OnStart: onStart, GetPrereqs: c.GetPrereqs, Start: c.Start}
	if c.TempDir != "" {
		dir, err := os.MkdirTemp(c.TempDir, "atomic-")
		if err != nil {
			return Execution{}, err
		}
		defer os.RemoveAll(dir)
		opts.Dir = dir
	}
	r, err := atomics.Run(ctx, t, opts)
	ex := Execution{Test: r.Test, Start: r.Start.UTC(), End: r.End.UTC(), Reason: r.Reason}
	if r.Exec != nil {
		ex.Command, ex.PID, ex.ExitCode = r.Exec.Command, r.Exec.PID, r.Exec.ExitCode
		ex.Stdout, ex.Stderr = r.Exec.Stdout, r.Exec.Stderr
	}
	if r.Cleanup != nil {
		ex.Cleanup = fmt.Sprintf("exit code %d", r.Cleanup.ExitCode)
		if r.Cleanup.Err != "" {
			ex.Cleanup = r.Cleanup.Err
		}
	}
	switch {
	case err != nil:
		ex.Status, ex.Reason = StatusFailed, err.Error()
	case r.Status == atomics.Succeeded:
		ex.Status = StatusOK
	case r.Status == atomics.Skipped:
		ex.Status = StatusSkipped
	default:
		ex.Status = StatusFailed
		if ex.Reason == "" {
			ex.Reason = string(r.Status)
		}
	}
	return ex, nil
}

// ContainerServers are the fake mail servers in a container (package
// fakemail/container): in the run's network namespace, or host networking
// without one; either way clients connect straight to the server process
// and no docker-proxy appears in the telemetry.
type ContainerServers struct {
	S     *container.Servers
	where string
}

var _ MailServers = (*ContainerServers)(nil)

// StartContainerServers builds the FROM-scratch image and starts it on the
// canonical loopback ports. log receives the build log and container stderr.
func StartContainerServers(ctx context.Context, log io.Writer) (*ContainerServers, error) {
	return StartContainerServersWith(ctx, ServerOptions{Log: log})
}

// StartContainerServersWith starts the container as opts ask: with
// opts.Listen, it serves listeners opened by Listen (in the run's network
// namespace) and has no network of its own.
func StartContainerServersWith(ctx context.Context, opts ServerOptions) (*ContainerServers, error) {
	co := container.Options{Log: opts.Log, Listen: opts.Host, OpenListener: opts.Listen, Progress: opts.Progress}
	if opts.Ports != nil {
		// Only ephemeral ports are offered to a container.
		co.Ephemeral = true
	}
	s, err := container.Start(ctx, co)
	if err != nil {
		return nil, err
	}
	where := opts.Where
	if where == "" {
		where = "host network"
	}
	return &ContainerServers{S: s, where: where}, nil
}

func (m *ContainerServers) Mode() string {
	return "container " + shortID(m.S.ContainerID()) + ", " + m.where
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func (m *ContainerServers) Addrs() map[string]string {
	out := map[string]string{}
	for svc, a := range m.S.Addrs() {
		out[string(svc)] = a
	}
	return out
}

func (m *ContainerServers) Evidence() []any {
	var out []any
	for _, s := range m.S.Evidence() {
		out = append(out, s)
	}
	return out
}

func (m *ContainerServers) Shutdown(ctx context.Context) error { return m.S.Shutdown(ctx) }

func (m *ContainerServers) Peers() []Peer { return sessionPeers(m.S.Evidence()) }

var _ GapReporter = (*AuditSensor)(nil)
