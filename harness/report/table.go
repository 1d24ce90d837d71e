package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/purpleharness/purpleharness/harness"
)

// Headline is the one-line outcome of a run.
func Headline(r *harness.Result) string {
	var parts []string
	for _, v := range harness.Verdicts {
		if n := r.Count(v); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, v))
		}
	}
	outcome := "PASSED"
	if r.Failed() {
		outcome = "FAILED"
	}
	replayed := ""
	if r.ReplayedFrom != "" {
		replayed = " (replayed from " + r.ReplayedFrom + ")"
	}
	return fmt.Sprintf("%s%s: %d scenarios × %d rules: %s", outcome, replayed, len(r.Scenarios), len(r.Rules), strings.Join(parts, ", "))
}

// Table writes the scenario × rule matrix for the console, then the
// explanation of every cell that is not a plain PASS.
func Table(w io.Writer, r *harness.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "SCENARIO\tEXEC\tEVENTS")
	for _, rule := range r.Rules {
		fmt.Fprintf(tw, "\t%s", ruleLabel(r, rule.File, rule.Name))
	}
	fmt.Fprintln(tw)
	for _, s := range r.Scenarios {
		fmt.Fprintf(tw, "%s\t%s\t%d", s.Name, s.Exec.Status, s.NetworkEvents)
		for _, rule := range r.Rules {
			fmt.Fprintf(tw, "\t%s", cellText(r, s.Name, rule))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	first := true
	for _, c := range r.Cells {
		if c.Verdict == harness.Pass {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nWhy:")
			first = false
		}
		fmt.Fprintf(w, "  %s × %s: %s\n", c.Scenario, ruleLabel(r, c.RuleFile, c.Rule), c.Verdict)
		fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(c.Explanation.Text(), "\n", "\n    "))
	}
	fmt.Fprintln(w, "\nRules:")
	for _, rs := range RuleScores(r) {
		fmt.Fprintf(w, "  %s: %s\n", ruleLabel(r, rs.Rule.File, rs.Rule.Name), rs)
	}
	fmt.Fprintln(w)
	for _, d := range r.Disagreements {
		fmt.Fprintf(w, "ENGINES DISAGREE: %s\n", d)
	}
	if n := r.Count(harness.Unverifiable); n > 0 {
		fmt.Fprintf(w, "UNVERIFIABLE: %d cells rest on telemetry this run does not render (%s); see Why above and docs/harness.md\n", n, strings.Join(usedGaps(r), ", "))
	}
	if r.Lost > 0 {
		fmt.Fprintf(w, "WARNING: the sensor lost %d events; verdicts may rest on incomplete telemetry\n", r.Lost)
	}
	_, err := fmt.Fprintln(w, Headline(r))
	return err
}

func cellText(r *harness.Result, scenario string, rule harness.RuleInfo) string {
	for _, c := range r.Cells {
		if c.Scenario == scenario && sameRule(c, rule) {
			if c.Expect == "" {
				return string(c.Verdict)
			}
			return fmt.Sprintf("%s (%s)", c.Verdict, c.Expect)
		}
	}
	return "-"
}

// usedGaps lists, sorted and without repeats, the gaps the UNVERIFIABLE
// cells of r rest on.
func usedGaps(r *harness.Result) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range r.Cells {
		for _, g := range c.Gaps {
			if !seen[g] {
				seen[g] = true
				out = append(out, g)
			}
		}
	}
	sort.Strings(out)
	return out
}
