package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/harness"
	"github.com/purpleharness/purpleharness/scenarios"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testdata/result.json is the report.json of real runs (the shipped suite
// and two scenarios of the verdict suite), trimmed; each format's output
// is compared with its golden file.
func loadResult(t *testing.T) *harness.Result {
	t.Helper()
	data, err := os.ReadFile("testdata/result.json")
	if err != nil {
		t.Fatal(err)
	}
	var r harness.Result
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("testdata/result.json: %v", err)
	}
	return &r
}

func TestGolden(t *testing.T) {
	r := loadResult(t)
	formats := []struct {
		golden string
		write  func(io.Writer, *harness.Result) error
	}{
		{"golden.table.txt", Table},
		{"golden.junit.xml", JUnit},
		{"golden.report.json", JSON},
		{"golden.summary.md", Markdown},
		{"golden.navigator.json", Navigator},
	}
	for _, f := range formats {
		t.Run(f.golden, func(t *testing.T) {
			var b bytes.Buffer
			if err := f.write(&b, r); err != nil {
				t.Fatalf("write: %v", err)
			}
			path := filepath.Join("testdata", f.golden)
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs from the golden file (go test ./harness/report -update to accept):\n%s", f.golden, b.String())
			}
		})
	}
}

// TestJUnitShape checks what CI reporters rely on: one testcase per
// scenario × rule, failures counted, the explanation as the message.
func TestJUnitShape(t *testing.T) {
	r := loadResult(t)
	var b bytes.Buffer
	if err := JUnit(&b, r); err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("junit.xml does not parse: %v", err)
	}
	failed := 0
	for _, c := range r.Cells {
		if c.Verdict.Failed() {
			failed++
		}
	}
	if got.Tests != len(r.Cells) || got.Failures != failed {
		t.Errorf("testsuites tests=%d failures=%d, want %d and %d", got.Tests, got.Failures, len(r.Cells), failed)
	}
	for _, s := range got.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil && c.Failure.Message == "" {
				t.Errorf("%s/%s: failure without message", s.Name, c.Name)
			}
		}
	}
}

func TestWriteAll(t *testing.T) {
	r := loadResult(t)
	dir := filepath.Join(t.TempDir(), "out")
	paths, err := WriteAll(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 8 {
		t.Errorf("WriteAll wrote %d files, want 8: %v", len(paths), paths)
	}
	var layer struct {
		Domain     string
		Techniques []struct {
			TechniqueID string
			Score       int
			Enabled     bool
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, NavigatorFile))
	// T1059.004's only scenario is UNVERIFIABLE: listed, but neither
	// detected nor missed (disabled, no score counted).
	if err := json.Unmarshal(data, &layer); err != nil || layer.Domain != "enterprise-attack" || len(layer.Techniques) != 2 ||
		layer.Techniques[0].TechniqueID != "T1059.004" || layer.Techniques[0].Enabled ||
		layer.Techniques[1].TechniqueID != "T1071.003" || !layer.Techniques[1].Enabled {
		t.Errorf("navigator layer = %+v, %v", layer, err)
	}
}

// TestRulesOfOneFile: a Kibana export holds several rules in one file;
// each rule's column, record and test suite show its own cells.
func TestRulesOfOneFile(t *testing.T) {
	r := &harness.Result{
		Rules: []harness.RuleInfo{{Name: "A", File: "rules/export.ndjson"}, {Name: "B", File: "rules/export.ndjson"}},
		Scenarios: []*harness.ScenarioResult{
			{Name: "attack", Tags: []scenarios.Tag{scenarios.TagAttack}, Exec: harness.Execution{Status: harness.StatusOK}},
		},
		Cells: []*harness.Cell{
			{Scenario: "attack", Rule: "A", RuleFile: "rules/export.ndjson", Expect: scenarios.Fires, Verdict: harness.Pass, Sequences: []harness.Detection{{}}},
			{Scenario: "attack", Rule: "B", RuleFile: "rules/export.ndjson", Expect: scenarios.Fires, Verdict: harness.Missed},
		},
	}
	var table bytes.Buffer
	if err := Table(&table, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"SCENARIO  EXEC  EVENTS  export: A     export: B\nattack    ok    0       PASS (fires)  MISSED (fires)\n",
		"  attack × export: B: MISSED\n",
		"  export: A: detects 1 of 1 attack scenarios run",
		"  export: B: detects 0 of 1 attack scenarios run",
	} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("Table lacks %q:\n%s", want, table.String())
		}
	}
	var junit bytes.Buffer
	if err := JUnit(&junit, r); err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(junit.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Tests != 2 || got.Failures != 1 {
		t.Errorf("junit tests=%d failures=%d, want 2 and 1", got.Tests, got.Failures)
	}
}

// TestIncompleteFails: a run that stopped early (no cells, or some) is a
// failure in every report a CI job reads, not an empty pass.
func TestIncompleteFails(t *testing.T) {
	r := &harness.Result{RunID: "x", Incomplete: "interrupted",
		Scenarios: []*harness.ScenarioResult{{Name: "a", Exec: harness.Execution{Status: harness.StatusOK}}}}
	var js bytes.Buffer
	if err := JSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Passed     bool   `json:"passed"`
		Incomplete string `json:"incomplete"`
	}
	if err := json.Unmarshal(js.Bytes(), &rep); err != nil || rep.Passed || rep.Incomplete != "interrupted" {
		t.Errorf("report.json passed=%v incomplete=%q (%v), want false and \"interrupted\"", rep.Passed, rep.Incomplete, err)
	}
	var ju bytes.Buffer
	if err := JUnit(&ju, r); err != nil {
		t.Fatal(err)
	}
	var suites junitSuites
	if err := xml.Unmarshal(ju.Bytes(), &suites); err != nil || suites.Failures != 1 {
		t.Errorf("junit failures = %d (%v), want 1:\n%s", suites.Failures, err, ju.String())
	}
	var md bytes.Buffer
	if err := Markdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if want := "## ❌ purpleharness run `x`\n\nFAILED: 1 scenarios × 0 rules: \n\n**The run stopped early: interrupted.**"; !strings.HasPrefix(md.String(), want) {
		t.Errorf("summary.md starts:\n%s\nwant:\n%s", md.String(), want)
	}
}
