package harness

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/rules"
	"github.com/purpleharness/purpleharness/scenarios"
)

// Change is how one scenario's outcome moved between two versions of a
// rule.
type Change string

const (
	// DetectionGained: an attack scenario the old version missed fires the
	// new one.
	DetectionGained Change = "detection gained"
	// DetectionLost: an attack scenario the old version caught no longer
	// fires the new one. A diff with one fails.
	DetectionLost Change = "detection lost"
	// FalsePositiveAdded: a benign scenario now fires the rule.
	FalsePositiveAdded Change = "false positive added"
	// FalsePositiveRemoved: a benign scenario no longer fires it.
	FalsePositiveRemoved Change = "false positive removed"
	// VerdictChanged: the rule fires (or not) as before, but the verdict
	// moved (an expectation written for one version, a sequence count).
	VerdictChanged Change = "verdict changed"
)

// ScenarioChange is one scenario whose outcome differs between the two
// versions.
type ScenarioChange struct {
	Scenario string          `json:"scenario"`
	Tags     []scenarios.Tag `json:"tags,omitempty"`
	Change   Change          `json:"change"`
	Old      Verdict         `json:"old_verdict"`
	New      Verdict         `json:"new_verdict"`
	// OldFired and NewFired count the detections of each version.
	OldFired int `json:"old_detections"`
	NewFired int `json:"new_detections"`
	// Examples are the first detections of the version that fired (the
	// new one when both did).
	Examples []Detection `json:"examples,omitempty"`
}

// CorpusDiff compares the two versions on recorded benign telemetry.
type CorpusDiff struct {
	Events   int `json:"events"`
	Old      int `json:"old_detections"`
	New      int `json:"new_detections"`
	Added    int `json:"added"`   // detections only the new version makes
	Removed  int `json:"removed"` // detections only the old version made
	Examples struct {
		Added   []Detection `json:"added,omitempty"`
		Removed []Detection `json:"removed,omitempty"`
	} `json:"examples"`
}

// RuleDiff is one rule's two versions compared. Old is nil for a rule only
// the new set has, New for one only the old set had.
type RuleDiff struct {
	Old     *RuleInfo        `json:"old,omitempty"`
	New     *RuleInfo        `json:"new,omitempty"`
	Changes []ScenarioChange `json:"changes"`
	Corpus  *CorpusDiff      `json:"corpus,omitempty"`
}

// Count returns how many changes of kind c the diff holds.
func (d RuleDiff) Count(c Change) int {
	n := 0
	for _, ch := range d.Changes {
		if ch.Change == c {
			n++
		}
	}
	return n
}

// maxExamples bounds the detections a diff shows per change.
const maxExamples = 3

// PairRules pairs each old rule with its new version: by rule_id, then by
// file name; when each side holds exactly one rule, those two are a pair
// whatever their names (a tuned copy of a rule under another file). It
// returns the pairs as indexes, and the unpaired rules of each side.
func PairRules(old, new []rules.Rule) (pairs [][2]int, removed, added []int) {
	if len(old) == 1 && len(new) == 1 {
		return [][2]int{{0, 0}}, nil, nil
	}
	usedNew := map[int]bool{}
	for i, o := range old {
		j := slices.IndexFunc(new, func(n rules.Rule) bool { return o.ID != "" && n.ID == o.ID })
		if j < 0 || usedNew[j] {
			j = slices.IndexFunc(new, func(n rules.Rule) bool { return filepath.Base(n.File) == filepath.Base(o.File) })
		}
		if j < 0 || usedNew[j] {
			removed = append(removed, i)
			continue
		}
		usedNew[j] = true
		pairs = append(pairs, [2]int{i, j})
	}
	for j := range new {
		if !usedNew[j] {
			added = append(added, j)
		}
	}
	return pairs, removed, added
}

// DiffResults compares the cells of old's rule oi with new's rule ni over
// the scenarios both results hold (replays of one recording). oi or ni may
// be -1 for a rule one side lacks: it fires nowhere there.
func DiffResults(old, new *Result, oi, ni int) RuleDiff {
	var d RuleDiff
	var oldRule, newRule RuleInfo
	if oi >= 0 {
		oldRule = old.Rules[oi]
		d.Old = &oldRule
	}
	if ni >= 0 {
		newRule = new.Rules[ni]
		d.New = &newRule
	}
	cellOf := func(r *Result, rule *RuleInfo, scenario string) *Cell {
		if rule == nil {
			return nil
		}
		for _, c := range r.Cells {
			if c.Scenario == scenario && c.Rule == rule.Name && c.RuleFile == rule.File {
				return c
			}
		}
		return nil
	}
	for _, sc := range new.Scenarios {
		if sc.Exec.Status != StatusOK {
			continue
		}
		oc, nc := cellOf(old, d.Old, sc.Name), cellOf(new, d.New, sc.Name)
		ch := ScenarioChange{Scenario: sc.Name, Tags: sc.Tags}
		var oldSeq, newSeq []Detection
		if oc != nil {
			ch.Old, oldSeq = oc.Verdict, oc.Sequences
		}
		if nc != nil {
			ch.New, newSeq = nc.Verdict, nc.Sequences
		}
		ch.OldFired, ch.NewFired = len(oldSeq), len(newSeq)
		oldFired, newFired := ch.OldFired > 0, ch.NewFired > 0
		attack, benign := slices.Contains(sc.Tags, scenarios.TagAttack), slices.Contains(sc.Tags, scenarios.TagBenign)
		switch {
		case attack && !oldFired && newFired:
			ch.Change = DetectionGained
		case attack && oldFired && !newFired:
			ch.Change = DetectionLost
		case benign && !oldFired && newFired:
			ch.Change = FalsePositiveAdded
		case benign && oldFired && !newFired:
			ch.Change = FalsePositiveRemoved
		case ch.Old != ch.New && oc != nil && nc != nil:
			ch.Change = VerdictChanged
		default:
			continue
		}
		ex := newSeq
		if !newFired {
			ex = oldSeq
		}
		ch.Examples = ex[:min(len(ex), maxExamples)]
		d.Changes = append(d.Changes, ch)
	}
	return d
}

// DiffCorpus runs both versions of a rule over recorded telemetry (benign
// production events) with engine and compares their detections. A nil
// rule makes no detection.
func DiffCorpus(ctx context.Context, engine Engine, old, new *rules.Rule, docs []ecs.Document) (*CorpusDiff, error) {
	run := func(r *rules.Rule) (map[string]Detection, []string, error) {
		if r == nil || r.Skipped() != "" {
			return nil, nil, nil
		}
		req := r.Request()
		req.Size = MaxResults
		resp, err := engine.Search(ctx, r, req, docs)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", r.File, err)
		}
		byKey := map[string]Detection{}
		var order []string
		for _, a := range detections(resp) {
			k := detectionKey(a.Detection)
			if _, dup := byKey[k]; !dup {
				order = append(order, k)
			}
			byKey[k] = a.Detection
		}
		return byKey, order, nil
	}
	o, oOrder, err := run(old)
	if err != nil {
		return nil, err
	}
	n, nOrder, err := run(new)
	if err != nil {
		return nil, err
	}
	cd := &CorpusDiff{Events: len(docs), Old: len(o), New: len(n)}
	for _, k := range nOrder {
		if _, ok := o[k]; !ok {
			cd.Added++
			if len(cd.Examples.Added) < maxExamples {
				cd.Examples.Added = append(cd.Examples.Added, n[k])
			}
		}
	}
	for _, k := range oOrder {
		if _, ok := n[k]; !ok {
			cd.Removed++
			if len(cd.Examples.Removed) < maxExamples {
				cd.Examples.Removed = append(cd.Examples.Removed, o[k])
			}
		}
	}
	return cd, nil
}

// detectionKey identifies a detection by its events, so the same events
// found by both versions count once.
func detectionKey(d Detection) string {
	var b strings.Builder
	for _, e := range d.Events {
		fmt.Fprintf(&b, "%s|%d|%s|%s|%s;", e.Time.Format("2006-01-02T15:04:05.000000000"), e.PID, e.EntityID, e.Action, e.Destination)
	}
	return b.String()
}
