package report

import (
	"encoding/json"
	"io"

	"github.com/purpleharness/purpleharness/harness"
)

// SchemaVersion is report.json's schema_version. docs/report.schema.json
// describes it; a change that removes or retypes a field raises the major
// number, an added field the minor.
const SchemaVersion = "1.2"

// jsonReport is report.json: the run, its scenarios and rules, and
// results[] with scenario, rule, expect, verdict, explanation and sequences.
// Its lists are [] when empty, never null. Fields declared here take
// precedence over the embedded Result's of the same JSON name.
type jsonReport struct {
	SchemaVersion string `json:"schema_version"`
	*harness.Result
	Scenarios []*harness.ScenarioResult `json:"scenarios"`
	Rules     []jsonRule                `json:"rules"`
	Cells     []jsonCell                `json:"results"`
	Passed    bool                      `json:"passed"`
	Counts    map[string]int            `json:"counts"`
	Summary   string                    `json:"summary"`
	Scores    []jsonScore               `json:"rule_scores"`
}

// jsonRule is a rule with its label: the one name every report gives it
// (console table, JUnit, summary.md, the Navigator layer, report.json).
type jsonRule struct {
	harness.RuleInfo
	Label string `json:"label"`
}

type jsonCell struct {
	*harness.Cell
	Explanation harness.Explanation `json:"explanation"`
	RuleLabel   string              `json:"rule_label"`
	Sequences   []harness.Detection `json:"sequences"`
}

type jsonScore struct {
	Rule          string `json:"rule"` // the label
	Name          string `json:"rule_name"`
	File          string `json:"rule_file"`
	Attacks       int    `json:"attack_scenarios"`
	Detected      int    `json:"attacks_detected"`
	Benign        int    `json:"benign_scenarios"`
	FiredOnBenign int    `json:"fired_on_benign"`
	KnownFP       int    `json:"known_false_positives"`
}

// JSON writes report.json.
func JSON(w io.Writer, r *harness.Result) error {
	counts := map[string]int{}
	for _, v := range harness.Verdicts {
		if n := r.Count(v); n > 0 {
			counts[string(v)] = n
		}
	}
	rep := jsonReport{
		SchemaVersion: SchemaVersion, Result: r,
		Scenarios: r.Scenarios, Rules: []jsonRule{}, Cells: []jsonCell{}, Scores: []jsonScore{},
		Passed: !r.Failed(), Counts: counts, Summary: Headline(r),
	}
	if rep.Scenarios == nil {
		rep.Scenarios = []*harness.ScenarioResult{}
	}
	for _, ri := range r.Rules {
		rep.Rules = append(rep.Rules, jsonRule{ri, ruleLabel(r, ri.File, ri.Name)})
	}
	for _, c := range r.Cells {
		seqs := make([]harness.Detection, len(c.Sequences))
		for i, d := range c.Sequences {
			if d.Events == nil {
				d.Events = []harness.EventRef{}
			}
			seqs[i] = d
		}
		ex := c.Explanation
		if ex.Stages != nil {
			ex.Stages = append([]harness.StageReport(nil), ex.Stages...)
			for i := range ex.Stages {
				if ex.Stages[i].Conditions == nil {
					ex.Stages[i].Conditions = []harness.ConditionReport{}
				}
			}
		}
		rep.Cells = append(rep.Cells, jsonCell{c, ex, ruleLabel(r, c.RuleFile, c.Rule), seqs})
	}
	for _, s := range RuleScores(r) {
		rep.Scores = append(rep.Scores, jsonScore{ruleLabel(r, s.Rule.File, s.Rule.Name), s.Rule.Name, s.Rule.File, s.Attacks, s.Detected, s.Benign, s.FiredOnBenign, s.KnownFalseAlarm})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
