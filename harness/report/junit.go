package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/purpleharness/purpleharness/harness"
)

// JUnit XML as CI test reporters read it (the Jenkins/Surefire schema that
// GitHub's test-reporter actions and GitLab accept): one testsuite per rule,
// one testcase per scenario × rule. Failing verdicts become <failure>,
// SKIPPED and known gaps <skipped>, with the explanation as the message.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// JUnit writes junit.xml.
func JUnit(w io.Writer, r *harness.Result) error {
	top := junitSuites{Name: "purpleharness " + r.RunID, Time: seconds(r.End.Sub(r.Start).Seconds())}
	if r.ReplayedFrom != "" {
		top.Name += " (replayed from " + r.ReplayedFrom + ")"
	}
	for _, rule := range r.Rules {
		label := ruleLabel(r, rule.File, rule.Name)
		s := junitSuite{Name: label, Timestamp: r.Start.Format("2006-01-02T15:04:05")}
		for _, c := range r.Cells {
			if !sameRule(c, rule) {
				continue
			}
			tc := junitCase{Name: c.Scenario, Classname: label, Time: seconds(scenarioSeconds(r, c.Scenario))}
			msg := &junitMessage{Message: string(c.Verdict) + ": " + c.Explanation.Summary, Type: string(c.Verdict), Text: c.Explanation.Text()}
			switch {
			case c.Verdict.Failed():
				tc.Failure = msg
				s.Failures++
			case c.Verdict != harness.Pass:
				tc.Skipped = msg
				s.Skipped++
			default:
				tc.SystemOut = c.Explanation.Text()
			}
			s.Cases = append(s.Cases, tc)
			s.Tests++
		}
		top.Tests += s.Tests
		top.Failures += s.Failures
		top.Skipped += s.Skipped
		top.Suites = append(top.Suites, s)
	}
	if r.Incomplete != "" {
		// A run that stopped early has no or partial cells: one failing
		// testcase keeps CI from reading it as green.
		top.Suites = append(top.Suites, junitSuite{Name: "purpleharness run", Tests: 1, Failures: 1, Timestamp: r.Start.Format("2006-01-02T15:04:05"),
			Cases: []junitCase{{Name: "complete", Classname: "run", Time: seconds(0),
				Failure: &junitMessage{Message: "run stopped early: " + r.Incomplete, Type: "INCOMPLETE"}}}})
		top.Tests++
		top.Failures++
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(top); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }

func scenarioSeconds(r *harness.Result, name string) float64 {
	for _, s := range r.Scenarios {
		if s.Name == name {
			return s.Exec.End.Sub(s.Exec.Start).Seconds()
		}
	}
	return 0
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	if i := strings.LastIndexByte(p, '.'); i > 0 {
		p = p[:i]
	}
	return p
}
