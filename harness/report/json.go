package report

import (
	"encoding/json"
	"io"

	"github.com/purpleharness/purpleharness/harness"
)

// jsonReport is report.json: the run, its scenarios and rules, and
// results[] with scenario, rule, expect, verdict, explanation and sequences.
type jsonReport struct {
	*harness.Result
	Passed  bool           `json:"passed"`
	Counts  map[string]int `json:"counts"`
	Summary string         `json:"summary"`
	Scores  []jsonScore    `json:"rule_scores"`
}

type jsonScore struct {
	Rule          string `json:"rule"`
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
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	var scores []jsonScore
	for _, s := range RuleScores(r) {
		scores = append(scores, jsonScore{s.Rule.Name, s.Rule.File, s.Attacks, s.Detected, s.Benign, s.FiredOnBenign, s.KnownFalseAlarm})
	}
	return enc.Encode(jsonReport{Result: r, Passed: !r.Failed(), Counts: counts, Summary: Headline(r), Scores: scores})
}
