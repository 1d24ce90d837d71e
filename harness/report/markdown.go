package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/purpleharness/purpleharness/harness"
)

// Markdown writes summary.md, fit for $GITHUB_STEP_SUMMARY: the headline,
// the matrix, and the explanation of every cell that is not a plain PASS.
func Markdown(w io.Writer, r *harness.Result) error {
	icon := "✅"
	if r.Failed() {
		icon = "❌"
	}
	fmt.Fprintf(w, "## %s purpleharness run `%s`\n\n", icon, r.RunID)
	fmt.Fprintf(w, "%s\n\n", Headline(r))
	if r.Incomplete != "" {
		fmt.Fprintf(w, "**The run stopped early: %s.** The verdicts below are partial.\n\n", md(r.Incomplete))
	}
	if r.ReplayedFrom != "" {
		fmt.Fprintf(w, "**Replayed** from `%s`: the rules were judged on that run's recorded telemetry; nothing was executed.\n\n", md(r.ReplayedFrom))
	}
	fmt.Fprintf(w, "Engine: %s · mail servers: %s · telemetry profile: %s · host: %s · %s – %s",
		r.Engine, r.Servers, r.Profile, r.Host, r.Start.Format("2006-01-02 15:04:05Z"), r.End.Format("15:04:05Z"))
	if r.Lost > 0 {
		fmt.Fprintf(w, " · **%d telemetry events lost**", r.Lost)
	}
	fmt.Fprint(w, "\n\n| Scenario | Events |")
	for _, rule := range r.Rules {
		fmt.Fprintf(w, " %s |", md(ruleLabel(r, rule.File, rule.Name)))
	}
	fmt.Fprint(w, "\n|---|---:|")
	for range r.Rules {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	for _, s := range r.Scenarios {
		fmt.Fprintf(w, "| %s | %d |", md(s.Name), s.NetworkEvents)
		for _, rule := range r.Rules {
			fmt.Fprintf(w, " %s |", md(cellText(r, s.Name, rule)))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprint(w, "\n| Rule | Attacks detected | Fires on benign |\n|---|---:|---:|\n")
	for _, rs := range RuleScores(r) {
		fmt.Fprintf(w, "| `%s` | %d / %d | %d / %d |\n", md(ruleLabel(r, rs.Rule.File, rs.Rule.Name)), rs.Detected, rs.Attacks, rs.FiredOnBenign, rs.Benign)
	}
	if len(r.Disagreements) > 0 {
		fmt.Fprint(w, "\n### Engines disagree\n\n")
		for _, d := range r.Disagreements {
			fmt.Fprintf(w, "- %s\n", md(d))
		}
	}
	if gaps := usedGaps(r); len(gaps) > 0 {
		fmt.Fprint(w, "\n### Telemetry gaps\n\n")
		fmt.Fprintf(w, "%d cells are UNVERIFIABLE: their rules test what the real source sends but this run does not render:\n\n", r.Count(harness.Unverifiable))
		for _, g := range gaps {
			fmt.Fprintf(w, "- `%s`\n", md(g))
		}
	}
	var details []*harness.Cell
	for _, c := range r.Cells {
		if c.Verdict != harness.Pass {
			details = append(details, c)
		}
	}
	if len(details) > 0 {
		fmt.Fprint(w, "\n### Explanations\n\n")
		for _, c := range details {
			fmt.Fprintf(w, "- **%s** × `%s` — **%s**: %s\n", md(c.Scenario), md(ruleLabel(r, c.RuleFile, c.Rule)), c.Verdict, md(c.Explanation.Summary))
			for _, d := range c.Explanation.Details {
				fmt.Fprintf(w, "  - %s\n", md(d))
			}
		}
	}
	_, err := fmt.Fprintf(w, "\nReports: `%s`, `%s`, `%s`, `%s`, `%s`.\n", JSONFile, JUnitFile, NavigatorFile, TelemetryFile, TranscriptsFile)
	return err
}

// md escapes the characters that would break a table cell.
func md(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
