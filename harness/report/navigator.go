package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/purpleharness/purpleharness/harness"
)

// Navigator writes an ATT&CK Navigator layer (layer format 4.5): each
// technique the suite exercised, scored 100 when every attack scenario for
// it was detected by at least one rule as expected, 0 when none was, in
// between otherwise, with the per-scenario verdicts as the comment.
// Scenarios skipped on this machine count neither way, and so do scenarios
// no rule detected where some cell is UNVERIFIABLE (the telemetry, not the
// rules, left them undecided).
func Navigator(w io.Writer, r *harness.Result) error {
	type tech struct {
		total, detected int
		notes           []string
	}
	techs := map[string]*tech{}
	for _, s := range r.Scenarios {
		if s.Technique == "" || !hasTag(s, "attack") {
			continue
		}
		t := techs[s.Technique]
		if t == nil {
			t = &tech{}
			techs[s.Technique] = t
		}
		if s.Exec.Status == harness.StatusSkipped {
			// Not run here (e.g. no pwsh): neither detected nor missed.
			t.notes = append(t.notes, fmt.Sprintf("%s: skipped (%s)", s.Name, s.Exec.Reason))
			continue
		}
		caught, undecided := false, false
		var verdicts []string
		for _, c := range r.Cells {
			if c.Scenario != s.Name {
				continue
			}
			verdicts = append(verdicts, fmt.Sprintf("%s=%s", ruleLabel(r, c.RuleFile, c.Rule), c.Verdict))
			if c.Verdict == harness.Pass && c.Expect == "fires" {
				caught = true
			}
			if c.Verdict == harness.Unverifiable {
				undecided = true
				verdicts[len(verdicts)-1] += fmt.Sprintf(" (tests %v, not rendered)", c.Gaps)
			}
		}
		if !caught && undecided {
			t.notes = append(t.notes, fmt.Sprintf("%s: %v", s.Name, verdicts))
			continue
		}
		t.total++
		if caught {
			t.detected++
		}
		t.notes = append(t.notes, fmt.Sprintf("%s: %v", s.Name, verdicts))
	}
	ids := make([]string, 0, len(techs))
	for id := range techs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	type technique struct {
		TechniqueID string `json:"techniqueID"`
		Score       int    `json:"score"`
		Comment     string `json:"comment"`
		Enabled     bool   `json:"enabled"`
	}
	layer := map[string]any{
		"name":        "purpleharness " + r.RunID,
		"versions":    map[string]string{"attack": "16", "navigator": "5.1.0", "layer": "4.5"},
		"domain":      "enterprise-attack",
		"description": Headline(r),
		"gradient":    map[string]any{"colors": []string{"#ff6666", "#ffe766", "#8ec843"}, "minValue": 0, "maxValue": 100},
		"techniques":  []technique{},
	}
	var list []technique
	for _, id := range ids {
		t := techs[id]
		comment := ""
		for i, n := range t.notes {
			if i > 0 {
				comment += "\n"
			}
			comment += n
		}
		score := 0
		if t.total > 0 {
			score = 100 * t.detected / t.total
		}
		list = append(list, technique{TechniqueID: id, Score: score, Comment: comment, Enabled: t.total > 0})
	}
	if list != nil {
		layer["techniques"] = list
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(layer)
}

func hasTag(s *harness.ScenarioResult, tag string) bool {
	for _, t := range s.Tags {
		if string(t) == tag {
			return true
		}
	}
	return false
}
