package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQueryMappingIsATemplate: --mapping takes a template, not a finished
// index: the events' unmapped fields are mapped as Elasticsearch maps them
// when it indexes them (strings text + keyword), "dynamic": "strict"
// refuses them, and a file of no known mapping shape is an error.
func TestQueryMappingIsATemplate(t *testing.T) {
	bin := buildValidate(t)
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	events := write("events.ndjson", `{"@timestamp": 1000, "event": {"category": "process"}, "user": {"name": "alice"}}
{"@timestamp": 2000, "event": {"category": "process"}, "user": {"name": "bob"}}
`)
	template := write("template.json", `{"index_templates": [{"name": "logs", "index_template": {"index_patterns": ["logs-*"],
  "template": {"mappings": {"properties": {"@timestamp": {"type": "date"}, "event": {"properties": {"category": {"type": "keyword"}}}}}}}}]}`)
	strict := write("strict.json", `{"mappings": {"dynamic": "strict", "properties": {"@timestamp": {"type": "date"}, "event": {"properties": {"category": {"type": "keyword"}}}}}}`)
	notMapping := write("event.json", `{"user": {"name": "alice"}}`)

	out, errOut, code := runValidateStdin(t, bin, "", "query", "--events", events, "--mapping", template, "--compact",
		`process where user.name == "alice" and user.name.keyword : "ALICE"`)
	if code != 0 || !strings.Contains(out, `"total":{"value":1,"relation":"eq"}`) {
		t.Errorf("query through dynamically mapped text + keyword: exit %d, stdout %s, stderr %s", code, out, errOut)
	}
	// the same from stdin
	data, _ := os.ReadFile(events)
	out, errOut, code = runValidateStdin(t, bin, string(data), "query", "--events", "-", "--mapping", template, "--compact",
		`sequence by user.name [process where true] [process where true]`)
	if code != 0 || !strings.Contains(out, `"total":{"value":0,"relation":"eq"}`) {
		t.Errorf("sequence keyed on a dynamic text field from stdin: exit %d, stdout %s, stderr %s", code, out, errOut)
	}
	_, errOut, code = runValidateStdin(t, bin, "", "query", "--events", events, "--mapping", strict, `process where true`)
	if want := "events.ndjson: event 1: mapping set to strict, dynamic introduction of [user] within [_doc] is not allowed"; code != 2 || !strings.Contains(errOut, want) {
		t.Errorf("strict mapping: exit %d, stderr %s; want 2 and %q", code, errOut, want)
	}
	_, errOut, code = runValidateStdin(t, bin, "", "query", "--events", events, "--mapping", notMapping, `process where true`)
	if want := "parse mapping: not a mapping: want"; code != 2 || !strings.Contains(errOut, want) {
		t.Errorf("unrecognised mapping shape: exit %d, stderr %s; want 2 and %q", code, errOut, want)
	}
}
