package eql

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
)

// Table tests for semantics the Elasticsearch corpus does not pin down.
// Each event carries an "n" field; the tests compare the selected n's.

func ev(n int, ts string, kv ...any) ecs.Document {
	d := ecs.Document{"n": n, "@timestamp": ts, "event": map[string]any{"category": "process"}}
	for i := 0; i+1 < len(kv); i += 2 {
		d.Set(kv[i].(string), kv[i+1])
	}
	return d
}

func selected(t *testing.T, resp *Response) []int {
	t.Helper()
	var out []int
	add := func(h Hit) {
		if h.Missing {
			out = append(out, -1)
			return
		}
		v, _ := h.Source.Lookup("n")
		out = append(out, v.(int))
	}
	for _, h := range resp.Hits.Events {
		add(h)
	}
	for _, s := range resp.Hits.Sequences {
		for _, h := range s.Events {
			add(h)
		}
	}
	return out
}

var semanticEvents = []ecs.Document{
	ev(1, "2026-01-01T00:00:01Z", "process.name", "Thunderbird.EXE", "process.pid", 10, "tags", []any{"a", "b"}),
	ev(2, "2026-01-01T00:00:02Z", "process.name", "nc", "process.pid", 20, "tags", "c"),
	ev(3, "2026-01-01T00:00:03Z", "process.pid", 30),
	ev(4, "2026-01-01T00:00:04Z", "process.name", "thunder*", "process.pid", 40, "process.args", []any{"-e", "/bin/sh"}),
	{"n": 5, "@timestamp": "2026-01-01T00:00:05Z", "event.category": "process", "process.name": "flat.exe"},
}

func TestEventSemantics(t *testing.T) {
	tests := []struct {
		name, query string
		want        []int
	}{
		{"== is case-sensitive", `process where process.name == "thunderbird.exe"`, nil},
		{": is case-insensitive", `process where process.name : "thunderbird.exe"`, []int{1}},
		{": expands wildcards", `process where process.name : "thunder*"`, []int{1, 4}},
		{"like is case-sensitive", `process where process.name like "thunder*"`, []int{4}},
		{"like~ is not", `process where process.name like~ "THUNDER*"`, []int{1, 4}},
		{"in~ does not expand wildcards", `process where process.name in~ ("thunder*")`, []int{4}},
		{"in is case-sensitive", `process where process.name in ("thunderbird.exe", "nc")`, []int{2}},
		{"not in~ selects events without the field", `process where not process.name in~ ("thunderbird.exe", "nc")`, []int{3, 4, 5}},
		{"not in~ infix form", `process where process.name not in~ ("thunderbird.exe", "nc")`, []int{3, 4, 5}},
		{"!= selects events without the field", `process where process.name != "nc"`, []int{1, 3, 4, 5}},
		{"== null tests absence", `process where process.name == null`, []int{3}},
		{"!= null tests presence", `process where process.name != null`, []int{1, 2, 4, 5}},
		{"functions propagate null", `process where length(process.name) != 2`, []int{1, 4, 5}},
		// Elasticsearch runs a function predicate as a script over each
		// value (a missing field is one null value) and a null result does
		// not match; "not" is must_not around it, so it selects events
		// without the field (x-pack/plugin/eql/src/test/resources/
		// querytranslator_tests.txt disjunctionOfFunctionAndNegatedFunction,
		// InternalEqlScriptUtils.multiValueDocValues).
		{"not over a function selects events without the field", `process where not (length(process.name) == 2)`, []int{1, 3, 4, 5}},
		{"not over a case-sensitive prefix", `process where not startsWith(process.name, "thunder")`, []int{1, 2, 3, 5}},
		// cidrMatch(...) == false is "not cidrMatch(...)", must_not terms
		// (querytranslator_tests.txt functionEqualsFalse)
		{"function == false is its negation", `process where cidrMatch(source.ip, "10.0.0.0/8") == false`, []int{1, 2, 3, 4, 5}},
		{"function != true is its negation", `process where startsWith(process.name, "n") != true`, []int{1, 3, 4, 5}},
		{"function == true is the function", `process where true == startsWith(process.name, "n")`, []int{2}},
		// a script sees every value of a multi-valued field
		{"function over each array value", `process where substring(tags, 0) == "b"`, []int{1}},
		{"function over combinations of values", `process where concat(tags, process.pid) == "b10"`, []int{1}},
		{"negated function over an array", `process where not (substring(tags, 0) == "b")`, []int{2, 3, 4, 5}},
		// Elasticsearch (since 7.15) keeps "not" as must_not and does not
		// rewrite not (x > 15) into x <= 15: events without x match
		// (querytranslator_tests.txt notFilter, notFieldsConjunction;
		// Optimizer.EqlBooleanSimplification disables the negation pushdown).
		{"not range selects events without the field", `process where not (process.pid > 15)`, []int{1, 5}},
		{"not of a conjunction is must_not of it", `process where not (process.pid > 15 and process.name == "nc")`, []int{1, 3, 4, 5}},
		{"not of a disjunction is no pair of ranges", `process where not (process.pid < 15 or process.pid > 35)`, []int{2, 3, 5}},
		{"array matches any value", `process where tags == "b"`, []int{1}},
		{"array != needs no value equal", `process where tags != "b"`, []int{2, 3, 4, 5}},
		{"array with in", `process where process.args in ("/bin/sh")`, []int{4}},
		{"flattened keys resolve", `process where process.name == "flat.exe"`, []int{5}},
		{"unknown escapes pass through to Lucene", `process where process.name regex "n\[?c"`, []int{2}},
		{"regex is anchored", `process where process.name regex "nc|flat"`, []int{2}},
		{"regex~ folds case", `process where process.name regex~ "thunderbird\\.exe"`, []int{1}},
		{"arithmetic", `process where process.pid * 2 + 1 == 41`, []int{2}},
		{"integer division", `process where process.pid / 4 == 7`, []int{3}},
		{"string functions", `process where startsWith~(process.name, "THUNDER") and endsWith(process.name, ".EXE")`, []int{1}},
		{"any category", `any where process.pid >= 30`, []int{3, 4}},
		{"category filter", `network where true`, nil},
		{"head pipe", `process where true | head 2`, []int{1, 2}},
		{"tail pipe", `process where true | tail 2`, []int{4, 5}},
		{"head then tail", `process where true | head 4 | tail 2`, []int{3, 4}},
		{"optional unknown field", `process where ?process.parent.name == null and process.pid == 10`, []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, opts := range [][]Option{nil, {Sorted()}} {
				resp, err := Search(context.Background(), Request{Query: tc.query}, docs(semanticEvents...), opts...)
				if err != nil {
					t.Fatalf("Search(%q): %v", tc.query, err)
				}
				if got := selected(t, resp); !slices.Equal(got, tc.want) {
					t.Errorf("Search(%q, %d options) = %v, want %v", tc.query, len(opts), got, tc.want)
				}
			}
		})
	}
}

func TestSizeAndResultPosition(t *testing.T) {
	tests := []struct {
		req  Request
		want []int
	}{
		{Request{Query: "process where true", Size: 2}, []int{4, 5}},
		{Request{Query: "process where true", Size: 2, ResultPosition: "head"}, []int{1, 2}},
		{Request{Query: "process where true | head 3", Size: 2}, []int{1, 2}},
		// the size limit applies first, in the first pipe's direction
		{Request{Query: "process where true | head 4 | tail 2", Size: 3}, []int{2, 3}},
		{Request{Query: "process where true | tail 4 | head 1", Size: 3}, []int{3}},
		{Request{Query: "process where true | tail 2", ResultPosition: "head"}, []int{4, 5}},
		{Request{Query: "process where true"}, []int{1, 2, 3, 4, 5}},
	}
	for _, tc := range tests {
		resp, err := Search(context.Background(), tc.req, docs(semanticEvents...))
		if err != nil {
			t.Fatal(err)
		}
		if got := selected(t, resp); !slices.Equal(got, tc.want) {
			t.Errorf("Search(%+v) = %v, want %v", tc.req, got, tc.want)
		}
	}
}

func TestSequenceSemantics(t *testing.T) {
	ts := func(s int) string { return "2026-01-01T00:00:" + string(rune('0'+s/10)) + string(rune('0'+s%10)) + "Z" }
	stream := []ecs.Document{
		ev(1, ts(1), "event.category", "a", "user", "u1"),
		ev(2, ts(2), "event.category", "a", "user", "u1"),
		ev(3, ts(3), "event.category", "b", "user", "u1"),
		ev(4, ts(4), "event.category", "a", "user", "u2"),
		ev(5, ts(5), "event.category", "stop", "user", "u2"),
		ev(6, ts(6), "event.category", "b", "user", "u2"),
		ev(7, ts(7), "event.category", "b"),
		ev(8, ts(8), "event.category", "a", "user", []any{"u3", "u4"}),
		ev(9, ts(9), "event.category", "b", "user", "u4"),
	}
	tests := []struct {
		name, query string
		want        []int
	}{
		{"latest pending sequence wins", `sequence by user [a where true] [b where true]`, []int{2, 3, 4, 6, 8, 9}},
		{"until drops the key's pending sequences", `sequence by user [a where true] [b where true] until [stop where true]`, []int{2, 3, 8, 9}},
		// an until hit that is also a stage hit discards the sequence it
		// starts (Ordinal.between includes both ends)
		{"until on a stage event", `sequence by user [a where true] [b where true] until [any where n == 2]`, []int{4, 6, 8, 9}},
		{"maxspan equal matches", `sequence by user with maxspan=2s [a where true] [b where true]`, []int{2, 3, 4, 6, 8, 9}},
		{"maxspan exceeded", `sequence by user with maxspan=1s [a where true] [b where true]`, []int{2, 3, 8, 9}},
		{"no keys", `sequence [a where true] [b where true]`, []int{2, 3, 4, 6, 8, 9}},
		{"missing event in the gap", `sequence by user with maxspan=10s [a where true] ![stop where true] [b where true]`, []int{2, -1, 3, 8, -1, 9}},
		// an a event both continues the pending (a) and starts a new one
		{"runs", `sequence [a where true] with runs=2 [b where true]`, []int{1, 2, 3, 2, 4, 6, 4, 8, 9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// the sorting path and the streaming path must agree
			for _, opts := range [][]Option{nil, {Sorted()}} {
				resp, err := Search(context.Background(), Request{Query: tc.query}, docs(stream...), opts...)
				if err != nil {
					t.Fatalf("Search(%q): %v", tc.query, err)
				}
				if got := selected(t, resp); !slices.Equal(got, tc.want) {
					t.Errorf("Search(%q, %d options) = %v, want %v", tc.query, len(opts), got, tc.want)
				}
			}
		})
	}
}

func TestSortedStreamRejectsDisorder(t *testing.T) {
	stream := []ecs.Document{ev(1, "2026-01-01T00:00:02Z"), ev(2, "2026-01-01T00:00:01Z")}
	_, err := Search(context.Background(), Request{Query: "process where true"}, docs(stream...), Sorted())
	if err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Errorf("Search(Sorted, disordered) error = %v, want out of order", err)
	}
	resp, err := Search(context.Background(), Request{Query: "process where true"}, docs(stream...))
	if err != nil {
		t.Fatal(err)
	}
	if got := selected(t, resp); !slices.Equal(got, []int{2, 1}) {
		t.Errorf("Search(unsorted) = %v, want [2 1]", got)
	}
}

func TestMappingAliasesAndTypes(t *testing.T) {
	m, err := ParseMapping([]byte(`# comment
{"mappings": {"properties": {
  "@timestamp": {"type": "date"},
  "ecat": {"type": "keyword"},
  "event": {"properties": {"category": {"type": "alias", "path": "ecat"}}},
  "port": {"type": "long"},
  "ver": {"type": "version"},
  "data_stream": {"properties": {"type": {"type": "constant_keyword", "value": "logs"}}}
}}}`))
	if err != nil {
		t.Fatal(err)
	}
	stream := []ecs.Document{
		{"n": 1, "@timestamp": 1000, "ecat": "process", "port": "25", "ver": "1.10.0"},
		{"n": 2, "@timestamp": 2000, "ecat": "process", "port": 110, "ver": "1.9.0"},
	}
	tests := []struct {
		query string
		want  []int
	}{
		{`process where port == 25`, []int{1}},
		{`process where ver > "1.9.5"`, []int{1}},
		{`process where @timestamp >= "1970-01-01T00:00:02Z"`, []int{2}},
		{`process where data_stream.type == "logs" and port == 25`, []int{1}},
	}
	for _, tc := range tests {
		resp, err := Search(context.Background(), Request{Query: tc.query}, docs(stream...), WithMapping(m))
		if err != nil {
			t.Fatalf("Search(%q): %v", tc.query, err)
		}
		if got := selected(t, resp); !slices.Equal(got, tc.want) {
			t.Errorf("Search(%q) = %v, want %v", tc.query, got, tc.want)
		}
	}
	q, err := Parse(`process where port == 25 and event.category == "process"`)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(q, WithMapping(m))
	if err != nil {
		t.Fatal(err)
	}
	// "25" in _source is the long 25 through the mapping, and the alias
	// resolves, as Search reads them
	for i, c := range p.Stages()[0].Conds {
		if got := c.Eval(stream[0]); got != True {
			t.Errorf("Program.Stages cond %d %q = %s, want true", i, c.Text, got)
		}
	}
	if got := p.Stages()[0].Eval(stream[0], ""); got != True {
		t.Errorf("Program.Stages stage Eval = %s, want true (event.category is an alias of ecat)", got)
	}
	if got := q.Stages()[0].Conds[0].Eval(stream[0]); got != False {
		t.Errorf("Query.Stages (no mapping) port == 25 on \"25\" = %s, want false", got)
	}
	_, err = Search(context.Background(), Request{Query: `process where prot == 25`}, docs(stream...), WithMapping(m))
	var e *Error
	if !errors.As(err, &e) || e.Msg != "Unknown column [prot], did you mean [port]?" {
		t.Errorf("unknown field error = %v", err)
	}
}

func TestHitIdentity(t *testing.T) {
	stream := []ecs.Document{{"_id": "abc", "@timestamp": 1, "event": map[string]any{"category": "process"}}, {"@timestamp": 2, "event": map[string]any{"category": "process"}}}
	resp, err := Search(context.Background(), Request{Query: "process where true"}, docs(stream...), WithIndex("logs"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range resp.Hits.Events {
		got = append(got, h.Index+"/"+h.ID)
	}
	if want := []string{"logs/abc", "logs/1"}; !slices.Equal(got, want) {
		t.Errorf("hits = %v, want %v", got, want)
	}
}

func TestRequestJSON(t *testing.T) {
	tests := []struct {
		req  Request
		want string
	}{
		{Request{Query: "any where true"}, `{"query":"any where true"}`},
		{Request{Query: "q", Size: NoHits, TiebreakerField: "event.sequence"}, `{"query":"q","tiebreaker_field":"event.sequence","size":0}`},
		{Request{Query: "q", Size: 5, ResultPosition: "head"}, `{"query":"q","size":5,"result_position":"head"}`},
	}
	for _, tc := range tests {
		got, err := json.Marshal(tc.req)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("json.Marshal(%+v) = %s, want %s", tc.req, got, tc.want)
		}
	}
}

func TestFastRFC3339(t *testing.T) {
	for _, s := range []string{
		"2026-11-26T10:00:00Z", "2026-11-26T10:00:00.1Z", "2026-11-26T10:00:00.123456789Z",
		"2026-11-26T10:00:00.1234567891Z", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z",
		"2000-02-29T12:00:00Z", "1600-03-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
		"2001-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-26T24:00:00Z", "2026-11-26T10:00:00.Z",
		"2026-11-26T10:00:00+01:00", "2026-11-26 10:00:00Z", "2026-1a-26T10:00:00Z",
	} {
		want, err := time.Parse(time.RFC3339Nano, s)
		got, ok := fastRFC3339(s)
		if err != nil {
			if ok {
				t.Errorf("fastRFC3339(%q) = %d, but time.Parse rejects it: %v", s, got, err)
			}
			continue
		}
		if ok && got != want.UnixNano() {
			t.Errorf("fastRFC3339(%q) = %d, want %d", s, got, want.UnixNano())
		}
		if all, ok := parseDateString(s); !ok || all != want.UnixNano() {
			t.Errorf("parseDateString(%q) = %d, %v, want %d", s, all, ok, want.UnixNano())
		}
	}
}

func TestSearchCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	endless := func(yield func(ecs.Document, error) bool) {
		for i := 0; ; i++ {
			if !yield(ev(i, "2026-01-01T00:00:01Z"), nil) {
				return
			}
		}
	}
	for _, opts := range [][]Option{nil, {Sorted()}} {
		_, err := Search(ctx, Request{Query: "process where false"}, endless, opts...)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Search(cancelled, %d options) error = %v, want context.Canceled", len(opts), err)
		}
	}
}

var update = flag.Bool("update", false, "rewrite golden files")

// TestResponseGolden pins the _eql/search response shape: an event query
// without hits, a sequence with join keys and a missing-event placeholder.
func TestResponseGolden(t *testing.T) {
	stream := []ecs.Document{
		{"@timestamp": "2026-01-01T00:00:01Z", "event": map[string]any{"category": "a"}, "user": "u1", "_id": "e1"},
		{"@timestamp": "2026-01-01T00:00:02Z", "event": map[string]any{"category": "b"}, "user": "u1", "_id": "e2"},
	}
	for _, tc := range []struct{ name, query string }{
		{"empty_events", `process where true`},
		{"sequence_missing", `sequence by user with maxspan=1m [a where true] ![c where true] [b where true]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := Search(context.Background(), Request{Query: tc.query}, docs(stream...), WithIndex("logs"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Took = 0
			got, err := json.MarshalIndent(resp, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.name+".golden.json")
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got)+"\n" != string(want) {
				t.Errorf("response for %q:\n%s\nwant (%s):\n%s", tc.query, got, path, want)
			}
		})
	}
}

func TestJoinKeysDoNotCollide(t *testing.T) {
	// ("a\x1fsb", "c") and ("a", "b\x1fsc") are different join keys even
	// though their values run together alike; Elasticsearch never joins
	// them. The second pair of streams takes the fan-out path.
	streams := map[string][]ecs.Document{
		"single-valued": {
			ev(1, "2026-01-01T00:00:01Z", "event.category", "a", "host.name", "a\x1fsb", "user.name", "c"),
			ev(2, "2026-01-01T00:00:02Z", "event.category", "b", "host.name", "a", "user.name", "b\x1fsc"),
		},
		"multi-valued": {
			ev(1, "2026-01-01T00:00:01Z", "event.category", "a", "host.name", "a\x1fsb", "user.name", []any{"c", "d"}),
			ev(2, "2026-01-01T00:00:02Z", "event.category", "b", "host.name", "a", "user.name", []any{"b\x1fsc", "e"}),
		},
	}
	queries := []string{
		`sequence by host.name, user.name [a where true] [b where true]`,
		`sample by host.name, user.name [a where true] [b where true]`,
	}
	for name, stream := range streams {
		for _, q := range queries {
			resp, err := Search(context.Background(), Request{Query: q}, docs(stream...))
			if err != nil {
				t.Fatalf("%s: Search(%q): %v", name, q, err)
			}
			if got := selected(t, resp); got != nil {
				t.Errorf("%s: Search(%q) = %v, want no match", name, q, got)
			}
		}
	}
	// Positive control: the same two events with equal join keys,
	// separator bytes included, do join (one sequence or sample of both);
	// without it, an engine that joined nothing would pass the above.
	same := docs(
		ev(1, "2026-01-01T00:00:01Z", "event.category", "a", "host.name", "a\x1fsb", "user.name", "c"),
		ev(2, "2026-01-01T00:00:02Z", "event.category", "b", "host.name", "a\x1fsb", "user.name", "c"),
	)
	for _, q := range queries {
		resp, err := Search(context.Background(), Request{Query: q}, same)
		if err != nil {
			t.Fatalf("equal keys: Search(%q): %v", q, err)
		}
		if got := selected(t, resp); !slices.Equal(got, []int{1, 2}) {
			t.Errorf("equal keys: Search(%q) = %v, want [1 2]", q, got)
		}
	}
}

func TestParseMappingErrors(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"syntax error after a comment", "# comment\n{\"properties\": {\n  \"a\": {\"type\": \"keyword\"},\n}}\n",
			"parse mapping: 4:1: invalid character '}' looking for beginning of object key string"},
		{"not an object", "\n  [1, 2]\n", "parse mapping: 2:3: not a mapping (want a JSON object, got array)"},
		{"truncated", `{"properties": {`, "parse mapping: 1:17: unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMapping([]byte(tt.data))
			if err == nil || err.Error() != tt.want {
				t.Errorf("ParseMapping(%q) error = %v\nwant %s", tt.data, err, tt.want)
			}
		})
	}
}

// TestRequestValidation pins the request errors Elasticsearch's
// EqlSearchRequest.validate gives, and that a valid fetch_size, which only
// pages Elasticsearch's sequence searches, never changes the answer.
func TestRequestValidation(t *testing.T) {
	bad := []struct {
		req  Request
		want string
	}{
		{Request{Query: "process where true", FetchSize: 1}, "fetch size must be greater than 1"},
		{Request{Query: "process where true", FetchSize: -5}, "fetch size must be greater than 1"},
		{Request{Query: "process where true", ResultPosition: "middle"}, "invalid result_position [middle], expecting [head] or [tail]"},
	}
	for _, tc := range bad {
		_, err := Search(context.Background(), tc.req, docs(semanticEvents...))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Search(%+v) error = %v, want %q", tc.req, err, tc.want)
		}
	}
	q := `sequence [process where process.pid < 25] [process where true]`
	var first []int
	for _, fs := range []int{0, 2, 3, 1000} {
		resp, err := Search(context.Background(), Request{Query: q, FetchSize: fs}, docs(semanticEvents...))
		if err != nil {
			t.Fatalf("Search(fetch_size %d): %v", fs, err)
		}
		got := selected(t, resp)
		if fs == 0 {
			if len(got) == 0 {
				t.Fatalf("Search(%q) found no sequence", q)
			}
			first = got
			continue
		}
		if !slices.Equal(got, first) {
			t.Errorf("fetch_size %d: %v, want %v as with the default", fs, got, first)
		}
	}
}

// TestArraysOfObjects: Elasticsearch indexes an array of objects as one
// object whose leaves hold every element's values ("How arrays of objects
// are flattened", the nested field type reference), so event.category of
// {"event": [{"category": "process"}]} is "process", and a condition or a
// join key on such a path sees all the values.
func TestArraysOfObjects(t *testing.T) {
	stream := []ecs.Document{
		{"n": 1, "@timestamp": "2026-01-01T00:00:01Z", "event": []any{map[string]any{"category": "process"}},
			"host": []any{map[string]any{"name": "h1"}}},
		{"n": 2, "@timestamp": "2026-01-01T00:00:02Z", "event": []any{map[string]any{"category": "network"}, map[string]any{"category": "process"}},
			"host": map[string]any{"name": "h1"}, "process": []any{map[string]any{"name": "nc"}, map[string]any{"name": "bash"}}},
		{"n": 3, "@timestamp": "2026-01-01T00:00:03Z", "event": map[string]any{"category": "network"}, "host": map[string]any{"name": "h2"}},
	}
	dyn := NewMapping()
	for _, d := range stream {
		dyn.AddDynamic(d)
	}
	tests := []struct {
		query string
		want  []int
	}{
		{`process where true`, []int{1, 2}},
		{`network where true`, []int{2, 3}},
		{`any where process.name == "bash"`, []int{2}},
		{`any where process.name != "bash"`, []int{1, 3}},
		{`sequence by host.name [process where true] [network where true]`, []int{1, 2}},
	}
	for _, tc := range tests {
		for _, m := range []*Mapping{nil, dyn} {
			resp, err := Search(context.Background(), Request{Query: tc.query}, docs(stream...), WithMapping(m))
			if err != nil {
				t.Fatalf("Search(%q): %v", tc.query, err)
			}
			if got := selected(t, resp); !slices.Equal(got, tc.want) {
				t.Errorf("Search(%q, mapping %v) = %v, want %v", tc.query, m != nil, got, tc.want)
			}
		}
	}
	// strings map as text with a keyword sub-field, through which the
	// category filter and the conditions compare
	for f, want := range map[string]string{"event.category": "text", "event.category.keyword": "keyword", "host.name": "text"} {
		if tn, _ := dyn.Type(f); tn != want {
			t.Errorf("dynamic type of %s = %q, want %s", f, tn, want)
		}
	}
}

// TestNegatedRangeInRuns: "not (destination.port < 1024)" is must_not of
// the range in Elasticsearch, so an event without destination.port counts
// towards "with runs=N" (querytranslator_tests.txt notFilter).
func TestNegatedRangeInRuns(t *testing.T) {
	net := func(n int, ts string, kv ...any) ecs.Document {
		d := ev(n, ts, kv...)
		d.Set("event.category", "network")
		d.Set("host.name", "h1")
		return d
	}
	stream := []ecs.Document{
		net(1, "2026-01-01T00:00:01Z", "destination.port", 25),
		net(2, "2026-01-01T00:00:02Z", "destination.port", 40000),
		net(3, "2026-01-01T00:00:03Z"), // no destination.port
		net(4, "2026-01-01T00:00:04Z", "destination.port", 443),
		net(5, "2026-01-01T00:00:05Z", "destination.port", 50000),
	}
	q := `sequence by host.name [network where not (destination.port < 1024)] with runs=2`
	resp, err := Search(context.Background(), Request{Query: q, ResultPosition: "head"}, docs(stream...))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := selected(t, resp), []int{2, 3, 3, 5}; !slices.Equal(got, want) {
		t.Errorf("Search(%q) = %v, want %v", q, got, want)
	}
}
