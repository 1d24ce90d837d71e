package report

import (
	"fmt"

	"github.com/purpleharness/purpleharness/harness"
)

// RuleScore is one rule's record over the run: how many attack scenarios
// it detected and how many benign ones it fired on, whatever the
// expectations say. It is what a detection engineer compares rules by.
type RuleScore struct {
	Rule            harness.RuleInfo
	Attacks         int // attack scenarios that ran
	Detected        int // ... on which the rule fired
	Benign          int // benign scenarios that ran
	FiredOnBenign   int // ... on which the rule fired
	KnownFalseAlarm int // ... of those tagged known-false-positive
	// Unverifiable counts the cells left out of the figures above: the
	// rule did not fire, but it tests something this run's telemetry
	// does not render, so its silence says nothing.
	Unverifiable int
}

// RuleScores computes each rule's record from the cells.
func RuleScores(r *harness.Result) []RuleScore {
	var out []RuleScore
	for _, rule := range r.Rules {
		s := RuleScore{Rule: rule}
		for _, c := range r.Cells {
			if !sameRule(c, rule) {
				continue
			}
			sc := scenarioOf(r, c.Scenario)
			if sc == nil || sc.Exec.Status != harness.StatusOK || rule.Skipped != "" {
				continue
			}
			fired := len(c.Sequences) > 0
			if c.Verdict == harness.Unverifiable {
				s.Unverifiable++
				continue
			}
			switch {
			case hasTag(sc, "attack"):
				s.Attacks++
				if fired {
					s.Detected++
				}
			case hasTag(sc, "benign"):
				s.Benign++
				if fired {
					s.FiredOnBenign++
					if hasTag(sc, "known-false-positive") {
						s.KnownFalseAlarm++
					}
				}
			}
		}
		out = append(out, s)
	}
	return out
}

func (s RuleScore) String() string {
	out := fmt.Sprintf("detects %d of %d attack scenarios run; fires on %d of %d benign ones (%d tagged known-false-positive)",
		s.Detected, s.Attacks, s.FiredOnBenign, s.Benign, s.KnownFalseAlarm)
	if s.Unverifiable > 0 {
		out += fmt.Sprintf("; %d unverifiable on this telemetry", s.Unverifiable)
	}
	return out
}

// sameRule reports whether c is a cell of rule. Rules are told apart by
// file and name: a Kibana export (.ndjson) holds several rules in one file.
func sameRule(c *harness.Cell, rule harness.RuleInfo) bool {
	return c.RuleFile == rule.File && c.Rule == rule.Name
}

// ruleLabel names a rule in matrices and explanation lines: its file's base
// name, followed by the rule's name when the file holds more than one rule.
func ruleLabel(r *harness.Result, file, name string) string {
	for _, other := range r.Rules {
		if other.File == file && other.Name != name {
			return baseName(file) + ": " + name
		}
	}
	return baseName(file)
}

func scenarioOf(r *harness.Result, name string) *harness.ScenarioResult {
	for _, s := range r.Scenarios {
		if s.Name == name {
			return s
		}
	}
	return nil
}
