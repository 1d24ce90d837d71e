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
	return enc.Encode(jsonReport{Result: r, Passed: !r.Failed(), Counts: counts, Summary: Headline(r)})
}
