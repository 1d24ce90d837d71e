package eql

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/ecs"
)

// multiFieldMapping is Elasticsearch's own test mapping
// (x-pack/plugin/eql/src/test/resources/mapping-multi-field.json) plus a
// text field with the keyword sub-field dynamic mapping gives every string,
// a plain text field and a nested one (mapping-nested.json).
const multiFieldMapping = `{"properties": {
  "@timestamp": {"type": "date"},
  "event": {"properties": {"category": {"type": "keyword"}}},
  "user": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 8}}},
  "plain_text": {"type": "text"},
  "multi_field": {"type": "text", "fields": {"raw": {"type": "keyword"}, "english": {"type": "text", "analyzer": "english"}}},
  "multi_field_options": {"type": "text", "fields": {"raw": {"type": "keyword"}, "key": {"type": "keyword"}}},
  "multi_field_ambiguous": {"type": "text", "fields": {"one": {"type": "keyword"}, "two": {"type": "keyword"},
    "normalized": {"type": "keyword", "normalizer": "some_normalizer"}}},
  "multi_field_nested": {"type": "nested", "properties": {
    "dep_name": {"type": "text"},
    "dep_id": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
    "end_date": {"type": "date"}}},
  "processes": {"type": "nested", "properties": {"pid": {"type": "long"},
    "path": {"type": "text", "fields": {"keyword": {"type": "keyword"}}}}}
}}`

func mustMapping(t *testing.T, s string) *Mapping {
	t.Helper()
	m, err := ParseMapping([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTextWithKeywordSubField: a text field is compared, joined and passed
// to functions through its one keyword sub-field (FieldAttribute.
// exactAttribute; querytranslator_tests.txt endsWithWildcardSubFieldFunction
// queries hostname.keyword for hostname), and the sub-field reads the
// parent's _source value; the sub-field's ignore_above leaves longer values
// out of the index.
func TestTextWithKeywordSubField(t *testing.T) {
	m := mustMapping(t, multiFieldMapping)
	stream := []ecs.Document{
		ev(1, "2026-01-01T00:00:01Z", "user", "alice", "multi_field", "Bob"),
		ev(2, "2026-01-01T00:00:02Z", "user", "alice"),
		ev(3, "2026-01-01T00:00:03Z", "user", "Alice"),
		ev(4, "2026-01-01T00:00:04Z", "user", "alice-the-admin"), // over ignore_above 8
		ev(5, "2026-01-01T00:00:05Z", "user", "alice-the-admin"),
	}
	tests := []struct {
		query string
		want  []int
	}{
		{`process where user == "alice"`, []int{1, 2}},
		{`process where user : "alice"`, []int{1, 2, 3}},
		{`process where user.keyword == "alice"`, []int{1, 2}},
		{`process where user.keyword in ("Alice")`, []int{3}},
		{`process where startsWith(user, "ali")`, []int{1, 2}},
		{`process where user like "alice*"`, []int{1, 2}},
		{`process where multi_field.raw == "Bob"`, []int{1}},
		{`process where multi_field_options.key == "Bob"`, nil},
		// a value over ignore_above is not indexed: no query matches it
		{`process where user.keyword == "alice-the-admin"`, nil},
		{`process where user != "alice"`, []int{3, 4, 5}},
		{`sequence by user [process where @timestamp < "2026-01-01T00:00:04Z"] [process where true]`, []int{1, 2}},
		{`sequence by user.keyword [process where @timestamp < "2026-01-01T00:00:04Z"] [process where true]`, []int{1, 2}},
	}
	for _, tc := range tests {
		for _, opts := range [][]Option{{WithMapping(m)}, {WithMapping(m), Sorted()}} {
			resp, err := Search(context.Background(), Request{Query: tc.query}, docs(stream...), opts...)
			if err != nil {
				t.Fatalf("Search(%q): %v", tc.query, err)
			}
			if got := selected(t, resp); !slices.Equal(got, tc.want) {
				t.Errorf("Search(%q, %d options) = %v, want %v", tc.query, len(opts), got, tc.want)
			}
		}
	}
}

// TestInexactAndNestedFieldErrors pins Elasticsearch's verifier messages
// (x-pack/plugin/eql/src/test/java/.../analysis/VerifierTests.java
// testMultiField, testNested, testStringFunctionWithText; the
// startsWith/concat/endsWith cases of the planner's QueryTranslatorFailTests).
func TestInexactAndNestedFieldErrors(t *testing.T) {
	m := mustMapping(t, multiFieldMapping)
	tests := []struct{ query, want string }{
		{`foo where multi_field.english == "bar"`,
			`1:11: [multi_field.english == "bar"] cannot operate on first argument field of data type [text]: No keyword/multi-field defined exact matches for [english]; define one or use MATCH/QUERY instead`},
		{`foo where multi_field_ambiguous.normalized == "bar"`,
			`1:11: [multi_field_ambiguous.normalized == "bar"] cannot operate on first argument field of data type [keyword]: Normalized keyword field cannot be used for exact match operations`},
		{`foo where multi_field_ambiguous == "bar"`,
			`1:11: [multi_field_ambiguous == "bar"] cannot operate on first argument field of data type [text]: Multiple exact keyword candidates available for [multi_field_ambiguous]; specify which one to use`},
		{`foo where multi_field_nested.dep_name == "bar"`,
			`1:11: Cannot use field [multi_field_nested.dep_name] type [text] with unsupported nested type in hierarchy (field [multi_field_nested])`},
		{`foo where multi_field_nested.dep_id.keyword == "bar"`,
			`1:11: Cannot use field [multi_field_nested.dep_id.keyword] type [keyword] with unsupported nested type in hierarchy (field [multi_field_nested])`},
		{`foo where multi_field_nested.end_date == ""`,
			`1:11: Cannot use field [multi_field_nested.end_date] type [datetime] with unsupported nested type in hierarchy (field [multi_field_nested])`},
		{`foo where processes == 0`,
			`1:11: Cannot use field [processes] type [nested] due to nested fields not being supported yet`},
		{`foo where processes.pid == 0`,
			`1:11: Cannot use field [processes.pid] type [long] with unsupported nested type in hierarchy (field [processes])`},
		{`process where string(multi_field.english) == "foo"`,
			`1:15: [string(multi_field.english)] cannot operate on field of data type [text]: No keyword/multi-field defined exact matches for [english]; define one or use MATCH/QUERY instead`},
		{`process where startsWith(plain_text, "foo") == true`,
			`1:15: [startsWith(plain_text, "foo")] cannot operate on first argument field of data type [text]: No keyword/multi-field defined exact matches for [plain_text]; define one or use MATCH/QUERY instead`},
		{`process where concat(plain_text)`,
			`1:15: [concat(plain_text)] cannot operate on field of data type [text]: No keyword/multi-field defined exact matches for [plain_text]; define one or use MATCH/QUERY instead`},
		// In.resolveType: isExact(value, functionName(), DEFAULT), the
		// class name upper-cased; RegexMatch: isStringAndExact(field(),
		// sourceText(), DEFAULT)
		{`process where plain_text in ("a", "b")`,
			`1:15: [IN] cannot operate on field of data type [text]: No keyword/multi-field defined exact matches for [plain_text]; define one or use MATCH/QUERY instead`},
		{`process where plain_text like "a*"`,
			`1:15: [plain_text like "a*"] cannot operate on field of data type [text]: No keyword/multi-field defined exact matches for [plain_text]; define one or use MATCH/QUERY instead`},
		// InsensitiveBinaryComparison.resolveInputType: isExact(e,
		// function().symbol(), paramOrdinal), the operation named ":"
		{`process where plain_text : "foo"`,
			`1:15: [:] cannot operate on first argument field of data type [text]: No keyword/multi-field defined exact matches for [plain_text]; define one or use MATCH/QUERY instead`},
		// EQL's Match (regex): isStringAndExact(field, sourceText(), FIRST)
		{`process where plain_text regex "a.*"`,
			`1:15: [plain_text regex "a.*"] cannot operate on first argument field of data type [text]: No keyword/multi-field defined exact matches for [plain_text]; define one or use MATCH/QUERY instead`},
	}
	for _, tc := range tests {
		q, err := Parse(tc.query)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.query, err)
		}
		_, cerr := Compile(q, WithMapping(m))
		if cerr == nil || cerr.Error() != tc.want {
			t.Errorf("Compile(%q) error = %v\nwant %s", tc.query, cerr, tc.want)
		}
	}
	// accepted as in VerifierTests.testMultiField
	for _, ok := range []string{`foo where multi_field.raw == "bar"`, `foo where multi_field_options.raw == "bar"`,
		`foo where multi_field_options.key == "bar"`, `foo where multi_field_ambiguous.one == "bar"`,
		`foo where multi_field_ambiguous.two == "bar"`, `foo where plain_text == null`} {
		q, err := Parse(ok)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Compile(q, WithMapping(m)); err != nil {
			t.Errorf("Compile(%q): %v", ok, err)
		}
	}
	// a join key is extracted through the exact field
	// (FieldExtractorRegistry.createFieldExtractionFor: exactAttribute()),
	// which a text field without one keyword sub-field does not have
	q, _ := Parse(`sequence by plain_text [process where true] [process where true]`)
	want := "1:13: No keyword/multi-field defined exact matches for [plain_text]; define one or use MATCH/QUERY instead"
	if _, err := Compile(q, WithMapping(m)); err == nil || err.Error() != want {
		t.Errorf("Compile(sequence by plain_text) error = %v, want %s", err, want)
	}
}

// TestParseMappingShapes: every form a user may hold a mapping in gives
// the same fields; an object of no known shape is an error.
func TestParseMappingShapes(t *testing.T) {
	props := `{"properties": {"process": {"properties": {"name": {"type": "keyword"}}}}}`
	shapes := map[string]string{
		"mappings body":            props,
		"create-index body":        `{"settings": {}, "mappings": ` + props + `}`,
		"GET _mapping":             `{"logs-a": {"mappings": ` + props + `}, "logs-b": {"mappings": {}}}`,
		"legacy template":          `{"t": {"order": 0, "index_patterns": ["logs-*"], "mappings": ` + props + `}}`,
		"index template body":      `{"index_patterns": ["logs-*"], "template": {"settings": {}, "mappings": ` + props + `}, "priority": 200}`,
		"component template body":  `{"template": {"mappings": ` + props + `}}`,
		"GET _index_template":      `{"index_templates": [{"name": "logs", "index_template": {"index_patterns": ["logs-*"], "template": {"mappings": ` + props + `}}}]}`,
		"GET _component_template":  `{"component_templates": [{"name": "ecs", "component_template": {"template": {"mappings": ` + props + `}}}]}`,
		"template without mapping": `{"index_templates": [{"name": "a", "index_template": {"index_patterns": ["x"], "template": {"settings": {}}}}, {"name": "b", "index_template": {"index_patterns": ["y"], "template": {"mappings": ` + props + `}}}]}`,
	}
	for name, src := range shapes {
		m, err := ParseMapping([]byte(src))
		if err != nil {
			t.Errorf("%s: ParseMapping: %v", name, err)
			continue
		}
		if tn, ok := m.Type("process.name"); !ok || tn != "keyword" {
			t.Errorf("%s: process.name type = %q, %v; want keyword", name, tn, ok)
		}
	}
	m, err := ParseMapping([]byte(`{"index_patterns": ["x"], "composed_of": ["ecs", "logs-settings"], "template": {"mappings": {}}}`))
	if err != nil || !slices.Equal(m.ComposedOf(), []string{"ecs", "logs-settings"}) {
		t.Errorf("composed_of: %v, %v", m, err)
	}
	bad := map[string]string{
		`{"process": {"name": "nc"}}`:          "parse mapping: not a mapping: want {\"properties\": ...}, {\"mappings\": ...}, an index or component template, or the output of GET _mapping, _index_template or _component_template; got the keys process",
		`{"mappings": [1]}`:                    `parse mapping: "mappings" is not an object`,
		`{"index_templates": [{"name": "x"}]}`: `parse mapping: index_templates[0] has no "index_template" object`,
	}
	for src, want := range bad {
		if _, err := ParseMapping([]byte(src)); err == nil || err.Error() != want {
			t.Errorf("ParseMapping(%s) error = %v\nwant %s", src, err, want)
		}
	}
}

// TestDynamicMapping: unmapped fields are mapped as Elasticsearch's
// dynamic mapping maps them (the dynamic field mapping table of the
// mapping reference; DocumentParser/DynamicFieldsBuilder).
func TestDynamicMapping(t *testing.T) {
	doc := ecs.Document{"@timestamp": "2026-01-01T00:00:01Z", "s": "x", "n": 3, "f": 1.5, "b": true,
		"d": "2026-01-02T03:04:05Z", "o": map[string]any{"i": "y"}, "a.b": "dotted", "nul": nil, "empty": []any{}}
	types := func(m *Mapping) map[string]string {
		out := map[string]string{}
		for _, f := range []string{"s", "s.keyword", "n", "f", "b", "d", "o", "o.i", "a", "a.b", "nul", "empty"} {
			tn, ok := m.Type(f)
			if !ok {
				tn = "-"
			}
			out[f] = tn
		}
		return out
	}
	tests := []struct {
		name, mapping string
		want          map[string]string
		err           string
	}{
		{"dynamic true", `{}`, map[string]string{"s": "text", "s.keyword": "keyword", "n": "long", "f": "float", "b": "boolean",
			"d": "date", "o": "object", "o.i": "text", "a": "object", "a.b": "text", "nul": "-", "empty": "-"}, ""},
		{"date_detection false", `{"date_detection": false}`, map[string]string{"s": "text", "s.keyword": "keyword", "n": "long", "f": "float", "b": "boolean",
			"d": "text", "o": "object", "o.i": "text", "a": "object", "a.b": "text", "nul": "-", "empty": "-"}, ""},
		{"dynamic false", `{"dynamic": false, "properties": {"s": {"type": "keyword"}}}`, map[string]string{"s": "keyword", "s.keyword": "-", "n": "-", "f": "-",
			"b": "-", "d": "-", "o": "-", "o.i": "-", "a": "-", "a.b": "-", "nul": "-", "empty": "-"}, ""},
		{"dynamic false in an object", `{"properties": {"o": {"dynamic": false, "properties": {}}}}`, map[string]string{"s": "text", "s.keyword": "keyword",
			"n": "long", "f": "float", "b": "boolean", "d": "date", "o": "object", "o.i": "-", "a": "object", "a.b": "text", "nul": "-", "empty": "-"}, ""},
		{"dynamic runtime", `{"dynamic": "runtime"}`, map[string]string{"s": "keyword", "s.keyword": "-", "n": "long", "f": "double", "b": "boolean",
			"d": "date", "o": "object", "o.i": "keyword", "a": "object", "a.b": "keyword", "nul": "-", "empty": "-"}, ""},
		{"dynamic strict", `{"dynamic": "strict", "properties": {"@timestamp": {"type": "date"}}}`, nil,
			"mapping set to strict, dynamic introduction of [a] within [_doc] is not allowed"},
		{"dynamic templates", `{"dynamic_templates": [
			{"longs_as_strings": {"match_mapping_type": "string", "match": "s", "mapping": {"type": "keyword"}}},
			{"objs": {"path_match": "o.*", "mapping": {"type": "{dynamic_type}", "fields": {"raw": {"type": "keyword"}}}}},
			{"nums": {"match_mapping_type": ["long", "double"], "unmatch": "n", "mapping": {"type": "double"}}}]}`,
			map[string]string{"s": "keyword", "s.keyword": "-", "n": "long", "f": "double", "b": "boolean",
				"d": "date", "o": "object", "o.i": "text", "a": "object", "a.b": "text", "nul": "-", "empty": "-"}, ""},
	}
	for _, tc := range tests {
		m := mustMapping(t, tc.mapping)
		err := m.AddDynamic(doc)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s: AddDynamic error = %v, want %s", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: AddDynamic: %v", tc.name, err)
		}
		got := types(m)
		for f, want := range tc.want {
			if got[f] != want {
				t.Errorf("%s: type of %s = %s, want %s", tc.name, f, got[f], want)
			}
		}
	}
	// the template's multi-field maps o.i.raw as a keyword sub-field of o.i
	m := mustMapping(t, `{"dynamic_templates": [{"objs": {"path_match": "o.*", "mapping": {"type": "{dynamic_type}", "fields": {"raw": {"type": "keyword"}}}}}]}`)
	if err := m.AddDynamic(doc); err != nil {
		t.Fatal(err)
	}
	resp, err := Search(context.Background(), Request{Query: `any where o.i == "y" and o.i.raw == "y"`}, docs(doc), WithMapping(m))
	if err != nil || len(resp.Hits.Events) != 1 {
		t.Errorf("query through a template's sub-field: %v, %v", resp, err)
	}
	// dynamic false: the field stays in _source but is not queryable
	m = mustMapping(t, `{"dynamic": false, "properties": {"@timestamp": {"type": "date"}}}`)
	if err := m.AddDynamic(doc); err != nil {
		t.Fatal(err)
	}
	if _, err := Search(context.Background(), Request{Query: `any where s == "x"`}, docs(doc), WithMapping(m)); err == nil || !strings.Contains(err.Error(), "Unknown column [s]") {
		t.Errorf("dynamic false: query on an unmapped field: %v, want Unknown column [s]", err)
	}
}

// TestRuntimeFields: a runtime field without a script reads _source with
// its type; one with a script cannot run here, so the search says so
// (is_partial and the reason) instead of answering as if nothing matched.
func TestRuntimeFields(t *testing.T) {
	m := mustMapping(t, `{"runtime": {
	  "port_rt": {"type": "long"},
	  "day": {"type": "keyword", "script": {"source": "emit(doc['@timestamp'].value.dayOfWeekEnum.toString())"}}},
	  "properties": {"@timestamp": {"type": "date"}, "event": {"properties": {"category": {"type": "keyword"}}}}}`)
	d := ev(1, "2026-01-01T00:00:01Z", "port_rt", "25")
	resp, err := Search(context.Background(), Request{Query: `process where port_rt == 25`}, docs(d), WithMapping(m))
	if err != nil || len(resp.Hits.Events) != 1 || resp.IsPartial {
		t.Errorf("runtime field without a script: %+v, %v; want one hit, not partial", resp, err)
	}
	resp, err = Search(context.Background(), Request{Query: `process where day == "THURSDAY"`}, docs(d), WithMapping(m), WithIndex("logs"))
	if err != nil {
		t.Fatal(err)
	}
	want := []ShardFailure{{Index: "logs", Reason: FailureReason{Type: "embedded_engine_exception",
		Reason: "runtime field [day] is computed by a script, which the embedded engine cannot run"}}}
	if !resp.IsPartial || !slices.Equal(resp.ShardFailures, want) {
		t.Errorf("runtime field with a script: is_partial %v, shard_failures %+v; want true, %+v", resp.IsPartial, resp.ShardFailures, want)
	}
}

// FuzzParseMapping: any input gives a mapping or an error, never a panic,
// and a mapping takes any document through dynamic mapping and a search.
func FuzzParseMapping(f *testing.F) {
	f.Add([]byte(multiFieldMapping), []byte(`{"user": "a", "o": [{"x": 1}, {"x": "b"}]}`))
	f.Add([]byte(`{"dynamic": "strict"}`), []byte(`{"a.b": 1}`))
	f.Add([]byte(`{"dynamic_templates": [{"t": {"match": "*", "match_pattern": "regex", "mapping": {"type": "{dynamic_type}"}}}]}`), []byte(`{"a": "2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"index_templates": [{"index_template": {"template": {"mappings": {"runtime": {"r": {"type": "long", "script": "x"}}}}}}]}`), []byte(`{"r": 1}`))
	f.Add([]byte(`{"x": {"mappings": []}}`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, mapping, doc []byte) {
		m, err := ParseMapping(mapping)
		if err != nil {
			return
		}
		d, err := ecs.Decode(doc)
		if err != nil {
			return
		}
		if err := m.AddDynamic(d); err != nil {
			return
		}
		for _, q := range []string{`any where true`, `any where user == "a"`, `sequence by user [any where true] [any where true]`} {
			_, _ = Search(context.Background(), Request{Query: q}, docs(d), WithMapping(m))
		}
	})
}

// TestConditionMustBeBoolean: a filter whose condition is not boolean is
// rejected (QL VerifierChecks.checkFilterConditionType), not run as a
// filter that matches nothing.
func TestConditionMustBeBoolean(t *testing.T) {
	m := mustMapping(t, multiFieldMapping)
	m2 := mustMapping(t, `{"properties": {"pid": {"type": "long"}, "n": {"type": "integer"}, "ok": {"type": "boolean"}, "name": {"type": "keyword"}}}`)
	tests := []struct {
		m           *Mapping
		query, want string
	}{
		{m2, `process where pid`, "1:15: Condition expression needs to be boolean, found [LONG]"},
		{m2, `process where n`, "1:15: Condition expression needs to be boolean, found [INTEGER]"},
		{m2, `process where length(name)`, "1:15: Condition expression needs to be boolean, found [INTEGER]"},
		{m2, `process where concat(name, "x")`, "1:15: Condition expression needs to be boolean, found [KEYWORD]"},
		{m, `process where user`, "1:15: Condition expression needs to be boolean, found [TEXT]"},
		{m2, `sequence [process where true] [process where "x"]`, "1:46: Condition expression needs to be boolean, found [KEYWORD]"},
		{m2, `process where ok`, ""},
		{m2, `process where startsWith(name, "a")`, ""},
	}
	for _, tc := range tests {
		q, err := Parse(tc.query)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.query, err)
		}
		_, cerr := Compile(q, WithMapping(tc.m))
		got := ""
		if cerr != nil {
			got = cerr.Error()
		}
		if got != tc.want {
			t.Errorf("Compile(%q) error = %q, want %q", tc.query, got, tc.want)
		}
	}
}

// TestStringOperatorsNeedStrings: ":", in~, like and regex on a value that
// is not a string are verification errors in Elasticsearch, each worded by
// its class (x-pack/plugin/eql/src/main/java/org/elasticsearch/xpack/eql/
// parser/ExpressionBuilder.java visitOperatorExpressionDefault):
// ":" and in~ are InsensitiveEquals (InsensitiveBinaryComparison.
// resolveInputType: isString on both sides, then "; consider using [==]
// instead"; VerifierTests.testIncorrectUsageOfStringEquals gives the
// first message below for "foo where pid : 123"), like is ql's Like
// (RegexMatch.resolveType: isStringAndExact(field, sourceText, DEFAULT)),
// regex is EQL's Match function (isStringAndExact(field, sourceText,
// FIRST)). They never answer 0 hits instead.
func TestStringOperatorsNeedStrings(t *testing.T) {
	m := mustMapping(t, `{"properties": {"@timestamp": {"type": "date"}, "event": {"properties": {"category": {"type": "keyword"}}},
	  "pid": {"type": "long"}, "ip_addr": {"type": "ip"}, "name": {"type": "keyword"}, "tags": {"type": "wildcard"}}}`)
	for _, tc := range []struct{ query, want string }{
		{`foo where pid : 123`, `1:11: first argument of [:] must be [string], found value [pid] type [long]; consider using [==] instead`},
		{`foo where pid : "1*"`, `1:11: first argument of [:] must be [string], found value [pid] type [long]; consider using [==] instead`},
		{`foo where name : ("a", 2)`, `1:11: second argument of [:] must be [string], found value [2] type [integer]; consider using [==] instead`},
		{`foo where name in~ ("a", true)`, `1:11: second argument of [:] must be [string], found value [true] type [boolean]; consider using [==] instead`},
		{`foo where ip_addr : "10.*"`, `1:11: first argument of [:] must be [string], found value [ip_addr] type [ip]; consider using [==] instead`},
		{`foo where pid like "1*"`, `1:11: argument of [pid like "1*"] must be [string], found value [pid] type [long]`},
		{`foo where pid like~ ("1*", "2*")`, `1:11: argument of [pid like~ ("1*", "2*")] must be [string], found value [pid] type [long]`},
		{`foo where pid regex "1.*"`, `1:11: first argument of [pid regex "1.*"] must be [string], found value [pid] type [long]`},
	} {
		q, err := Parse(tc.query)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.query, err)
		}
		if _, err := Compile(q, WithMapping(m)); err == nil || err.Error() != tc.want {
			t.Errorf("Compile(%q) error = %v\nwant %s", tc.query, err, tc.want)
		}
	}
	for _, ok := range []string{`foo where name : "A*"`, `foo where tags like "a*"`, `foo where name regex~ "a.*"`,
		`foo where name in~ ("a", "b")`, `foo where pid == 123`, `foo where name : null`} {
		q, err := Parse(ok)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Compile(q, WithMapping(m)); err != nil {
			t.Errorf("Compile(%q): %v", ok, err)
		}
	}
}

// TestMismatchedLiteralTypes: Elasticsearch accepts a literal of any type
// against any field (x-pack/plugin/eql/src/test/java/org/elasticsearch/
// xpack/eql/analysis/VerifierTests.java testQueryOk "Mismatched type,
// still ok": serial_event_id == "abcdef"), and the pushed-down term or
// range query converts the literal to the field's type: a keyword field
// compares the number's string form (so Elastic's rules'
// file.Ext.windows.zone_identifier > 1, a keyword in Defend's templates, is
// a string range: "3" and "10" are above "1"), a long field parses a
// numeric string.
func TestMismatchedLiteralTypes(t *testing.T) {
	m := mustMapping(t, `{"properties": {"@timestamp": {"type": "date"}, "event": {"properties": {"category": {"type": "keyword"}}},
	  "pid": {"type": "long"}, "zone": {"type": "keyword"}}}`)
	stream := []ecs.Document{
		ev(1, "2026-01-01T00:00:01Z", "zone", "3", "pid", 123),
		ev(2, "2026-01-01T00:00:02Z", "zone", "0", "pid", 7),
		ev(3, "2026-01-01T00:00:03Z", "zone", "10", "pid", 1234),
	}
	for _, tc := range []struct {
		query string
		want  []int
	}{
		{`process where zone > 1`, []int{1, 3}},
		{`process where zone == 3`, []int{1}},
		{`process where zone >= 1.5`, []int{1, 3}}, // "10" sorts after "1.5" ("0" > ".")
		{`process where pid == "123"`, []int{1}},
		{`process where pid < "100"`, []int{2}},
		{`process where pid == "abcdef"`, nil},
	} {
		resp, err := Search(context.Background(), Request{Query: tc.query}, docs(stream...), WithMapping(m))
		if err != nil {
			t.Fatalf("Search(%q): %v", tc.query, err)
		}
		if got := selected(t, resp); !slices.Equal(got, tc.want) {
			t.Errorf("Search(%q) = %v, want %v", tc.query, got, tc.want)
		}
	}
	if got := javaDouble(1e20); got != "1.0E20" {
		t.Errorf("javaDouble(1e20) = %q, want Double.toString's 1.0E20", got)
	}
}

// TestMixedSet pins In.resolveType's type check
// (VerifierTests.testMixedSet, mapping-numeric.json).
func TestMixedSet(t *testing.T) {
	m := mustMapping(t, `{"properties": {"@timestamp": {"type": "date"}, "event": {"properties": {"category": {"type": "keyword"}}},
	  "long_field": {"type": "long"}, "name": {"type": "keyword"}}}`)
	for _, tc := range []struct{ query, want string }{
		{`foo where long_field in (1, "string")`, `1:11: 2nd argument of [long_field in (1, "string")] must be [long], found value ["string"] type [keyword]`},
		{`foo where name in ("a", "b", 3)`, `1:11: 3rd argument of [name in ("a", "b", 3)] must be [keyword], found value [3] type [integer]`},
	} {
		q, err := Parse(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Compile(q, WithMapping(m)); err == nil || err.Error() != tc.want {
			t.Errorf("Compile(%q) error = %v\nwant %s", tc.query, err, tc.want)
		}
	}
	for _, ok := range []string{`foo where long_field in (1, 2.5)`, `foo where name in ("a", null)`, `foo where ?other in (1, "a")`} {
		q, _ := Parse(ok)
		if _, err := Compile(q, WithMapping(m)); err != nil {
			t.Errorf("Compile(%q): %v", ok, err)
		}
	}
}

// TestMissingCategoryField: a mapping without the event category field
// makes a categorised query an error at 1:1, as Elasticsearch's analyzer
// gives it (VerifierTests.testMissingEventCategory); the request's
// event_category_override names the field looked for, and "any" needs none.
func TestMissingCategoryField(t *testing.T) {
	m := mustMapping(t, `{"properties": {"@timestamp": {"type": "date"}, "x": {"type": "keyword"}, "kind": {"type": "keyword"}}}`)
	stream := docs(ecs.Document{"@timestamp": "2026-01-01T00:00:00Z", "x": "a", "kind": "process"})
	_, err := Search(context.Background(), Request{Query: `foo where true`}, stream, WithMapping(m))
	if err == nil || err.Error() != "1:1: Unknown column [event.category]" {
		t.Errorf("foo where true: err = %v, want 1:1: Unknown column [event.category]", err)
	}
	for _, req := range []Request{{Query: `any where x == "a"`}, {Query: `process where x == "a"`, EventCategoryField: "kind"}} {
		resp, err := Search(context.Background(), req, stream, WithMapping(m))
		if err != nil || resp.Hits.Total.Value != 1 {
			t.Errorf("%q (category field %q): %v, want 1 hit", req.Query, req.EventCategoryField, err)
		}
	}
}

// TestPartialMapping: a partial mapping types the fields it lists and reads
// the others untyped, as a search without a mapping does, instead of
// refusing them as unknown columns; merged with a complete one it stays
// partial.
func TestPartialMapping(t *testing.T) {
	doc := ecs.Document{"@timestamp": "2026-01-01T00:00:00Z", "event": map[string]any{"category": "network"},
		"destination": map[string]any{"port": "25"}, "s": "x"}
	m := mustMapping(t, `{"properties": {"@timestamp": {"type": "date"}, "destination": {"properties": {"port": {"type": "long"}}}}}`).Partial()
	for q, want := range map[string]int{
		`network where destination.port == 25`: 1, // typed: the string "25" is the long 25
		`network where destination.port > 100`: 0,
		`network where s == "x"`:               1, // unlisted: read as it is
		`network where nowhere.field == "x"`:   0, // unlisted and absent: null, no error
		`network where nowhere.field != "x"`:   1, // must_not of a term: matches where the field is absent
	} {
		for _, opt := range []Option{WithMapping(m), WithMapping(Merge(mustMapping(t, `{"properties": {"other": {"type": "keyword"}}}`), m))} {
			resp, err := Search(context.Background(), Request{Query: q}, docs(doc), opt)
			if err != nil {
				t.Errorf("%s: %v", q, err)
				continue
			}
			if got := len(resp.Hits.Events); got != want {
				t.Errorf("%s: %d hits, want %d", q, got, want)
			}
		}
	}
	// The same mapping, complete: the unlisted field is an unknown column.
	full := mustMapping(t, `{"properties": {"@timestamp": {"type": "date"}, "destination": {"properties": {"port": {"type": "long"}}}}}`)
	if _, err := Search(context.Background(), Request{Query: `network where nowhere.field == "x"`}, docs(doc), WithMapping(full)); err == nil || !strings.Contains(err.Error(), "Unknown column [nowhere.field]") {
		t.Errorf("complete mapping: %v, want Unknown column [nowhere.field]", err)
	}
}
