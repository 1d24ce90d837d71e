package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/purpleharness/purpleharness/harness"
)

// schemaPath is report.json's JSON Schema, published in docs/.
const schemaPath = "../../docs/report.schema.json"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	s, err := c.Compile(schemaPath)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaPath, err)
	}
	return s
}

func validateJSON(t *testing.T, s *jsonschema.Schema, name string, data []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("%s does not validate against %s:\n%v", name, schemaPath, err)
	}
}

// TestReportMatchesSchema validates report.json written from real runs'
// results (testdata/result.json, and the golden file), an incomplete run and
// an empty one against docs/report.schema.json.
func TestReportMatchesSchema(t *testing.T) {
	s := compileSchema(t)
	dir := t.TempDir()
	if _, err := WriteAll(dir, loadResult(t)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	validateJSON(t, s, "report.json of testdata/result.json", data)
	golden, err := os.ReadFile("testdata/golden.report.json")
	if err != nil {
		t.Fatal(err)
	}
	validateJSON(t, s, "testdata/golden.report.json", golden)

	empty := &harness.Result{RunID: "x", Incomplete: "interrupted"}
	var b bytes.Buffer
	if err := JSON(&b, empty); err != nil {
		t.Fatal(err)
	}
	validateJSON(t, s, "report.json of an empty, interrupted run", b.Bytes())
	if strings.Contains(b.String(), "null") {
		t.Errorf("report.json of an empty run holds null; empty lists must be []:\n%s", b.String())
	}
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["schema_version"] != SchemaVersion {
		t.Errorf("schema_version = %v, want %q", got["schema_version"], SchemaVersion)
	}
}

// TestSchemaRejects: the schema is strict enough to catch a null list, a
// missing version and an unknown verdict.
func TestSchemaRejects(t *testing.T) {
	s := compileSchema(t)
	var b bytes.Buffer
	if err := JSON(&b, loadResult(t)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to string }{
		{"null results", `"results": [`, `"results": null, "x": [`},
		{"no schema_version", `"schema_version": "` + SchemaVersion + `",`, ``},
		{"unknown verdict", `"verdict": "PASS"`, `"verdict": "OK"`},
	} {
		bad := strings.Replace(b.String(), tc.from, tc.to, 1)
		if bad == b.String() {
			t.Fatalf("%s: %q not found in report.json", tc.name, tc.from)
		}
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if s.Validate(v) == nil {
			t.Errorf("%s: the schema accepts it", tc.name)
		}
	}
}

// TestOneRuleLabel: each report names a rule by the same label.
func TestOneRuleLabel(t *testing.T) {
	r := loadResult(t)
	outputs := map[string]func(*bytes.Buffer) error{
		"table":     func(b *bytes.Buffer) error { return Table(b, r) },
		"junit":     func(b *bytes.Buffer) error { return JUnit(b, r) },
		"json":      func(b *bytes.Buffer) error { return JSON(b, r) },
		"markdown":  func(b *bytes.Buffer) error { return Markdown(b, r) },
		"navigator": func(b *bytes.Buffer) error { return Navigator(b, r) },
	}
	for _, rule := range r.Rules {
		label := ruleLabel(r, rule.File, rule.Name)
		for name, write := range outputs {
			var b bytes.Buffer
			if err := write(&b); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), label) {
				t.Errorf("%s does not name rule %q by its label %q", name, rule.Name, label)
			}
		}
	}
}
