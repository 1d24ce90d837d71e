package report

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/purpleharness/purpleharness/harness"
	"github.com/purpleharness/purpleharness/scenarios"
)

// diffOrder is the order changes are reported in: what fails a diff first.
var diffOrder = []harness.Change{harness.DetectionLost, harness.DetectionGained,
	harness.FalsePositiveAdded, harness.FalsePositiveRemoved, harness.VerdictChanged}

// DiffLost counts the attack detections the new rules lose: a diff with
// any fails.
func DiffLost(diffs []harness.RuleDiff) int {
	n := 0
	for _, d := range diffs {
		n += d.Count(harness.DetectionLost)
	}
	return n
}

func diffLabel(d harness.RuleDiff) string {
	name := func(r *harness.RuleInfo) string {
		if r == nil {
			return "(none)"
		}
		return strings.TrimSuffix(filepath.Base(r.File), filepath.Ext(r.File))
	}
	return name(d.Old) + " → " + name(d.New)
}

func knownFP(ch harness.ScenarioChange) bool {
	return slices.Contains(ch.Tags, scenarios.TagKnownFalsePositive)
}

// DiffHeadline is the one-line outcome of a diff.
func DiffHeadline(diffs []harness.RuleDiff) string {
	counts := map[harness.Change]int{}
	known := 0
	for _, d := range diffs {
		for _, ch := range d.Changes {
			counts[ch.Change]++
			if ch.Change == harness.FalsePositiveAdded && knownFP(ch) {
				known++
			}
		}
	}
	outcome := "OK"
	if counts[harness.DetectionLost] > 0 {
		outcome = "DETECTION LOST"
	}
	s := fmt.Sprintf("%s: %d rule pairs: %d attack detections gained, %d lost; %d false positives added (%d tagged known-false-positive), %d removed; %d other verdict changes",
		outcome, len(diffs), counts[harness.DetectionGained], counts[harness.DetectionLost],
		counts[harness.FalsePositiveAdded], known, counts[harness.FalsePositiveRemoved], counts[harness.VerdictChanged])
	added, removed, corpus := 0, 0, false
	for _, d := range diffs {
		if d.Corpus != nil {
			corpus = true
			added += d.Corpus.Added
			removed += d.Corpus.Removed
		}
	}
	if corpus {
		s += fmt.Sprintf("; corpus: %d detections added, %d removed", added, removed)
	}
	return s
}

// DiffText writes a diff for the console: per rule pair, each kind of
// change with its scenarios and an example detection, then the corpus
// comparison, then the headline.
func DiffText(w io.Writer, diffs []harness.RuleDiff) error {
	for _, d := range diffs {
		fmt.Fprintf(w, "%s\n", diffLabel(d))
		if len(d.Changes) == 0 {
			fmt.Fprintln(w, "  no scenario changed")
		}
		for _, kind := range diffOrder {
			for _, ch := range d.Changes {
				if ch.Change != kind {
					continue
				}
				note := ""
				if knownFP(ch) {
					note = " [known-false-positive]"
				}
				fmt.Fprintf(w, "  %s: %s%s: %s → %s, %d → %d detections\n", ch.Change, ch.Scenario, note, orNone(ch.Old), orNone(ch.New), ch.OldFired, ch.NewFired)
				for _, ex := range ch.Examples {
					fmt.Fprintf(w, "      e.g. %s\n", ex)
				}
			}
		}
		if c := d.Corpus; c != nil {
			fmt.Fprintf(w, "  corpus (%d events): %d → %d detections, %d added, %d removed\n", c.Events, c.Old, c.New, c.Added, c.Removed)
			for _, ex := range c.Examples.Added {
				fmt.Fprintf(w, "      added: %s\n", ex)
			}
			for _, ex := range c.Examples.Removed {
				fmt.Fprintf(w, "      removed: %s\n", ex)
			}
		}
	}
	_, err := fmt.Fprintln(w, DiffHeadline(diffs))
	return err
}

// DiffMarkdown writes a diff as a pull-request comment.
func DiffMarkdown(w io.Writer, diffs []harness.RuleDiff) error {
	icon := "✅"
	if DiffLost(diffs) > 0 {
		icon = "❌"
	}
	fmt.Fprintf(w, "## %s purpleharness rule diff\n\n%s\n", icon, DiffHeadline(diffs))
	for _, d := range diffs {
		fmt.Fprintf(w, "\n### %s\n\n", md(diffLabel(d)))
		if len(d.Changes) == 0 {
			fmt.Fprintln(w, "No scenario changed.")
		} else {
			fmt.Fprintln(w, "| Change | Scenario | Verdict | Detections | Example |")
			fmt.Fprintln(w, "|---|---|---|---|---|")
			for _, kind := range diffOrder {
				for _, ch := range d.Changes {
					if ch.Change != kind {
						continue
					}
					ex := ""
					if len(ch.Examples) > 0 {
						ex = ch.Examples[0].String()
					}
					scenario := ch.Scenario
					if knownFP(ch) {
						scenario += " (known-false-positive)"
					}
					fmt.Fprintf(w, "| %s | %s | %s → %s | %d → %d | %s |\n", ch.Change, md(scenario), orNone(ch.Old), orNone(ch.New), ch.OldFired, ch.NewFired, md(ex))
				}
			}
		}
		if c := d.Corpus; c != nil {
			fmt.Fprintf(w, "\nOn the corpus (%d events): %d → %d detections, **%d added**, %d removed.\n", c.Events, c.Old, c.New, c.Added, c.Removed)
			for _, ex := range c.Examples.Added {
				fmt.Fprintf(w, "- added: %s\n", md(ex.String()))
			}
			for _, ex := range c.Examples.Removed {
				fmt.Fprintf(w, "- removed: %s\n", md(ex.String()))
			}
		}
	}
	return nil
}

func orNone(v harness.Verdict) string {
	if v == "" {
		return "-"
	}
	return string(v)
}
