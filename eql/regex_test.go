package eql

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/ecs"
)

// TestRegexLucene pins regex / regex~ on a field to Elasticsearch's
// regexp query: QL's RegexQuery builds QueryBuilders.regexpQuery(field,
// pattern) with the default RegexpFlag.ALL and, for regex~,
// caseInsensitive(true) (x-pack/plugin/ql/.../querydsl/query/RegexQuery.java,
// server/.../index/query/RegexpQueryBuilder.java), which Lucene 9's
// RegExp.java parses. The patterns with [_\-\.] and \s are shapes from
// Elastic's detection-rules.
func TestRegexLucene(t *testing.T) {
	names := []string{"_x", "-x", ".x", "b", "-", "a b", "a\tb", "ab", "Cmd.EXE", "cmd.exe", "nc.exe", "07", "7"}
	var events []ecs.Document
	for i, n := range names {
		events = append(events, ev(i, "2026-01-01T00:00:01Z", "process.name", n))
	}
	tests := []struct {
		query string
		want  []int
	}{
		{`process where process.name regex """[_\-\.]x"""`, []int{0, 1, 2}},
		{`process where process.name regex """[a\-z]"""`, []int{4}},
		{`process where process.name regex """a\sb"""`, []int{5, 6}},
		{`process where process.name regex """a\Sb"""`, nil},
		{`process where process.name regex """\w\w"""`, []int{0, 7, 11}},
		{`process where process.name regex """.*\.exe&~(cmd\.exe)"""`, []int{10}},
		{`process where process.name regex~ """.*\.exe&~(cmd\.exe)"""`, []int{10}},
		{`process where process.name regex """~(.*\.exe)&[a-z].*"""`, []int{3, 5, 6, 7}},
		{`process where process.name regex """<01-10>"""`, []int{11}},
		{`process where process.name regex """<1-10>"""`, []int{11, 12}},
		{`process where process.name regex~ "cmd\\.exe"`, []int{8, 9}},
		{`process where process.name regex~ "[a-c]md\\.exe"`, []int{9}},
		{`process where process.name regex "@"`, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{`process where process.name regex "#|nc\\.exe"`, []int{10}},
	}
	for _, tc := range tests {
		for _, opts := range [][]Option{nil, {Sorted()}} {
			resp, err := Search(context.Background(), Request{Query: tc.query, Size: 100}, docs(events...), opts...)
			if err != nil {
				t.Fatalf("Search(%q): %v", tc.query, err)
			}
			if got := selected(t, resp); !slices.Equal(got, tc.want) {
				t.Errorf("Search(%q) = %v, want %v", tc.query, got, tc.want)
			}
		}
	}
}

// TestRegexComputed pins regex on a computed value. Elasticsearch cannot
// push it down: EQL's optimizer (ReplaceRegexMatch over QL's RLikePattern,
// a Lucene RegExp without case folding) turns a pattern matching every
// string into "x != null" and one matching a single string into an
// equality (InsensitiveEquals for regex~); the rest runs in a script as
// java.util.regex with Matcher.matches() (QL's RegexProcessor and
// InternalQlScriptUtils.regex).
func TestRegexComputed(t *testing.T) {
	names := []string{"a\nb", "axb", "a|b", `"a|b"`, "AXB"}
	var events []ecs.Document
	for i, n := range names {
		events = append(events, ev(i, "2026-01-01T00:00:01Z", "process.name", n))
	}
	tests := []struct {
		query string
		want  []int
	}{
		// Lucene's "." takes a newline; Java's does not.
		{`process where process.name regex "a.b"`, []int{0, 1, 2}},
		{`process where substring(process.name, 0) regex "a.b"`, []int{1, 2}},
		// Every string: x != null, even where Java's ".*" stops at "\n".
		{`process where substring(process.name, 0) regex ".*"`, []int{0, 1, 2, 3, 4}},
		// One string ("a|b" quoted, in Lucene's syntax): an equality.
		{`process where substring(process.name, 0) regex "\"a|b\""`, []int{2}},
		{`process where substring(process.name, 0) regex~ "axb"`, []int{1, 4}},
		// Java's CASE_INSENSITIVE for the rest.
		{`process where substring(process.name, 0) regex~ "a[x-y]b"`, []int{1, 4}},
	}
	for _, tc := range tests {
		resp, err := Search(context.Background(), Request{Query: tc.query, Size: 100}, docs(events...))
		if err != nil {
			t.Fatalf("Search(%q): %v", tc.query, err)
		}
		if got := selected(t, resp); !slices.Equal(got, tc.want) {
			t.Errorf("Search(%q) = %v, want %v", tc.query, got, tc.want)
		}
	}
	_, err := Parse(`process where substring(process.name, 0) regex """^a.*"""`)
	want := `1:51: invalid regular expression [^a.*]: regex on a computed value runs java.util.regex in Elasticsearch: java.util.regex anchor '^' at 0 is not supported by the embedded engine`
	if err == nil || err.Error() != want {
		t.Errorf("Parse(anchor on a computed value) error = %v, want %s", err, want)
	}
}

// TestRegexLength: RegexpQueryBuilder refuses a regexp query longer than
// index.max_regex_length (1000); a script has no such limit.
func TestRegexLength(t *testing.T) {
	long := strings.Repeat("a", 1001)
	_, err := Parse(`process where process.name regex "` + long + `"`)
	want := "1:34: invalid regular expression [" + strings.Repeat("a", 40) + "...]: The length of regex [1001] used in the Regexp Query request has exceeded the allowed maximum of [1000]. This maximum can be set by changing the [index.max_regex_length] index level setting."
	if err == nil || err.Error() != want {
		t.Errorf("Parse(1001-character regex on a field) error = %v, want %s", err, want)
	}
	if _, err := Parse(`process where substring(process.name, 0) regex "` + long + `"`); err != nil {
		t.Errorf("Parse(1001-character regex on a computed value) error = %v, want none", err)
	}
}

// TestRegexComputedNull: a pattern that matches every string becomes
// IsNotNull (ReplaceRegexMatch), false for a null value; the other shapes
// give null there, and a script predicate that is null does not match
// (nullSafeFilter), so the negation selects the event without the field
// in every case, as on a field.
func TestRegexComputedNull(t *testing.T) {
	events := []ecs.Document{
		ev(0, "2026-01-01T00:00:01Z", "process.name", "nc"),
		ev(1, "2026-01-01T00:00:02Z"),
	}
	for _, query := range []string{
		`process where not (substring(process.name, 0) regex ".*")`,
		`process where not (substring(process.name, 0) regex "nc")`,
		`process where not (substring(process.name, 0) regex "n.")`,
		`process where not (substring(process.name, 0) regex (".*", "nc"))`,
		`process where not (process.name regex ".*")`,
	} {
		resp, err := Search(context.Background(), Request{Query: query}, docs(events...))
		if err != nil {
			t.Fatalf("Search(%q): %v", query, err)
		}
		if got := selected(t, resp); !slices.Equal(got, []int{1}) {
			t.Errorf("Search(%q) = %v, want [1]", query, got)
		}
	}
}
