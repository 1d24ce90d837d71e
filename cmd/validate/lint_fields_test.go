package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLintWarnsOfFieldsDefendLacks: a rule reading only Elastic Defend's
// event data streams that names a field their templates do not define gets
// a warning at the field, with the nearest real field; exit 0 (1 with
// --strict). A rule that also reads other indices is not judged, nor is one
// that declares another integration (detection-rules' ProblemChild rules:
// integration = ["problemchild", "endpoint"], whose pipeline adds
// problemchild.* to Defend's process events); declaring "endpoint" alone
// changes nothing.
func TestLintWarnsOfFieldsDefendLacks(t *testing.T) {
	dir := t.TempDir()
	rule := func(index string) string {
		return "[metadata]\ncreation_date = \"2026/12/04\"\nintegration = [\"endpoint\"]\nmaturity = \"production\"\n\n" +
			"[rule]\nauthor = [\"x\"]\ndescription = \"d\"\nname = \"n\"\nrisk_score = 1\nrule_id = \"5b0c7a4e-2f6d-4c1e-9a8b-3d4e5f6a7b8c\"\nseverity = \"low\"\ntype = \"eql\"\nlanguage = \"eql\"\n" +
			"index = [" + index + "]\nquery = '''\nnetwork where destination.prot == 25\n'''\n"
	}
	defend := filepath.Join(dir, "defend.toml")
	mixed := filepath.Join(dir, "mixed.toml")
	if err := os.WriteFile(defend, []byte(rule(`"logs-endpoint.events.network-*"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mixed, []byte(rule(`"logs-endpoint.events.*", "auditbeat-*"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	problemchild := filepath.Join(dir, "problemchild.toml")
	pc := strings.Replace(rule(`"logs-endpoint.events.process-*"`), `integration = ["endpoint"]`, `integration = ["problemchild", "endpoint"]`, 1)
	if err := os.WriteFile(problemchild, []byte(strings.Replace(pc, "destination.prot == 25", "problemchild.prediction == 1", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	export := filepath.Join(dir, "export.ndjson")
	line := `{"rule_id":"6c1d8b5f-3a7e-4d2f-8b9c-4e5f6a7b8c9d","name":"n","description":"d","type":"eql","language":"eql","risk_score":1,"severity":"low",` +
		`"index":["logs-endpoint.events.process-*"],"related_integrations":[{"package":"problemchild","version":"^2.0.0"},{"package":"endpoint","version":"^8.2.0"}],` +
		`"query":"process where blocklist_label == 1"}` + "\n"
	if err := os.WriteFile(export, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"lint", "--quiet", defend, mixed, problemchild, export}, &out, &errb)
	want := defend + ":17:15: warning: field destination.prot is not defined by Elastic Defend's event index templates (logs-endpoint.events.*), so no event can carry it (did you mean destination.port?)\n"
	if code != exitOK || out.String() != want {
		t.Errorf("validate lint: exit %d, stdout:\n%s\nwant exit 0 and\n%s(stderr %s)", code, out.String(), want, errb.String())
	}
	out.Reset()
	if code := run(t.Context(), []string{"lint", "--quiet", "--strict", defend}, &out, &errb); code != exitFailed || !strings.Contains(out.String(), "destination.prot") {
		t.Errorf("validate lint --strict: exit %d, stdout %s; want exit 1 and the warning", code, out.String())
	}
}

// TestLintMappingCategoryField: with --mapping, the field a rule takes its
// categories from (event_category_override, else event.category) must be
// in the mapping, as Elasticsearch's analyzer requires
// (VerifierTests.testMissingEventCategory): an error at the query's start.
func TestLintMappingCategoryField(t *testing.T) {
	dir := t.TempDir()
	rule := "[metadata]\ncreation_date = \"2026/12/07\"\nmaturity = \"production\"\n\n" +
		"[rule]\nauthor = [\"x\"]\ndescription = \"d\"\nname = \"n\"\nrisk_score = 1\nrule_id = \"7d2e9c6a-4b8f-4e1d-9c3a-5f6a7b8c9d0e\"\nseverity = \"low\"\ntype = \"eql\"\nlanguage = \"eql\"\n" +
		"index = [\"logs-aws.cloudtrail-*\"]\nevent_category_override = \"event.type\"\nquery = '''\ninfo where event.action == \"x\"\n'''\n"
	path := filepath.Join(dir, "aws.toml")
	if err := os.WriteFile(path, []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	without := filepath.Join(dir, "without.json")
	with := filepath.Join(dir, "with.json")
	os.WriteFile(without, []byte(`{"properties": {"@timestamp": {"type": "date"}, "event": {"properties": {"action": {"type": "keyword"}, "category": {"type": "keyword"}}}}}`), 0o644)
	os.WriteFile(with, []byte(`{"properties": {"@timestamp": {"type": "date"}, "event": {"properties": {"action": {"type": "keyword"}, "type": {"type": "keyword"}}}}}`), 0o644)
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"lint", "--quiet", "--mapping", without, path}, &out, &errb); code != exitFailed || out.String() != path+":17:1: Unknown column [event.type]\n" {
		t.Errorf("without event.type: exit %d, stdout %q; want exit 1 and the error at the query's start", code, out.String())
	}
	out.Reset()
	if code := run(t.Context(), []string{"lint", "--quiet", "--mapping", with, path}, &out, &errb); code != exitOK || out.String() != "" {
		t.Errorf("with event.type: exit %d, stdout %q; want a valid rule", code, out.String())
	}
}
