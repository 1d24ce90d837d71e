package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/eql"
)

const publishedQuery = `sequence by host.name, process.entity_id with maxspan=24h
  [network where event.type == "connection_attempted" and
   destination.port in (25, 465, 587, 110, 995, 143, 993) and
   not process.name in~ ("outlook.exe", "thunderbird.exe", "mailclient.exe", "em client.exe", "msedge.exe", "chrome.exe", "firefox.exe", "safari.exe")] with runs=3
`

func TestPublishedRule(t *testing.T) {
	path := "t1071_003_mail_c2_published.toml"
	rs, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%q): %v", path, err)
	}
	if len(rs) != 1 {
		t.Fatalf("Load(%q) = %d rules, want 1", path, len(rs))
	}
	r := rs[0]
	if r.Query != publishedQuery {
		t.Errorf("query differs from the published rule:\ngot:\n%s\nwant:\n%s", r.Query, publishedQuery)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"ID", r.ID, "8926248f-d88a-49f0-8887-cdcd9971cc5f"},
		{"Name", r.Name, "Potential Command and Control via Mail Protocols"},
		{"Type", r.Type, "eql"},
		{"Language", r.Language, LanguageEQL},
		{"Index", r.Index, []string{"logs-endpoint.events.*"}},
		{"Severity", r.Severity, SeverityHigh},
		{"RiskScore", r.RiskScore, 73},
		{"TechniqueIDs", r.TechniqueIDs(), []string{"T1071", "T1071.003"}},
		{"Tactic", r.Threat[0].Tactic.ID, "TA0011"},
		{"Framework", r.Threat[0].Framework, "MITRE ATT&CK"},
		{"Skipped", r.Skipped(), ""},
		{"QueryPos", r.QueryPos(), Pos{path, 39, 1}},
		{"Position(4,8)", r.Position(4, 8), Pos{path, 42, 8}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestPosition(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		rule      int // index in the loaded rules
		line, col int // in the query
		want      string
	}{
		{"toml basic start", "testdata/basic_escapes.toml", 0, 1, 1, "testdata/basic_escapes.toml:17:1"},
		{"toml escaped quote", "testdata/basic_escapes.toml", 0, 1, 31, "testdata/basic_escapes.toml:17:31"},
		{"toml unicode escape", "testdata/basic_escapes.toml", 0, 1, 35, "testdata/basic_escapes.toml:17:36"},
		{"toml after unicode escape", "testdata/basic_escapes.toml", 0, 1, 36, "testdata/basic_escapes.toml:17:42"},
		{"toml after line-ending backslash", "testdata/basic_escapes.toml", 0, 1, 46, "testdata/basic_escapes.toml:18:7"},
		{"toml second query line", "testdata/basic_escapes.toml", 0, 2, 3, "testdata/basic_escapes.toml:19:3"},
		{"toml escaped quote line 2", "testdata/basic_escapes.toml", 0, 2, 19, "testdata/basic_escapes.toml:19:19"},
		{"toml past the end", "testdata/basic_escapes.toml", 0, 9, 1, "testdata/basic_escapes.toml:19:29"},
		{"eql after BOM", "testdata/bom.eql", 0, 1, 1, "testdata/bom.eql:1:4"},
		{"eql line 2", "testdata/bom.eql", 0, 2, 7, "testdata/bom.eql:2:7"},
		{"ndjson start", "testdata/export.ndjson", 0, 1, 1, "testdata/export.ndjson:1:206"},
		{"ndjson after \\n escape", "testdata/export.ndjson", 0, 2, 3, "testdata/export.ndjson:1:239"},
		{"saved object escaped quote", "testdata/export.ndjson", 3, 1, 31, "testdata/export.ndjson:6:287"},
		{"saved object escaped backslash", "testdata/export.ndjson", 3, 1, 32, "testdata/export.ndjson:6:289"},
		{"saved object after escape", "testdata/export.ndjson", 3, 1, 33, "testdata/export.ndjson:6:291"},
		{"api json start", "testdata/api_rule.json", 0, 1, 1, "testdata/api_rule.json:12:13"},
		{"api json third line", "testdata/api_rule.json", 0, 3, 3, "testdata/api_rule.json:12:88"},
		{"api json escaped quote", "testdata/api_rule.json", 0, 3, 38, "testdata/api_rule.json:12:123"},
		{"json array second rule", "testdata/array.json", 2, 1, 1, "testdata/array.json:34:13"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, _ := Load(tt.file)
			if tt.rule >= len(rs) {
				t.Fatalf("Load(%q) = %d rules, want more than %d", tt.file, len(rs), tt.rule)
			}
			r := rs[tt.rule]
			if got := r.Position(tt.line, tt.col).String(); got != tt.want {
				t.Errorf("%s: Position(%d, %d) = %s, want %s", r.Name, tt.line, tt.col, got, tt.want)
			}
		})
	}
}

func TestLoadNDJSON(t *testing.T) {
	rs, err := Load("testdata/export.ndjson")
	wantErr := "testdata/export.ndjson:3:32: json: invalid character '}' looking for beginning of value"
	if err == nil || err.Error() != wantErr {
		t.Errorf("Load error = %v, want %s", err, wantErr)
	}
	type summary struct {
		Line     int
		ID, Name string
		Lang     Language
		Index    []string
		Skipped  string
	}
	var got []summary
	for _, r := range rs {
		got = append(got, summary{r.Line, r.ID, r.Name, r.Language, r.Index, r.Skipped()})
	}
	want := []summary{
		{1, "0b4e7c7e-1111-4a8e-9d6c-000000000010", "Mail C2 export", LanguageEQL, []string{"logs-endpoint.events.network-*"}, ""},
		{2, "0b4e7c7e-1111-4a8e-9d6c-000000000011", "KQL rule", LanguageKuery, []string{"logs-*"}, `kuery rule, not EQL (type "query")`},
		{4, "0b4e7c7e-1111-4a8e-9d6c-000000000012", "ML rule", "", nil, `no language rule, not EQL (type "machine_learning")`},
		{6, "0b4e7c7e-1111-4a8e-9d6c-000000000013", "Saved object rule", LanguageEQL, []string{"logs-endpoint.events.process-*"}, ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(export.ndjson) rules:\ngot  %+v\nwant %+v", got, want)
	}
	if len(rs) == 4 {
		if q := `process where process.name == "\u00e9\t" and "q\"uote" == x`; rs[3].Query != q {
			t.Errorf("saved object query = %q, want %q", rs[3].Query, q)
		}
		if got := rs[0].TechniqueIDs(); !reflect.DeepEqual(got, []string{"T1071", "T1071.003"}) {
			t.Errorf("TechniqueIDs = %v", got)
		}
	}
}

func TestLoadJSON(t *testing.T) {
	rs, err := Load("testdata/array.json")
	if err != nil {
		t.Fatalf("Load(array.json): %v", err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("%d %s %s %q", r.Line, r.Format, r.Name, r.Skipped()))
	}
	want := []string{
		`2 json API rule ""`,
		`16 json kql "kuery rule, not EQL (type \"query\")"`,
		`23 json second ""`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(array.json):\ngot  %q\nwant %q", got, want)
	}
	// A broken array is reported where it breaks.
	dir := t.TempDir()
	p := filepath.Join(dir, "broken.json")
	if err := os.WriteFile(p, []byte("[\n {\"rule_id\": \"a\", \"type\": \"eql\", \"query\": \"any where true\"},\n {\"rule_id\": }\n]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err = Load(p)
	if want := p + ":3:14: json: invalid character '}' looking for beginning of value"; err == nil || err.Error() != want || len(rs) != 1 {
		t.Errorf("Load(broken.json) = %d rules, %v; want 1 rule and %s", len(rs), err, want)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"testdata/syntax_error.toml", "testdata/syntax_error.toml:4:19: toml: unexpected EOF; expected \"'''\""},
		{"testdata/type_error.toml", `testdata/type_error.toml:3:1: toml: rule.risk_score: incompatible types: TOML value has type string; destination has type integer`},
		{"testdata/broken_api.json", "testdata/broken_api.json:4:1: json: invalid character '}' looking for beginning of value"},
		{"testdata/no_rule.toml", "testdata/no_rule.toml:1:1: no [rule] table (not a detection-rules file)"},
		{"testdata/no_query.toml", "testdata/no_query.toml:4:1: eql rule has no query"},
		{"testdata/README.txt", `testdata/README.txt: unknown rule format ".txt" (want .toml, .ndjson, .jsonl, .json or .eql)`},
		{"testdata/absent.toml", "load rules: open testdata/absent.toml: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			_, err := Load(tt.file)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Load(%q) error = %v\nwant %s", tt.file, err, tt.want)
			}
		})
	}
}

func TestLoadSkipsOtherLanguages(t *testing.T) {
	rs, err := Load("testdata/kuery.toml")
	if err != nil || len(rs) != 1 {
		t.Fatalf("Load(kuery.toml) = %d rules, %v", len(rs), err)
	}
	if got, want := rs[0].Skipped(), `kuery rule, not EQL (type "query")`; got != want {
		t.Errorf("Skipped() = %q, want %q", got, want)
	}
}

func TestWithIndex(t *testing.T) {
	rs, err := Load("testdata/bom.eql", WithIndex("logs-endpoint.events.process-*"))
	if err != nil || len(rs) != 1 {
		t.Fatalf("Load(bom.eql) = %d rules, %v", len(rs), err)
	}
	r := rs[0]
	if want := []string{"logs-endpoint.events.process-*"}; !reflect.DeepEqual(r.Index, want) {
		t.Errorf("Index = %v, want %v", r.Index, want)
	}
	if want := "process where process.name == \"nc\"\n  and process.args : \"*25*\"\n"; r.Query != want {
		t.Errorf("Query = %q, want %q (without the BOM)", r.Query, want)
	}
	if r.Name != "bom" || r.Language != LanguageEQL {
		t.Errorf("Name, Language = %q, %q; want bom, eql", r.Name, r.Language)
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"a.eql":          "process where true",
		"sub/b.toml":     "[rule]\ntype = \"eql\"\nquery = 'any where true'\nname = \"b\"\n",
		"sub/c.toml":     "[rule\n",
		"notes.md":       "not a rule",
		".hidden/d.eql":  "ignored",
		"testdata/e.eql": "ignored",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := LoadDir(dir)
	var names []string
	for _, r := range rs {
		names = append(names, r.Name)
	}
	if want := []string{"a", "b"}; !reflect.DeepEqual(names, want) {
		t.Errorf("LoadDir rules = %v, want %v", names, want)
	}
	var re *Error
	if !errors.As(err, &re) || re.Pos.File != filepath.Join(dir, "sub/c.toml") || re.Pos.Line != 1 {
		t.Errorf("LoadDir error = %v, want one at sub/c.toml:1", err)
	}
	if err != nil && strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("LoadDir error has more than one finding: %v", err)
	}
}

// TestQueryMapsToSource checks, for every rule in testdata, that each
// query byte decoded from a plain (unescaped) source character points at
// that very character in the file.
func TestQueryMapsToSource(t *testing.T) {
	files, _ := filepath.Glob("testdata/*")
	files = append(files, "t1071_003_mail_c2_published.toml")
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.IsDir() {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rs, _ := Load(f)
		for _, r := range rs {
			if r.Query == "" {
				continue
			}
			if len(r.src) != len(r.Query)+1 {
				t.Errorf("%s %q: %d source offsets for %d query bytes", f, r.Name, len(r.src), len(r.Query))
				continue
			}
			for i := 0; i < len(r.Query); i++ {
				s := r.src[i]
				if data[s] != '\\' && data[s] != r.Query[i] && r.Query[i] < 0x80 {
					t.Errorf("%s %q: query byte %d %q maps to file offset %d holding %q", f, r.Name, i, r.Query[i], s, data[s])
					break
				}
			}
		}
	}
}

// TestShippedRules checks every rule shipped in this folder: it loads
// without a problem and its query parses.
func TestShippedRules(t *testing.T) {
	rs, err := LoadDir(".")
	if err != nil {
		t.Fatalf("LoadDir(rules): %v", err)
	}
	if len(rs) == 0 {
		t.Fatal("no rules shipped")
	}
	for _, r := range rs {
		if r.Skipped() != "" || len(r.Index) == 0 || r.ID == "" || r.Severity == "" {
			t.Errorf("%s: skipped %q, index %v, id %q, severity %q", r.File, r.Skipped(), r.Index, r.ID, r.Severity)
		}
		if _, err := eql.Parse(r.Query); err != nil {
			var qe *eql.Error
			if errors.As(err, &qe) {
				t.Errorf("%s: %s", r.PosAt(qe.Offset), qe.Msg)
			} else {
				t.Errorf("%s: %v", r.File, err)
			}
		}
	}
}

func TestLoadJSONAfterBOM(t *testing.T) {
	// A byte order mark, as Windows tools write one, before JSON rules:
	// loaded, and positions still count the file's bytes.
	const obj = `{"rule_id": "a", "type": "eql", "query": "any where true"}`
	for _, name := range []string{"bom.json", "bom.ndjson", "bom_array.json"} {
		t.Run(name, func(t *testing.T) {
			body := obj
			if name == "bom_array.json" {
				body = "[" + obj + "]"
			}
			p := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(p, []byte("\uFEFF"+body+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			rs, err := Load(p)
			if err != nil || len(rs) != 1 {
				t.Fatalf("Load(%s) = %d rules, %v; want 1 rule", name, len(rs), err)
			}
			col := 3 + strings.Index(body, "any where") + 1
			if got, want := rs[0].QueryPos().String(), fmt.Sprintf("%s:1:%d", p, col); got != want {
				t.Errorf("QueryPos() = %s, want %s", got, want)
			}
		})
	}
}

// TestRuleRequestParameters loads the EQL request parameters a rule sets
// for itself from every format that carries them: detection-rules TOML
// (EQLRuleData: event_category_override, timestamp_field,
// tiebreaker_field; timestamp_override on every rule), Kibana's rule
// export (the same snake_case names) and saved objects (camelCase params),
// and checks the _eql/search request Rule.Request builds from them.
func TestRuleRequestParameters(t *testing.T) {
	type want struct {
		category, timestamp, tiebreaker, override string
		noFallback                                bool
		categoryField                             string
		body                                      string
	}
	tests := []struct {
		name string
		file string
		rule int
		want want
	}{
		{"toml", "testdata/overrides/s3_logging_off.toml", 0, want{
			category: "event.type", override: "event.ingested", categoryField: "event.type",
			body: `{"query":"info where data_stream.dataset == \"aws.cloudtrail\"\n  and event.provider == \"s3.amazonaws.com\"\n  and event.action == \"PutBucketLogging\"\n  and event.outcome == \"success\"\n","event_category_field":"event.type"}`,
		}},
		{"toml tiebreaker", "testdata/overrides/exec_then_connect.toml", 0, want{
			tiebreaker: "event.sequence", categoryField: "event.category",
			body: `{"query":"sequence by process.entity_id\n  [process where event.action == \"exec\"]\n  [network where event.action == \"connection_attempted\" and destination.port == 110]\n","tiebreaker_field":"event.sequence"}`,
		}},
		{"ndjson export", "testdata/overrides/trail_then_logging.ndjson", 0, want{
			category: "event.type", timestamp: "event.created", override: "event.ingested", categoryField: "event.type",
			body: `{"query":"sequence by user.name with maxspan=1h\n  [info where event.action == \"StopLogging\"]\n  [info where event.action == \"PutBucketLogging\"]","timestamp_field":"event.created","event_category_field":"event.type"}`,
		}},
		{"saved object", "testdata/overrides/saved_object.ndjson", 0, want{
			category: "event.type", timestamp: "event.created", tiebreaker: "event.sequence",
			override: "event.ingested", noFallback: true, categoryField: "event.type",
			body: `{"query":"info where event.action == \"PutBucketLogging\"","timestamp_field":"event.created","tiebreaker_field":"event.sequence","event_category_field":"event.type"}`,
		}},
		{"none set", "t1071_003_mail_c2_published.toml", 0, want{
			categoryField: "event.category",
			body:          `{"query":` + strconvQuote(publishedQuery) + `}`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := Load(tc.file)
			if err != nil {
				t.Fatalf("Load(%q): %v", tc.file, err)
			}
			r := rs[tc.rule]
			got := want{r.EventCategoryOverride, r.TimestampField, r.TiebreakerField, r.TimestampOverride,
				r.TimestampOverrideFallbackDisabled, r.EventCategoryField(), ""}
			body, err := r.Request().MarshalJSON()
			if err != nil {
				t.Fatalf("Request().MarshalJSON(): %v", err)
			}
			got.body = string(body)
			if got != tc.want {
				t.Errorf("Load(%q)[%d]:\ngot  %+v\nwant %+v", tc.file, tc.rule, got, tc.want)
			}
		})
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestCovers: which scenario techniques a rule's [[rule.threat]] covers.
func TestCovers(t *testing.T) {
	parentOnly := Rule{Threat: []Threat{{Techniques: []Technique{{Ref: Ref{ID: "T1071"}}}}}}
	withSub := Rule{Threat: []Threat{{Techniques: []Technique{{Ref: Ref{ID: "T1071"}, Subtechniques: []Ref{{ID: "T1071.003"}}}}}}}
	untagged := Rule{}
	for _, tc := range []struct {
		r    Rule
		id   string
		want bool
	}{
		{parentOnly, "T1071", true}, {parentOnly, "T1071.003", true}, {parentOnly, "T1071.001", true}, {parentOnly, "T1059", false},
		{parentOnly, "T10710", false},
		{withSub, "T1071.003", true}, {withSub, "T1071", true}, {withSub, "T1071.001", false}, {withSub, "T1059.004", false},
		{untagged, "T1059", true}, {withSub, "", true},
	} {
		if got := tc.r.Covers(tc.id); got != tc.want {
			t.Errorf("%+v.Covers(%q) = %v, want %v", tc.r.Threat, tc.id, got, tc.want)
		}
	}
}
