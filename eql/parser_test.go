package eql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/ecs"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		query string
		want  string
	}{
		{"sequence [process where true]", "1:1: A sequence requires a minimum of 2 queries, found [1]"},
		{"sample [process where true]", "1:1: A sample requires a minimum of 2 queries, found [1]"},
		{"process where name == 'x'", "1:23: Use double quotes [\"] to define string literals, not single quotes [']"},
		{"process where name = \"x\"", "1:20: Use == instead of = for equality comparisons"},
		{"process where name == ?\"x\"", "1:23: Use triple double quotes [\"\"\"] to define unescaped string literals, not [?\"]"},
		{"process where name == \"\\u{1}\"", "1:24: Unicode sequence should use [2-8] hex digits, [\\u{1}] has [1]"},
		{"process where name == \"\\u{D800}\"", "1:24: Invalid unicode character code, [D800] is a surrogate code"},
		{"process where foo(name)", "1:15: Unknown function [foo]"},
		{"process where add~(1, 2) == 3", "1:15: Function [add] does not support case-insensitive (~) matching"},
		{"process where length(a, b) > 1", "1:15: function [length] expects 1 arguments, found [2]"},
		{"process where true | sort a", "1:20: Pipe [sort] is not supported"},
		{"process where true | haed 2", "1:22: Unrecognized pipe [haed], did you mean [head]?"},
		{"process where true | head", "1:20: Pipe [head] expects exactly one argument but found [0]"},
		{"process where true | tail -1", "1:27: Pipe [tail] expects a positive integer but found [-1]"},
		{"process where true | head 1.5", "1:27: Pipe [head] expects a positive integer but found [1.5]"},
		{"sequence with maxspan=0s [a where true] [b where true]", "1:23: A positive maxspan value is required; found [0]"},
		{"sequence with maxspan=1.5h [a where true] [b where true]", "1:23: Decimal time interval [1.5] not supported; please use an positive integer"},
		{"sequence with maxspan=10 [a where true] [b where true]", "1:23: No time unit specified, did you mean [s] as in [10s]?"},
		{"sequence with maxspan=10w [a where true] [b where true]", "1:25: Unrecognized time unit [w] in [10w], please specify one of [ms, s, m, h, d]"},
		{"sequence with maxspan=1h by a [x where true] [y where true]", "1:26: Please specify sequence [by] before [with] not after"},
		{"sequence [a where true] with runs=0 [b where true]", "1:35: A positive runs value greater than 0 is required; found [0]"},
		{"sequence [a where true] with runs=101", "1:35: A query cannot be repeated more than 100 times; found [101]"},
		{"sequence [a where true] with repeat=2", "1:30: Unrecognized option [repeat], expecting [runs]"},
		{"sequence [a where true] by x [b where true]", "1:30: Inconsistent number of join keys specified; expected [1] but found [0]"},
		{"sequence [a where true] [b where true] by x, y", "1:40: Inconsistent number of join keys specified; expected [0] but found [2]"},
		{"sequence ![a where true] [b where true]", "1:10: [maxspan] is required for a missing event query placed at the beginning of the sequence"},
		{"join [a where true] [b where true]", "1:1: Join is not supported"},
		{"process where descendant of [a where true]", "1:15: Relationships are not supported"},
		{"process where x == \"abc", "1:20: token recognition error at: '\"abc'"},
		{"process where x == 1 ==  2", "1:22: extraneous input '==' expecting {<EOF>, 'and', 'or', ']'}"},
		{"process where", "1:14: mismatched input '<EOF>' expecting an expression"},
		{"process where x[0] == 1", "1:16: Array indexes are not supported"},
		{"process\nwhere x ==\n  ", "3:3: mismatched input '<EOF>' expecting an expression"},
		{"process where x : y", "1:19: Expected a constant, found [y]"},
		{"process where x regex \"[\"", "1:25: invalid regular expression [[]: unexpected end-of-string"},
		{"process where x regex \"\"\"a[b-a]\"\"\"", "1:28: invalid regular expression [a[b-a]]: invalid range: from (98) cannot be > to (97)"},
		{"process where x regex \"\"\"a\\tb\"\"\"", "1:27: invalid regular expression [a\\tb]: invalid character class \\t"},
		{"process where x regex \"a\\\\tb\"", "1:23: invalid regular expression [a\\tb]: invalid character class \\t"},
	}
	if q, err := Parse("sequence with maxspan = 5 m [a where true] [b where true]"); err != nil || q.MaxSpanText != "5m" {
		t.Errorf("Parse(maxspan with spaces) = %v, %v", q, err)
	}
	for _, tc := range tests {
		_, err := Parse(tc.query)
		if err == nil {
			t.Errorf("Parse(%q) = nil error, want %q", tc.query, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Parse(%q) error\n got %q\nwant %q", tc.query, err.Error(), tc.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	m, err := ParseMapping([]byte(`{"properties": {"process": {"properties": {"name": {"type": "keyword"}, "pid": {"type": "long"}}},
		"event": {"properties": {"category": {"type": "alias", "path": "event_type"}}}, "event_type": {"type": "keyword"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		query string
		want  string
	}{
		{"process where proces.name == \"x\"", "1:15: Unknown column [proces.name], did you mean [process.name]?"},
		{"process where process.name == process.pid", "1:15: Comparisons against fields are not (currently) supported; offender [process.pid] in [process.name == process.pid]"},
		{"process where process == 1", "1:15: Cannot use field [process] type [object] only its subfields"},
		{"sequence by nope [a where true] [b where true]", "1:13: Unknown column [nope]"},
		{"process where ?nope == null and event.category == \"process\"", ""},
		{"process where length(process.pid) > 1", "1:22: first argument of [length(process.pid)] must be [string], found value [process.pid] type [long]"},
		{"process where add(process.name, 1) > 1", "1:19: first argument of [add(process.name, 1)] must be [numeric], found value [process.name] type [keyword]"},
		{"process where substring(process.name, \"1\") == \"x\"", "1:39: second argument of [substring(process.name, \"1\")] must be [numeric], found value [\"1\"] type [keyword]"},
		{"process where cidrMatch(process.name, \"10.0.0.0/8\")", "1:25: first argument of [cidrMatch(process.name, \"10.0.0.0/8\")] must be [ip], found value [process.name] type [keyword]"},
		{"process where startsWith~(process.name, \"x\") and length(concat(process.pid)) > 0", ""},
	}
	for _, tc := range tests {
		q, err := Parse(tc.query)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.query, err)
		}
		_, err = Compile(q, WithMapping(m))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("Compile(%q) error\n got %q\nwant %q", tc.query, got, tc.want)
		}
	}
}

func TestVerifyCollectsAll(t *testing.T) {
	m, err := ParseMapping([]byte(`{"properties": {"process": {"properties": {"name": {"type": "keyword"}, "pid": {"type": "long"}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	q, err := Parse(`sequence by proces.name
  [process where nme == "x" and length(process.pid) > 1] with runs=2
  [process where process.name == process.pid]`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range Verify(q, WithMapping(m)) {
		got = append(got, e.Error())
	}
	want := []string{
		"1:13: Unknown column [proces.name], did you mean [process.name]?",
		"2:18: Unknown column [nme]",
		"2:40: first argument of [length(process.pid)] must be [string], found value [process.pid] type [long]",
		"3:18: Comparisons against fields are not (currently) supported; offender [process.pid] in [process.name == process.pid]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Verify =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if errs := Verify(q); len(errs) != 1 {
		t.Errorf("Verify without mapping = %v, want only the field-to-field comparison", errs)
	}
	if _, err := Compile(q, WithMapping(m)); err == nil || err.Error() != want[0] {
		t.Errorf("Compile error = %v, want the first problem", err)
	}
}

func TestErrorCaret(t *testing.T) {
	_, err := Parse("sequence by host.name\n  [network where x == 'y']\n  [network where true]")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not *Error", err)
	}
	want := "2:23: Use double quotes [\"] to define string literals, not single quotes [']\n  [network where x == 'y']\n                      ^"
	if got := e.Caret(); got != want {
		t.Errorf("Caret()\n got %q\nwant %q", got, want)
	}
}

func TestLimits(t *testing.T) {
	deep := "process where " + strings.Repeat("(", MaxDepth+5) + "true" + strings.Repeat(")", MaxDepth+5)
	if _, err := Parse(deep); err == nil || !strings.Contains(err.Error(), "nesting exceeds the limit") {
		t.Errorf("Parse(deep) error = %v, want nesting limit", err)
	}
	nots := "process where " + strings.Repeat("not ", MaxDepth+5) + "true"
	if _, err := Parse(nots); err == nil || !strings.Contains(err.Error(), "nesting exceeds the limit") {
		t.Errorf("Parse(not chain) error = %v, want nesting limit", err)
	}
	long := "process where x in (" + strings.Repeat("1, ", MaxQueryLength/3) + "1)"
	if _, err := Parse(long); err == nil || !strings.Contains(err.Error(), "the limit is") {
		t.Errorf("Parse(long) error = %v, want length limit", err)
	}
}

// FuzzParse: no panics; every error is an *Error whose position lies
// inside the input (an offset at most len(query), a line:col that points
// at that offset); a successful parse compiles.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		mailRule,
		`process where process_name : "*.exe" and not (pid in (1, 2)) | head 3`,
		`sequence by a with maxspan=5s [x where y like~ "a?b"] by c ![z where true] [w where length(q) > 2] until [u where true]`,
		`sample by h [a where ?f == null] [b where cidrMatch(ip, "10.0.0.0/8")]`,
		`any where """raw\string""" == x and "\u{1F600}" != y`,
		"process where `quoted field` regex~ \".*\"",
		`process where x regex """[_\-\.]~(a|b)&<1-10>@#"\q"""`,
		`process where substring(x, 1) regex~ ("a.b", "[^a-c\\d]x{2,3}?")`,
		`file where substring(file_name, -4) : ".exe" or between~(a, "b", "c", true) == "d"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		q, err := Parse(query)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) error %T is not *Error", query, err)
			}
			if e.Offset < 0 || e.Offset > len(query) {
				t.Fatalf("Parse(%q) error offset %d outside input of %d bytes: %v", query, e.Offset, len(query), e)
			}
			if e.Line < 1 || e.Col < 1 {
				t.Fatalf("Parse(%q) error position %d:%d", query, e.Line, e.Col)
			}
			if e.Offset <= len(query) {
				line := 1 + strings.Count(query[:e.Offset], "\n")
				col := e.Offset - (strings.LastIndexByte(query[:e.Offset], '\n') + 1) + 1
				if line != e.Line || col != e.Col {
					t.Fatalf("Parse(%q) error at %d:%d but offset %d is %d:%d", query, e.Line, e.Col, e.Offset, line, col)
				}
			}
			_ = e.Caret()
			return
		}
		if _, err := Compile(q); err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Offset > len(query) {
				t.Fatalf("Compile(%q) error %v", query, err)
			}
		}
		for _, e := range Verify(q) {
			if e.Offset < 0 || e.Offset > len(query) || e.Line < 1 || e.Col < 1 {
				t.Fatalf("Verify(%q) problem outside the input: %v", query, e)
			}
		}
		for _, st := range q.Stages() {
			for _, c := range st.Conds {
				if c.Pos.Offset < 0 || c.Pos.Offset+len(c.Text) > len(query) {
					t.Fatalf("cond %q at %v outside input", c.Text, c.Pos)
				}
			}
		}
	})
}

// FuzzSearch runs every query that parses over a few events: evaluation
// must not panic, a response holds either events or sequences, and it is
// the response of the search holding every event with one matcher
// (HoldAll): no prefilter, no parts.
func FuzzSearch(f *testing.F) {
	for _, s := range []string{
		mailRule,
		`process where substring(process.name, -100, 100) : "*" and 9223372036854775807 + 1 > 0`,
		`any where divide(-9223372036854775808, -1) == 1 or modulo(1, 0) == 0`,
		`sequence by user with maxspan=1ms [a where true] ![b where true] [a where true] until [c where true]`,
		`sample by user [a where true] [b where ?nope == null]`,
		`sequence by user [a where true] [b where true]`,
		`sequence by user with maxspan=2s [any where true] [b where process.name != null] until [c where true] | head 1`,
		`any where between(process.name, "", "", true) == "" and indexOf(process.name, "", 99) == null`,
		`any where number("0x", 16) == null and number("1e400") > 0 and cidrMatch(ip, "::/0", "bad")`,
	} {
		f.Add(s)
	}
	stream := []ecs.Document{
		ev(1, "2026-01-01T00:00:01Z", "event.category", "a", "user", "u1", "process.name", "nc", "ip", "10.0.0.1"),
		ev(2, "2026-01-01T00:00:02Z", "event.category", "b", "user", []any{"u1", nil, 3}, "process.name", []any{"x"}),
		ev(3, "2026-01-01T00:00:02Z", "event.category", "c", "process", map[string]any{"name": 7}),
	}
	// single-valued keys, so that sequences by user run in parts
	parted := []ecs.Document{
		ev(1, "2026-01-01T00:00:01Z", "event.category", "a", "user", "u1", "process.name", "nc"),
		ev(2, "2026-01-01T00:00:03Z", "event.category", "b", "user", "u2", "process.name", "curl"),
		ev(3, "2026-01-01T00:00:02Z", "event.category", "a", "user", "u2", "process.name", "nc"),
		ev(4, "2026-01-01T00:00:02Z", "event.category", "b", "user", "u1"),
		ev(5, "2026-01-01T00:00:04Z", "event.category", "c", "user", "u3", "process.name", "nc"),
		ev(6, "2026-01-01T00:00:05Z", "event.category", "b", "user", "u3", "process.name", "nc"),
		ev(7, "2026-01-01T00:00:05Z", "event.category", "a", "process.name", "nc"),
	}
	f.Fuzz(func(t *testing.T, query string) {
		if _, err := Parse(query); err != nil {
			return
		}
		for _, evs := range [][]ecs.Document{stream, parted} {
			resp, err := Search(context.Background(), Request{Query: query}, docs(evs...))
			if err != nil {
				return
			}
			if len(resp.Hits.Events) > 0 && len(resp.Hits.Sequences) > 0 {
				t.Fatalf("Search(%q) returned both events and sequences", query)
			}
			if resp.Hits.Total.Value != len(resp.Hits.Events)+len(resp.Hits.Sequences) {
				t.Fatalf("Search(%q) total %d for %d hits", query, resp.Hits.Total.Value, len(resp.Hits.Events)+len(resp.Hits.Sequences))
			}
			ref, err := Search(context.Background(), Request{Query: query}, docs(evs...), HoldAll())
			if err != nil {
				t.Fatalf("Search(%q) answered, holding every event: %v", query, err)
			}
			resp.Took, ref.Took = 0, 0
			got, _ := json.Marshal(resp)
			want, _ := json.Marshal(ref)
			if !bytes.Equal(got, want) {
				t.Fatalf("Search(%q):\n%s\nholding every event with one matcher:\n%s", query, got, want)
			}
		}
	})
}
