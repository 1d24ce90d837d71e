package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/purpleharness/purpleharness/harness"
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
	if len(paths) != 7 {
		t.Errorf("WriteAll wrote %d files, want 7: %v", len(paths), paths)
	}
	var layer struct {
		Domain     string
		Techniques []struct {
			TechniqueID string
			Score       int
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, NavigatorFile))
	if err := json.Unmarshal(data, &layer); err != nil || layer.Domain != "enterprise-attack" || len(layer.Techniques) != 1 || layer.Techniques[0].TechniqueID != "T1071.003" {
		t.Errorf("navigator layer = %+v, %v", layer, err)
	}
}
