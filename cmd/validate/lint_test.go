package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/rules"
)

const publishedWarning = "rules/t1071_003_mail_c2_published.toml:40:32: warning: \"connection_attempted\" is not an ECS event.type value, so this never matches ECS data; Elastic Defend reports it in event.action\n"

// TestLintCommand builds cmd/validate and runs "validate lint" end to end
// on rule files of every format: findings at file:line:col, skipped
// non-EQL rules, exit codes.
func TestLintCommand(t *testing.T) {
	bin := buildValidate(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.eql", "network where destination.port in (25, 110)\n")
	// The error sits on the query's second line, inside a ''' string
	// that starts on file line 4: file line 6, column 19.
	badTOML := write("bad.toml", `[rule]
name = "bad"
type = "eql"
language = "eql"
query = '''
sequence by process.entity_id
  [network where destination.port ==]
'''
`)
	seqTOML := write("one_stage.toml", `[rule]
name = "one stage"
type = "eql"
language = "eql"
query = """
sequence [network where true]"""
`)
	kql := write("kql.ndjson", `{"rule_id":"a","name":"kql","type":"query","language":"kuery","query":"x : y"}
{"rule_id":"b","name":"eql","type":"eql","language":"eql","query":"process where process.name == \"nc\" and\n  process.pid >"}
`)
	mapping := write("mapping.json", `{"properties":{"@timestamp":{"type":"date"},"event":{"properties":{"category":{"type":"keyword"}}},"destination":{"properties":{"port":{"type":"long"}}}}}`)

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"valid", []string{"lint", good}, 0, "", "validate lint: 1 valid EQL rule, 0 skipped, 0 problems\n"},
		// The published rule is valid EQL, but compares event.type with a
		// value ECS does not allow: a warning, exit 0 (1 with --strict).
		{"published rule", []string{"lint", "rules/t1071_003_mail_c2_published.toml"}, 0, publishedWarning, "validate lint: 1 valid EQL rule, 0 skipped, 0 problems, 1 warning\n"},
		{"published rule, strict", []string{"lint", "--strict", "rules/t1071_003_mail_c2_published.toml"}, 1, publishedWarning, "validate lint: 1 valid EQL rule, 0 skipped, 0 problems, 1 warning\n"},
		{"toml multi-line error", []string{"lint", badTOML}, 1,
			badTOML + ":7:37: mismatched input ']' expecting an expression\n", "validate lint: 0 valid EQL rules, 0 skipped, 1 problem\n"},
		{"one-stage sequence", []string{"lint", seqTOML}, 1,
			seqTOML + ":6:1: A sequence requires a minimum of 2 queries, found [1]\n", "validate lint: 0 valid EQL rules, 0 skipped, 1 problem\n"},
		{"ndjson skipped and error", []string{"lint", kql}, 1,
			kql + ":1: skipped: kuery rule, not EQL (type \"query\")\n" +
				kql + ":2:125: mismatched input '<EOF>' expecting an expression\n",
			"validate lint: 0 valid EQL rules, 1 skipped, 1 problem\n"},
		{"mapping: unknown column", []string{"lint", "--mapping", mapping, good, filepath.Join(dir, "none.eql")}, 1,
			filepath.Join(dir, "none.eql") + ": no such file or directory\n",
			"validate lint: 1 valid EQL rule, 0 skipped, 1 problem\n"},
		{"quiet", []string{"lint", "--quiet", kql}, 1, kql + ":2:125: mismatched input '<EOF>' expecting an expression\n", ""},
		{"no files", []string{"lint"}, 2, "", ""},
		{"github annotations", []string{"lint", "--format", "github", "rules/t1071_003_mail_c2_published.toml", kql}, 1,
			// Paths in argument order, findings in position order within each.
			"::warning file=rules/t1071_003_mail_c2_published.toml,line=40,col=32::\"connection_attempted\" is not an ECS event.type value, so this never matches ECS data; Elastic Defend reports it in event.action\n" +
				"::notice file=" + kql + ",line=1::skipped: kuery rule, not EQL (type \"query\")\n" +
				"::error file=" + kql + ",line=2,col=125::mismatched input '<EOF>' expecting an expression\n",
			"validate lint: 1 valid EQL rule, 1 skipped, 1 problem, 1 warning\n"},
		{"json", []string{"lint", "--format", "json", "--quiet", seqTOML}, 1,
			"[\n  {\n    \"file\": \"" + seqTOML + "\",\n    \"line\": 6,\n    \"col\": 1,\n    \"level\": \"error\",\n    \"message\": \"A sequence requires a minimum of 2 queries, found [1]\"\n  }\n]\n", ""},
		{"bad format", []string{"lint", "--format", "xml", good}, 2, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runValidate(t, bin, tt.args...)
			if code != tt.code {
				t.Errorf("validate %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tt.args, code, tt.code, stdout, stderr)
			}
			if stdout != tt.stdout {
				t.Errorf("validate %v stdout:\n%s\nwant:\n%s", tt.args, stdout, tt.stdout)
			}
			if tt.code != 2 && stderr != tt.stderr {
				t.Errorf("validate %v stderr:\n%s\nwant:\n%s", tt.args, stderr, tt.stderr)
			}
			if tt.code == 2 && !strings.Contains(stderr, "usage: validate lint") {
				t.Errorf("validate %v: usage error without usage:\n%s", tt.args, stderr)
			}
		})
	}

	// With a mapping, a field the mapping lacks is an "Unknown column".
	unknown := write("unknown.eql", "network where process.name == \"nc\"")
	stdout, _, code := runValidate(t, bin, "lint", "--mapping", mapping, unknown)
	if want := unknown + ":1:15: Unknown column [process.name]\n"; code != 1 || stdout != want {
		t.Errorf("lint --mapping: exit %d, stdout %q; want 1, %q", code, stdout, want)
	}
}

func TestECSWarnings(t *testing.T) {
	tests := []struct {
		query    string
		category string   // the event category field; "" is event.category
		want     []string // "offset: message prefix"
	}{
		{`network where event.type == "start"`, "", nil},
		{`network where event.type : "START"`, "", nil},
		{`network where event.type == "START"`, "", []string{`28: "START" is not an ECS event.type value`}},
		{`network where event.type in~ ("Start", "connection_attempted")`, "", []string{`39: "connection_attempted" is not an ECS event.type value, so this never matches ECS data; Elastic Defend reports it in event.action`}},
		{`network where not event.outcome != "succes"`, "", []string{`35: "succes" is not an ECS event.outcome value`}},
		{`network where event.type : "conn*"`, "", nil},
		{`process where event.type in ("start", "process_started")`, "", []string{`38: "process_started" is not an ECS event.type value, so this never matches ECS data; Auditbeat's system module reports it in event.action (event.type "start")`}},
		{`network where event.action == "connection_attempted"`, "", nil},
		{`netwrk where true`, "", []string{`0: "netwrk" is not an ECS event.category value`}},
		{`sequence [process where event.kind == "alerts"] [any where true]`, "", []string{`38: "alerts" is not an ECS event.kind value`}},
		// event_category_override = "event.type": the stage's category
		// is an event.type value ("info where" in AWS CloudTrail rules).
		{`info where event.action == "PutBucketLogging"`, "event.type", nil},
		{`sequence [info where true] [change where true]`, "event.type", nil},
		{`infos where true`, "event.type", []string{`0: "infos" is not an ECS event.type value, so this stage never matches ECS data (the rule's event_category_override reads the category from event.type)`}},
		{`network where true`, "event.type", []string{`0: "network" is not an ECS event.type value`}},
		// A field outside ECS categorization has no list to check against.
		{`anything where true`, "custom.kind", nil},
	}
	for _, tt := range tests {
		q, err := eql.Parse(tt.query)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.query, err)
		}
		field := tt.category
		if field == "" {
			field = eql.DefaultEventCategoryField
		}
		ws := ecsWarnings(q, field)
		if len(ws) != len(tt.want) {
			t.Errorf("ecsWarnings(%q) = %+v, want %d", tt.query, ws, len(tt.want))
			continue
		}
		for i, w := range ws {
			if got := fmt.Sprintf("%d: %s", w.offset, w.msg); !strings.HasPrefix(got, tt.want[i]) {
				t.Errorf("ecsWarnings(%q)[%d] = %q, want prefix %q", tt.query, i, got, tt.want[i])
			}
		}
	}
}

func TestGitHubEscaping(t *testing.T) {
	var b strings.Builder
	err := writeFindings(&b, "github", []finding{{rules.Pos{File: "a,b:c.toml", Line: 3, Col: 4}, "error", "100% bad\nsecond line"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "::error file=a%2Cb%3Ac.toml,line=3,col=4::100%25 bad%0Asecond line\n"; b.String() != want {
		t.Errorf("github format = %q, want %q", b.String(), want)
	}
}
