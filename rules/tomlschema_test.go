package rules

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestUnknownTOMLKeys: a key detection-rules' schema does not have is an
// error at the key, with the nearest allowed key; free-form tables (meta,
// transform providers) and deprecated rules are not checked.
func TestUnknownTOMLKeys(t *testing.T) {
	const head = "[metadata]\ncreation_date = \"2026/11/26\"\nmaturity = \"production\"\nupdated_date = \"2026/11/26\"\n\n"
	const rule = "[rule]\nauthor = [\"x\"]\ndescription = \"d\"\nname = \"n\"\nrisk_score = 1\nrule_id = \"5b0c7a4e-2f6d-4c1e-9a8b-3d4e5f6a7b8c\"\nseverity = \"low\"\ntype = \"eql\"\nlanguage = \"eql\"\nquery = 'process where true'\n"
	for _, tc := range []struct {
		name, src, want string
	}{
		{"rule key typo", head + rule + "  severty_mapping = []\n", "r.toml:16:3: unknown key \"severty_mapping\" in [rule] (did you mean \"severity_mapping\"?)"},
		{"metadata key", head[:11] + "maturty = \"x\"\n" + head[11:] + rule, "r.toml:2:1: unknown key \"maturty\" in [metadata] (did you mean \"maturity\"?)"},
		{"unknown table", head + rule + "\n[rule.bogus]\nx = 1\n", "r.toml:17:1: unknown key \"bogus\" in [rule]"},
		{"threat entry", head + rule + "\n[[rule.threat]]\nframework = \"MITRE ATT&CK\"\n[rule.threat.tactic]\nid = \"TA0011\"\nname = \"Command and Control\"\nrefrence = \"https://attack.mitre.org/tactics/TA0011/\"\n",
			"r.toml:22:1: unknown key \"refrence\" in [rule.threat.tactic] (did you mean \"reference\"?)"},
		{"inline table", head + rule + "required_fields = [{name = \"a\", typ = \"keyword\", ecs = true}]\n", "r.toml:16:33: unknown key \"typ\" in [rule.required_fields] (did you mean \"type\"?)"},
		{"top level", "bogus = 1\n" + head + rule, "r.toml:1:1: unknown key \"bogus\" in top level"},
		{"free-form meta", head + rule + "meta = {anything = {goes = 1}}\n", ""},
		{"transform", head + rule + "\n[[transform.investigate]]\nlabel = \"l\"\nproviders = [[{excluded = false, field = \"f\", queryType = \"phrase\", value = \"v\", valueType = \"string\"}]]\n", ""},
		{"deprecated rule", strings.Replace(head, "production", "deprecated", 1)[:len(head)-1] + "deprecated_reason = \"old\"\n\n" + rule, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseTOML("r.toml", []byte(tc.src))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("parseTOML(%q):\n got %q\nwant %q", tc.src, got, tc.want)
			}
		})
	}
}

// TestShippedRulesHaveNoUnknownKeys keeps the repository's rules inside
// detection-rules' schema.
func TestShippedRulesHaveNoUnknownKeys(t *testing.T) {
	files, _ := filepath.Glob("*.toml")
	if len(files) == 0 {
		t.Fatal("no rules found")
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("Load(%s): %v", f, err)
		}
	}
}

// TestUnknownNDJSONKeys: a top-level field Kibana's rule schema does not
// have is an error at the key in an export line; response-only fields
// (id, created_at, execution_summary, ...) are not.
func TestUnknownNDJSONKeys(t *testing.T) {
	good := `{"id":"x","rule_id":"r","name":"n","description":"d","type":"eql","language":"eql","query":"process where true","index":["logs-endpoint.events.*"],"severity":"low","risk_score":1,"created_at":"2026-12-04T00:00:00Z","execution_summary":{},"rule_source":{"type":"internal"},"immutable":false,"revision":1}`
	bad := `{"rule_id":"r","name":"n","description":"d","type":"eql","language":"eql","query":"process where true","severty":"low","risk_score":1}`
	rs, err := parseNDJSON("e.ndjson", []byte(good+"\n"+bad+"\n"+`{"exported_count":2,"exported_rules_count":2}`+"\n"))
	want := "e.ndjson:2:104: unknown rule field \"severty\" (did you mean \"severity\"?)"
	if err == nil || err.Error() != want {
		t.Errorf("parseNDJSON error = %v, want %q", err, want)
	}
	if len(rs) != 1 || rs[0].ID != "r" {
		t.Errorf("parseNDJSON rules = %+v, want the good line's rule", rs)
	}
}
