package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/prereq"
	"github.com/purpleharness/purpleharness/rules"
	"github.com/purpleharness/purpleharness/scenarios"
)

// Config is one run.
type Config struct {
	Suites []*scenarios.Suite
	Rules  []rules.Rule
	// Only, when not empty, restricts the run to these scenario names.
	Only []string
	// AllTechniques judges every rule on every scenario. Otherwise a rule
	// tagged with ATT&CK techniques ([[rule.threat]]) is judged only on
	// the scenarios of a technique it covers (rules.Rule.Covers), as a
	// repository of a thousand rules needs.
	AllTechniques bool
	// RulesSubset says Rules are some of the rules the suite was written
	// for (one version of a rule under comparison): an expectation naming
	// a rule not loaded is ignored instead of an error.
	RulesSubset bool

	// Engine and Explainer default to the embedded EQL engine.
	Engine    Engine
	Explainer Explainer
	Atomics   Atomics // may be nil when no scenario runs an atomic
	// StartServers and StartSensor bring the parts up; errors are
	// environment errors (exit 3).
	StartServers func(ctx context.Context) (MailServers, error)
	StartSensor  func(ctx context.Context) (Sensor, error)

	// StartProcess, when set, starts each benign command's process (the
	// run's sandbox puts it in its network namespace and cgroup); atomics
	// get theirs through Catalog.Start.
	StartProcess func(*exec.Cmd) error
	// TempDir, when set, holds the run's temporary files (copies of
	// renamed executables), so the run's reaper can remove them.
	TempDir string
	// C2 is the mail servers' address when not DefaultC2: a benign
	// command's literal DefaultC2 is replaced by it (atomics get it
	// through Catalog.C2).
	C2 string

	Profile string
	// RunID names the run (reports, Elasticsearch namespace); NewRunID
	// when empty.
	RunID string
	// Progress, when set, is told about each step as it happens.
	Progress func(Progress)
}

// Progress is one step of a run, for live output.
type Progress struct {
	Step     string // "servers", "sensor", "scenario", "evaluate"
	Scenario string
	Index    int // 1-based scenario index
	Total    int
	Done     bool
	Exec     *Execution // when a scenario finished
	Message  string
}

// EnvError is an environment problem: a part could not start because the
// machine lacks something (not root, no audit, a port held by another
// program, no Docker): its Err carries a *prereq.Missing. cmd/validate maps
// it to exit 3. A part that fails for its own reasons (a certificate that
// does not generate, an image that does not build, a rule the kernel
// refuses) is a plain error, not an EnvError.
type EnvError struct {
	Part string
	Err  error
}

func (e *EnvError) Error() string { return fmt.Sprintf("start %s: %v", e.Part, e.Err) }
func (e *EnvError) Unwrap() error { return e.Err }

// startError is an *EnvError when err names what the machine lacks, and a
// plain error otherwise.
func startError(part string, err error) error {
	if _, ok := prereq.As(err); ok {
		return &EnvError{part, err}
	}
	return fmt.Errorf("start %s: %w", part, err)
}

// InputError lists problems in the suite or rules found before anything
// runs (unknown rule reference, unknown atomic, a query that does not
// parse). cmd/validate maps it to exit 2.
type InputError struct{ Problems []string }

func (e *InputError) Error() string { return strings.Join(e.Problems, "\n") }

// Check validates the configuration without running anything: every rule
// parses, every expectation names a rule, every atomic resolves.
func Check(cfg Config) error {
	cfg.defaults()
	var probs []string
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		if r.Skipped() != "" {
			continue
		}
		if _, err := cfg.Explainer.Shape(r.Query); err != nil {
			probs = append(probs, ruleError(r, err))
			continue
		}
		// A field the profile's real index templates do not define can
		// never match: the rule would end MISSED for a reason that is
		// the rule's, not the scenario's.
		if tmpl, ok := ecs.TemplateFields(ecs.Profile(cfg.Profile)); ok {
			if q, err := eql.Parse(r.Query); err == nil {
				for _, fp := range UnknownFields(q, tmpl) {
					msg := fmt.Sprintf("%s: %s", r.PosAt(fp.Offset), fp.String(DefendSource))
					if other := OtherIntegrations(r.Integrations); len(other) > 0 {
						msg += fmt.Sprintf("; the rule declares the %s integration, whose fields the harness does not produce", strings.Join(other, ", "))
					}
					probs = append(probs, msg)
				}
			}
		}
	}
	// An unknown rule is reported once, at its first reference, with the
	// count of the others: pointing --rules at the wrong directory should
	// not bury the first error under a hundred.
	unknown := map[string]int{}
	unknownAt := map[string]int{} // index in probs
	for _, s := range cfg.Suites {
		for _, sc := range s.Scenarios {
			for _, e := range sc.Expect {
				if e.Rule == scenarios.AnyRule || cfg.RulesSubset || findRule(cfg.Rules, e.Rule) != nil {
					continue
				}
				if unknown[e.Rule]++; unknown[e.Rule] == 1 {
					unknownAt[e.Rule] = len(probs)
					probs = append(probs, fmt.Sprintf("%s: unknown rule %q (rules: %s)", e.Pos, e.Rule, ruleNames(cfg.Rules)))
				}
			}
			if sc.Atomic != nil {
				if cfg.Atomics == nil {
					probs = append(probs, fmt.Sprintf("%s: scenario %q runs an atomic but no atomics are loaded", sc.Pos, sc.Name))
				} else if err := cfg.Atomics.Check(*sc.Atomic, sc.Inputs); err != nil {
					probs = append(probs, fmt.Sprintf("%s: scenario %q: %v", sc.Pos, sc.Name, err))
				}
			}
		}
	}
	for name, n := range unknown {
		if n > 1 {
			probs[unknownAt[name]] += fmt.Sprintf(", and %d more references to it", n-1)
		}
	}
	for _, name := range cfg.Only {
		found := false
		for _, s := range cfg.Suites {
			for _, sc := range s.Scenarios {
				found = found || sc.Name == name
			}
		}
		if !found {
			probs = append(probs, fmt.Sprintf("no scenario named %q in the suite", name))
		}
	}
	if len(cfg.Rules) == 0 {
		probs = append(probs, "no rules to evaluate")
	}
	if len(probs) > 0 {
		return &InputError{probs}
	}
	return nil
}

func (cfg *Config) defaults() {
	if cfg.Engine == nil {
		cfg.Engine = Embedded{}
	}
	if cfg.Explainer == nil {
		cfg.Explainer = Embedded{}
	}
}

// ruleError renders a query error at its position in the rule file, from
// the error's byte offset in the query, as validate lint and query do.
func ruleError(r *rules.Rule, err error) string {
	var qe *eql.Error
	if errors.As(err, &qe) {
		return fmt.Sprintf("%s: %s", r.PosAt(qe.Offset), qe.Msg)
	}
	return fmt.Sprintf("%s: %v", r.QueryPos(), err)
}

// RuleRefs are the ways a scenario may name a rule: name, rule_id, file
// name with and without extension.
func RuleRefs(r *rules.Rule) []string {
	base := filepath.Base(r.File)
	return []string{r.Name, r.ID, base, strings.TrimSuffix(base, filepath.Ext(base)), r.File}
}

func findRule(rs []rules.Rule, ref string) *rules.Rule {
	for i := range rs {
		for _, x := range RuleRefs(&rs[i]) {
			if x != "" && x == ref {
				return &rs[i]
			}
		}
	}
	return nil
}

func ruleNames(rs []rules.Rule) string {
	var out []string
	for _, r := range rs {
		out = append(out, strings.TrimSuffix(filepath.Base(r.File), filepath.Ext(r.File)))
	}
	return strings.Join(out, ", ")
}

// Run executes the suite and returns the verdict matrix. Whatever happens,
// including cancellation of ctx, the servers and the sensor are shut down
// before it returns; the result so far is returned with ctx's error.
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	if err := Check(cfg); err != nil {
		return nil, err
	}
	cfg.defaults()
	progress := cfg.Progress
	if progress == nil {
		progress = func(Progress) {}
	}
	host, _ := os.Hostname()
	if cfg.RunID == "" {
		cfg.RunID = NewRunID()
	}
	res = &Result{RunID: cfg.RunID, Start: time.Now().UTC(), Host: host, Engine: cfg.Engine.Name(), Profile: cfg.Profile}
	// Teardown gets its own deadline: after Ctrl-C the run's ctx is done,
	// and cleanup must still happen.
	cleanupCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	}

	progress(Progress{Step: "servers"})
	servers, err := cfg.StartServers(ctx)
	if err != nil {
		return nil, startError("mail servers", err)
	}
	res.Servers = servers.Mode()
	defer func() {
		cctx, cancel := cleanupCtx()
		defer cancel()
		if res != nil {
			res.Evidence = servers.Evidence()
			if l, ok := servers.(interface{ Log() string }); ok {
				res.ServerLog = l.Log()
			}
		}
		if serr := servers.Shutdown(cctx); serr != nil && err == nil {
			err = fmt.Errorf("shut down mail servers: %w", serr)
		}
	}()
	progress(Progress{Step: "servers", Done: true, Message: servers.Mode()})

	progress(Progress{Step: "sensor"})
	sensor, err := cfg.StartSensor(ctx)
	if err != nil {
		return nil, startError("sensor", err)
	}
	defer func() {
		if cerr := sensor.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close sensor: %w", cerr)
		}
	}()
	// A result returned with an error is a partial one; it must not read
	// as a pass (registered last, so it runs before the teardown above).
	defer func() {
		switch {
		case err == nil || res == nil:
		case errors.Is(err, context.Canceled):
			res.Incomplete = "interrupted"
		default:
			res.Incomplete = err.Error()
		}
	}()
	sensorName := "kernel audit"
	if n, ok := sensor.(interface{ Name() string }); ok {
		sensorName = n.Name()
	}
	if n, ok := sensor.(interface{ Notes() []string }); ok {
		for _, note := range n.Notes() {
			sensorName += "; " + note
		}
	}
	res.Gaps = runGaps(cfg.Profile, sensor)
	progress(Progress{Step: "sensor", Done: true, Message: sensorName})

	var list []*scenarios.Scenario
	for _, s := range cfg.Suites {
		for _, sc := range s.Scenarios {
			if len(cfg.Only) == 0 || contains(cfg.Only, sc.Name) {
				list = append(list, sc)
			}
		}
	}
	// Telemetry from before the first scenario (the servers starting, the
	// sensor's own setup) belongs to no scenario.
	if err := sensor.Sync(ctx); err != nil {
		return res, fmt.Errorf("sensor sync: %w", err)
	}
	res.Documents = append(res.Documents, sensor.Documents(servers.Peers())...)

	windows := make([]window, 0, len(list))
	for i, sc := range list {
		if ctx.Err() != nil {
			break
		}
		progress(Progress{Step: "scenario", Scenario: sc.Name, Index: i + 1, Total: len(list)})
		sr := &ScenarioResult{Name: sc.Name, Description: sc.Description, Technique: sc.Technique, Tags: sc.Tags}
		w := window{scenario: sr, pids: map[int]bool{}, all: sc.Recorded != ""}
		onStart := func(pid int) { w.addRoot(pid) }
		var ex Execution
		var recorded []ecs.Document
		switch {
		case sc.Recorded != "":
			sr.Runs = recordedPrefix + sc.Recorded
			now := time.Now().UTC()
			ex = Execution{Status: StatusOK, Command: sr.Runs, Start: now, End: now}
			recorded, err = ReadRecorded(sc.Recorded)
		case sc.Atomic != nil:
			sr.Runs = "atomic " + sc.Atomic.String()
			ex, err = cfg.Atomics.Run(ctx, *sc.Atomic, sc.Inputs, sc.Timeout, onStart)
		default:
			sr.Runs = sc.Command.String()
			ex, err = runCommand(ctx, c2Command(*sc.Command, cfg.C2), sc.Timeout, onStart, cfg.StartProcess, cfg.TempDir)
		}
		if err != nil {
			ex.Status, ex.Reason = StatusFailed, err.Error()
		}
		if ex.PID != 0 {
			w.addRoot(ex.PID)
		}
		sr.Exec = ex
		if serr := sensor.Sync(ctx); serr != nil && ctx.Err() == nil {
			return res, fmt.Errorf("sensor sync after %s: %w", sc.Name, serr)
		}
		w.first = len(res.Documents)
		res.Documents = append(res.Documents, sensor.Documents(servers.Peers())...)
		if w.all {
			// What the sensor saw meanwhile is no scenario's; the window
			// is the recording.
			w.first = len(res.Documents)
			res.Documents = append(res.Documents, recorded...)
		}
		w.last = len(res.Documents)
		res.Scenarios = append(res.Scenarios, sr)
		windows = append(windows, w)
		progress(Progress{Step: "scenario", Scenario: sc.Name, Index: i + 1, Total: len(list), Done: true, Exec: &sr.Exec})
	}
	res.Lost = sensor.Lost()
	if ctx.Err() != nil {
		res.End = time.Now().UTC()
		return res, ctx.Err()
	}
	for _, w := range windows {
		w.scenario.Telemetry = [2]int{w.first, w.last}
	}
	if err := evaluate(ctx, cfg, res, list, windows, progress); err != nil {
		return res, err
	}
	res.End = time.Now().UTC()
	return res, nil
}

// recordedPrefix starts ScenarioResult.Runs of a recorded scenario.
const recordedPrefix = "recorded "

// evaluate attributes each scenario's slice of the telemetry to its
// process tree, runs every rule over the attributed documents and judges
// each scenario × rule cell. Run calls it on what it just recorded, Replay
// on what a run directory holds.
func evaluate(ctx context.Context, cfg Config, res *Result, list []*scenarios.Scenario, windows []window, progress func(Progress)) error {
	// Attribute telemetry to scenarios by process tree, within each
	// scenario's slice of the stream.
	var evaluated []ecs.Document

	for wi := range windows {
		w := &windows[wi]
		w.attribute(res.Documents[w.first:w.last])
		for _, d := range w.scenario.docs {
			evaluated = append(evaluated, d)
		}
	}
	sort.SliceStable(evaluated, func(i, j int) bool { return docTime(evaluated[i]).Before(docTime(evaluated[j])) })

	progress(Progress{Step: "evaluate"})
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		info := RuleInfo{Name: r.Name, ID: r.ID, File: r.File, Severity: string(r.Severity), Techniques: r.TechniqueIDs(), Query: r.Query, Skipped: r.Skipped()}
		res.Rules = append(res.Rules, info)
		var shape *Shape
		deps := dependsOn(ruleRefs(r.Query), res.Gaps)
		perScenario := map[*ScenarioResult][]Detection{}
		var inScope []*ScenarioResult
		for _, sr := range res.Scenarios {
			if cfg.AllTechniques || r.Covers(sr.Technique) {
				inScope = append(inScope, sr)
			}
		}
		if info.Skipped == "" && len(inScope) > 0 {
			shape, _ = cfg.Explainer.Shape(r.Query)
			if shape != nil {
				shape.CategoryField = r.EventCategoryField()
			}
			// The rule's own event_category_override, timestamp_field and
			// tiebreaker_field go into the request, as Kibana sends them.
			req := r.Request()
			req.Size = MaxResults
			resp, err := cfg.Engine.Search(ctx, r, req, evaluated)
			if err != nil {
				return fmt.Errorf("evaluate %s: %w", r.File, err)
			}
			for _, d := range detections(resp) {
				d.Spans = spans(windows, d)
				if w := ownerOf(windows, d); w != nil {
					perScenario[w.scenario] = append(perScenario[w.scenario], d.Detection)
				}
			}
		}
		for _, sr := range inScope {
			sc := findScenario(list, sr.Name)
			exp, has := sc.ExpectationFor(RuleRefs(r)...)
			cell := &Cell{Scenario: sr.Name, Rule: r.Name, RuleFile: r.File, Tags: sr.Tags, Sequences: perScenario[sr]}
			if has {
				cell.Expect, cell.KnownGap = exp.Expect, exp.KnownGap
			}
			if cell.Sequences == nil {
				cell.Sequences = []Detection{}
			}
			if info.Skipped != "" {
				cell.Verdict = Skipped
				cell.Explanation = Explanation{Summary: "rule not evaluated: " + info.Skipped}
			} else {
				cell.Verdict = judge(sr, exp, has, cell.Sequences)
				cell.Explanation = explain(cell.Verdict, sr, exp, shape, cell.Sequences)
				if unverifiable(cell.Verdict, exp, deps) {
					cell.Explanation = explainUnverifiable(cell.Verdict, cell.Explanation, deps, cfg.Profile)
					cell.Verdict = Unverifiable
					for _, g := range deps {
						cell.Gaps = append(cell.Gaps, g.String())
					}
				}
			}
			res.Cells = append(res.Cells, cell)
		}
	}
	if d, ok := cfg.Engine.(interface{ Disagreements() []string }); ok {
		res.Disagreements = d.Disagreements()
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func findScenario(list []*scenarios.Scenario, name string) *scenarios.Scenario {
	for _, sc := range list {
		if sc.Name == name {
			return sc
		}
	}
	return nil
}

// NewRunID returns a run id: UTC time and 8 random hex digits, unique
// enough for parallel CI jobs sharing a cluster.
func NewRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// window is one scenario's slice of the telemetry stream and its process
// tree.
type window struct {
	scenario    *ScenarioResult
	pids        map[int]bool
	all         bool // a recorded scenario: every document of the window is its
	first, last int  // indexes into Result.Documents
	from, to    time.Time
}

func (w *window) addRoot(pid int) { w.pids[pid] = true }

// attribute keeps the documents of the scenario's process tree: its root
// process(es) and every process whose parent is in the tree, learnt from the
// documents themselves (process.parent.pid), in stream order.
func (w *window) attribute(docs []ecs.Document) {
	// Parents may appear after children in arrival order (audit records
	// from two CPUs); iterate to a fixed point.
	for changed := true; changed; {
		changed = false
		for _, d := range docs {
			pid, ok := docInt(d, "process.pid")
			if !ok || w.pids[pid] {
				continue
			}
			if w.all {
				w.pids[pid] = true
				changed = true
				continue
			}
			if ppid, ok := docInt(d, "process.parent.pid"); ok && w.pids[ppid] {
				w.pids[pid] = true
				changed = true
			}
		}
	}
	for _, d := range docs {
		pid, ok := docInt(d, "process.pid")
		if !w.all && (!ok || !w.pids[pid]) {
			continue
		}
		w.scenario.docs = append(w.scenario.docs, d)
		w.scenario.Events++
		if docHas(d, "event.category", "network") {
			w.scenario.NetworkEvents++
		}
		t := docTime(d)
		if w.from.IsZero() || t.Before(w.from) {
			w.from = t
		}
		if t.After(w.to) {
			w.to = t
		}
	}
	for p := range w.pids {
		w.scenario.Processes = append(w.scenario.Processes, p)
	}
	sort.Ints(w.scenario.Processes)
}

type attributed struct {
	Detection
	pids  []int
	times []time.Time
}

// detections converts an _eql/search response into detections. An event
// query's hits each count as one detection.
func detections(resp *eql.Response) []attributed {
	var out []attributed
	add := func(keys []any, hits []eql.Hit) {
		a := attributed{Detection: Detection{JoinKeys: keys}}
		for _, h := range hits {
			if h.Missing || h.Source == nil {
				continue
			}
			d := h.Source
			pid, _ := docInt(d, "process.pid")
			ref := EventRef{
				Time: docTime(d), Action: docString(d, "event.action"), ProcessName: docString(d, "process.name"),
				PID: pid, EntityID: docString(d, "process.entity_id"),
			}
			if ip := docString(d, "destination.ip"); ip != "" {
				ref.Destination = ip + ":" + docString(d, "destination.port")
				if strings.Contains(ip, ":") {
					ref.Destination = "[" + ip + "]:" + docString(d, "destination.port")
				}
			}
			a.Events = append(a.Events, ref)
			a.pids = append(a.pids, pid)
			a.times = append(a.times, ref.Time)
		}
		out = append(out, a)
	}
	if resp == nil {
		return nil
	}
	for _, s := range resp.Hits.Sequences {
		add(s.JoinKeys, s.Events)
	}
	for _, h := range resp.Hits.Events {
		add(nil, []eql.Hit{h})
	}
	return out
}

// spans names the scenarios that contributed events to a detection, when
// there is more than one.
func spans(ws []window, a attributed) []string {
	var names []string
	for i := range a.pids {
		one := attributed{pids: a.pids[i : i+1], times: a.times[i : i+1]}
		if w := ownerOf(ws, one); w != nil && !contains(names, w.scenario.Name) {
			names = append(names, w.scenario.Name)
		}
	}
	if len(names) < 2 {
		return nil
	}
	return names
}

// ownerOf attributes a detection to the scenario that completed it: the
// scenario whose process tree and time window hold its last event.
func ownerOf(ws []window, a attributed) *window {
	for i := len(a.pids) - 1; i >= 0; i-- {
		for wi := range ws {
			w := &ws[wi]
			if !w.pids[a.pids[i]] {
				continue
			}
			t := a.times[i]
			if !w.from.IsZero() && (t.Before(w.from) || t.After(w.to)) {
				continue
			}
			return w
		}
	}
	return nil
}
