package harness

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/scenarios"
)

// Explanation is why a cell got its verdict, drawn from the scenario's
// events. It is data: reports render it, tests compare it.
type Explanation struct {
	// Summary is one line: the reason in a sentence.
	Summary string `json:"summary"`
	// Details are further facts, each one line.
	Details []string `json:"details,omitempty"`
	// Stages is the per-stage analysis of the rule's conditions on the
	// scenario's events (set when the rule did not fire).
	Stages []StageReport `json:"stages,omitempty"`
}

// String renders the explanation on one line.
func (e Explanation) String() string {
	if len(e.Details) == 0 {
		return e.Summary
	}
	return e.Summary + "; " + strings.Join(e.Details, "; ")
}

// Text renders the explanation on several lines, for failure messages.
func (e Explanation) Text() string {
	var b strings.Builder
	b.WriteString(e.Summary)
	for _, d := range e.Details {
		b.WriteString("\n  - ")
		b.WriteString(d)
	}
	for i, s := range e.Stages {
		fmt.Fprintf(&b, "\n  stage %d [%s where ...] (runs=%d): %d candidate events, %d matched every condition", i+1, s.Category, s.Runs, s.Events, s.Matched)
		for _, c := range s.Conditions {
			fmt.Fprintf(&b, "\n    %s → true in %d of %d", c.Source, c.True, c.Of)
			if c.Null > 0 {
				fmt.Fprintf(&b, " (null in %d)", c.Null)
			}
		}
	}
	return b.String()
}

// StageReport is one stage's conditions counted over the scenario's events.
type StageReport struct {
	Category   string            `json:"category"`
	Runs       int               `json:"runs"`
	Events     int               `json:"events"`  // events of the stage's category
	Matched    int               `json:"matched"` // events meeting every condition
	Conditions []ConditionReport `json:"conditions"`
}

// ConditionReport counts one condition over a stage's candidate events.
type ConditionReport struct {
	Source string `json:"condition"`
	True   int    `json:"true"`
	Null   int    `json:"null,omitempty"`
	Of     int    `json:"of"`
}

// judge decides the verdict of one cell from the scenario's execution, its
// telemetry and the detections attributed to it.
func judge(sc *ScenarioResult, exp scenarios.Expectation, hasExp bool, dets []Detection) Verdict {
	switch {
	case sc.Exec.Status == StatusSkipped:
		return Skipped
	case sc.Exec.Status == StatusFailed:
		return ExecFailed
	case sc.NetworkEvents == 0 && len(dets) == 0:
		return NoTelemetry
	case !hasExp:
		return NoExpectation
	}
	held := holds(exp, dets)
	switch {
	case held && exp.KnownGap != "":
		return GapClosed
	case held:
		return Pass
	case exp.KnownGap != "" && exp.Expect == scenarios.Fires:
		return KnownGapMissed
	case exp.KnownGap != "":
		return KnownGapFalsePositive
	case exp.Expect == scenarios.Fires:
		return Missed
	}
	return FalsePositive
}

// holds reports whether the detections meet the expectation.
func holds(exp scenarios.Expectation, dets []Detection) bool {
	if exp.Expect == scenarios.Silent {
		return len(dets) == 0
	}
	n := len(matchingProcess(exp.ProcessName, dets))
	if exp.Sequences > 0 {
		return n == exp.Sequences
	}
	return n > 0
}

// matchingProcess keeps the detections with an event from a process named
// name (case-insensitively, as in~ compares); all of them when name is "".
func matchingProcess(name string, dets []Detection) []Detection {
	if name == "" {
		return dets
	}
	var out []Detection
	for _, d := range dets {
		for _, e := range d.Events {
			if strings.EqualFold(e.ProcessName, name) {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// explain builds the explanation of a cell.
func explain(v Verdict, sc *ScenarioResult, exp scenarios.Expectation, shape *Shape, dets []Detection) Explanation {
	var e Explanation
	switch v {
	case Skipped:
		e.Summary = "scenario skipped: " + sc.Exec.Reason
		return e
	case ExecFailed:
		e.Summary = "scenario failed to run: " + sc.Exec.Reason
		if s := strings.TrimSpace(lastLine(sc.Exec.Stderr)); s != "" {
			e.Details = append(e.Details, "stderr: "+s)
		}
		if len(dets) > 0 {
			e.Details = append(e.Details, firedSummary(dets))
		}
		return e
	case NoTelemetry:
		e.Summary = fmt.Sprintf("the sensor recorded no network event from the scenario's processes (%d events in all)", sc.Events)
		return e
	}
	if len(dets) > 0 {
		e.Summary = firedSummary(dets)
		for _, d := range dets {
			e.Details = append(e.Details, describeDetection(d))
		}
		if exp.Expect == scenarios.Fires && !holds(exp, dets) {
			e.Details = append([]string{expectationGap(exp, dets)}, e.Details...)
		}
	} else {
		e = analyse(shape, sc.docs)
	}
	if exp.KnownGap != "" {
		switch v {
		case GapClosed:
			e.Details = append(e.Details, "marked known_gap ("+exp.KnownGap+") but the expectation now holds: remove the marker")
		default:
			e.Details = append(e.Details, "known gap: "+exp.KnownGap)
		}
	}
	return e
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func firedSummary(dets []Detection) string {
	names := counter{}
	for _, d := range dets {
		for _, e := range d.Events {
			names[e.ProcessName]++
		}
	}
	var ps []string
	for _, x := range names.top(5) {
		ps = append(ps, x.k)
	}
	return fmt.Sprintf("fired %d %s (process %s)", len(dets), plural(len(dets), "sequence", "sequences"), strings.Join(ps, ", "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// String describes a detection in one line: its events' process, ends and
// time span.
func (d Detection) String() string { return describeDetection(d) }

func describeDetection(d Detection) string {
	if len(d.Events) == 0 {
		return "a detection with no events"
	}
	first, last := d.Events[0], d.Events[len(d.Events)-1]
	var dests []string
	for _, e := range d.Events {
		dests = append(dests, e.Destination)
	}
	keys := ""
	if len(d.JoinKeys) > 0 {
		keys = fmt.Sprintf(" join keys %v,", d.JoinKeys)
	}
	s := fmt.Sprintf("%d events from %s (pid %d, entity id %s),%s to %s, %s–%s (%s)",
		len(d.Events), first.ProcessName, first.PID, orDash(first.EntityID), keys,
		strings.Join(dests, " "), first.Time.Format("15:04:05.000"), last.Time.Format("15:04:05.000"),
		last.Time.Sub(first.Time).Round(time.Millisecond))
	if len(d.Spans) > 1 {
		s += "; the sequence joins events of scenarios " + strings.Join(d.Spans, ", ")
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func expectationGap(exp scenarios.Expectation, dets []Detection) string {
	m := matchingProcess(exp.ProcessName, dets)
	if exp.ProcessName != "" && len(m) == 0 {
		return fmt.Sprintf("expected a detection from process.name %q, got none from it", exp.ProcessName)
	}
	return fmt.Sprintf("expected %d %s, got %d", exp.Sequences, plural(exp.Sequences, "sequence", "sequences"), len(m))
}

// analyse explains why a rule returned nothing on docs: it counts every
// condition of every stage, finds the first that nothing passes and what the
// events held instead, and for sequences checks join keys, runs and maxspan.
func analyse(shape *Shape, docs []ecs.Document) Explanation {
	var e Explanation
	if shape == nil || len(shape.Stages) == 0 {
		e.Summary = "the rule returned no detection"
		return e
	}
	var reasons []string
	for si, st := range shape.Stages {
		cands := byCategory(docs, shape.CategoryField, st.Category)
		rep := StageReport{Category: st.Category, Runs: max(st.Runs, 1), Events: len(cands)}
		surviving := cands
		blocked := false
		for _, c := range st.Conditions {
			cr := ConditionReport{Source: c.Source, Of: len(cands)}
			for _, d := range cands {
				switch c.Eval(d) {
				case True:
					cr.True++
				case Null:
					cr.Null++
				}
			}
			rep.Conditions = append(rep.Conditions, cr)
			var next []ecs.Document
			for _, d := range surviving {
				if c.Eval(d) == True {
					next = append(next, d)
				}
			}
			if len(next) == 0 && len(surviving) > 0 && !blocked {
				blocked = true
				reasons = append(reasons, conditionReason(c.Source, cr, surviving, docs))
			}
			surviving = next
		}
		rep.Matched = len(surviving)
		e.Stages = append(e.Stages, rep)
		if len(cands) == 0 {
			reasons = append(reasons, fmt.Sprintf("no %s events from the scenario's processes", st.Category))
			continue
		}
		if blocked {
			continue
		}
		if shape.Kind != "sequence" {
			continue
		}
		keys := append(append([]string{}, shape.JoinKeys...), st.JoinKeys...)
		if r := joinReason(si, rep, keys, surviving, shape.MaxSpan); r != "" {
			reasons = append(reasons, r)
		}
	}
	if len(reasons) == 0 {
		e.Summary = "the rule returned no detection, though every stage has matching events"
		return e
	}
	e.Summary = reasons[0]
	e.Details = reasons[1:]
	return e
}

// byCategory selects the documents whose field (event.category when
// empty) holds category.
func byCategory(docs []ecs.Document, field, category string) []ecs.Document {
	if category == "" || category == "any" {
		return docs
	}
	if field == "" {
		field = eql.DefaultEventCategoryField
	}
	var out []ecs.Document
	for _, d := range docs {
		if docHas(d, field, category) {
			out = append(out, d)
		}
	}
	return out
}

// conditionRe splits a simple condition into field, operator and the rest:
// `event.type == "connection_attempted"`, `not process.name in~ (...)`.
var (
	conditionRe = regexp.MustCompile(`^\s*(not\s+)?\(?\s*([A-Za-z_@?][\w.@]*)\s*(==|!=|:|in~|in|like~|like|regex~|regex|not\s+in~?)\s*(.*)$`)
	literalRe   = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"|\b(\d+(?:\.\d+)?)\b`)
)

// conditionReason says that cond matched none of the events still in the
// running, what its field held instead, and where else in the scenario's
// events the literal it wanted appears.
func conditionReason(source string, cr ConditionReport, surviving, all []ecs.Document) string {
	reason := fmt.Sprintf("`%s` matched %d of %d events", oneLine(source), cr.True, cr.Of)
	if cr.True > 0 {
		reason = fmt.Sprintf("`%s` matched %d of %d events, none of those that met the conditions before it (%d)", oneLine(source), cr.True, cr.Of, len(surviving))
	}
	m := conditionRe.FindStringSubmatch(source)
	if m == nil {
		return reason
	}
	field := strings.TrimPrefix(m[2], "?")
	held := counter{}
	missing := 0
	for _, d := range surviving {
		v, ok := d.Lookup(field)
		if !ok || v == nil {
			missing++
			continue
		}
		for _, x := range values(v) {
			held[scalarString(x)]++
		}
	}
	if len(held) > 0 {
		reason += fmt.Sprintf(" (%s held %s)", field, quoteList(held.top(3)))
	}
	if missing > 0 {
		reason += fmt.Sprintf(" (%s missing in %d)", field, missing)
	}
	if m[1] != "" || strings.HasPrefix(m[3], "not") || m[3] == "!=" {
		return reason // a negated condition failed: its field held an excluded value, shown above
	}
	// Where does the wanted literal appear instead?
	var wanted []string
	for _, lm := range literalRe.FindAllStringSubmatch(m[4], -1) {
		if lm[1] != "" {
			wanted = append(wanted, strings.ReplaceAll(lm[1], `\"`, `"`))
		} else if lm[2] != "" {
			wanted = append(wanted, lm[2])
		}
	}
	fold := strings.HasSuffix(m[3], "~") || m[3] == ":"
	elsewhere := map[string]counter{}
	for _, d := range all {
		seen := map[string]bool{}
		for _, l := range flatten(d) {
			if l.path == field || seen[l.path+"\x00"+l.value] {
				continue
			}
			for _, w := range wanted {
				if l.value == w || (fold && strings.EqualFold(l.value, w)) {
					seen[l.path+"\x00"+l.value] = true
					if elsewhere[w] == nil {
						elsewhere[w] = counter{}
					}
					elsewhere[w][l.path]++
				}
			}
		}
	}
	var parts []string
	for _, w := range wanted {
		for _, x := range elsewhere[w].top(2) {
			parts = append(parts, fmt.Sprintf("%s holds %q in %d", x.k, w, x.n))
		}
	}
	if len(parts) > 0 {
		reason += ", while " + strings.Join(parts, ", ")
	}
	return reason
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// joinReason explains a sequence stage whose events meet every condition but
// form no sequence: too few, split across join key values, or too far apart.
func joinReason(stage int, rep StageReport, keys []string, matched []ecs.Document, maxspan time.Duration) string {
	runs := rep.Runs
	if len(matched) == 0 {
		return ""
	}
	if len(matched) < runs {
		return fmt.Sprintf("%d %s met every condition of stage %d, fewer than runs=%d",
			len(matched), plural(len(matched), "event", "events"), stage+1, runs)
	}
	groups := map[string][]ecs.Document{}
	var order []string
	nullKeys := map[string]int{}
	for _, d := range matched {
		var parts []string
		for _, k := range keys {
			v := docString(d, k)
			if v == "" {
				nullKeys[k]++
			}
			parts = append(parts, v)
		}
		g := strings.Join(parts, "\x00")
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], d)
	}
	largest := 0
	for _, g := range groups {
		largest = max(largest, len(g))
	}
	if largest < runs {
		// Name the key(s) whose values differ between the matched events.
		var split []string
		for _, k := range keys {
			vals := map[string]bool{}
			for _, d := range matched {
				vals[docString(d, k)] = true
			}
			if len(vals) > 1 {
				split = append(split, fmt.Sprintf("%d different %s values", len(vals), k))
			}
		}
		r := fmt.Sprintf("%d events met every condition of stage %d, from %s, while the rule joins by %s and needs runs=%d from one of them (largest group: %d)",
			len(matched), stage+1, strings.Join(split, " and "), strings.Join(keys, ", "), runs, largest)
		for _, k := range sortedKeys(nullKeys) {
			r += fmt.Sprintf("; %s is missing in %d of them", k, nullKeys[k])
		}
		return r
	}
	if maxspan > 0 {
		// maxspan is the reason only if no group of runs events or more
		// fits in it; name the largest such group.
		var tooFar []ecs.Document
		for _, g := range order {
			evs := groups[g]
			if len(evs) < runs {
				continue
			}
			sort.SliceStable(evs, func(i, j int) bool { return docTime(evs[i]).Before(docTime(evs[j])) })
			for i := 0; i+runs-1 < len(evs); i++ {
				if docTime(evs[i+runs-1]).Sub(docTime(evs[i])) <= maxspan {
					return ""
				}
			}
			if len(evs) > len(tooFar) {
				tooFar = evs
			}
		}
		return fmt.Sprintf("%d events of one %s met every condition of stage %d, but no %d of them fall within maxspan=%s",
			len(tooFar), strings.Join(keys, "/"), stage+1, runs, maxspan)
	}
	return ""
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
