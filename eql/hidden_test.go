package eql

import (
	"context"
	"slices"
	"testing"

	"github.com/purpleharness/purpleharness/ecs"
)

// TestHiddenChannel pins what EqlBase.g4 (x-pack/plugin/eql/src/main/antlr)
// puts on ANTLR's hidden channel, and the tokens it keeps whole: WS ([ \r\n\t]+), LINE_COMMENT and the
// nesting BRACKETED_COMMENT ('/*' (BRACKETED_COMMENT|.)*? '*/'). Tokens may
// be separated by any of them, so a function name and its "(" may be too.
func TestHiddenChannel(t *testing.T) {
	events := []ecs.Document{
		ev(1, "2026-01-01T00:00:01Z", "event.category", "process", "user.id", "AROA:i-0abc", "process.name", "nc"),
		ev(2, "2026-01-01T00:00:02Z", "event.category", "process", "user.id", "alice", "process.name", "sh"),
	}
	tests := []struct {
		name  string
		query string
		want  []int
	}{
		{"space before (", `process where stringContains (user.id, ":i-")`, []int{1}},
		{"newline and tab before (", "process where stringContains\n\t(user.id, \":i-\")", []int{1}},
		{"comment before (", `process where stringContains /* c */ (user.id, ":i-")`, []int{1}},
		{"line comment before (", "process where stringContains // c\n (user.id, \":i-\")", []int{1}},
		{"insensitive function and space", `process where startsWith~ (process.name, "S")`, []int{2}},
		{"nested comment", `process where /* a /* b */ c */ process.name == "sh"`, []int{2}},
		{"unbalanced inner opener", `process where /* a /* b */ process.name == "sh"`, []int{2}},
		{"comments between every token", `process/**/where/**/process.name/**/==/**/"nc"`, []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := Search(context.Background(), Request{Query: tc.query}, docs(events...))
			if err != nil {
				t.Fatalf("Search(%q) error: %v", tc.query, err)
			}
			if got := selected(t, resp); !slices.Equal(got, tc.want) {
				t.Errorf("Search(%q) = events %v, want %v", tc.query, got, tc.want)
			}
		})
	}
	// An unclosed "/*" is no comment: "/" and "*" stay operators.
	if _, err := Parse(`process where true /* open`); err == nil {
		t.Errorf("Parse(unclosed comment) = nil error, want a syntax error")
	}
	// What is one token admits nothing in between: "![" is
	// MISSING_EVENT_OPEN, "!=" is NEQ, and "!" alone is no token.
	if _, err := Parse("sequence with maxspan=1h [a where true] ![b where true] [c where true]"); err != nil {
		t.Errorf("Parse(![) error = %v", err)
	}
	for q, want := range map[string]string{
		"sequence with maxspan=1h [a where true] ! [b where true] [c where true]": "1:41: token recognition error at: '! '",
		"process where x ! = 1":  "1:17: token recognition error at: '! '",
		"process where x !\n= 1": `1:17: token recognition error at: '!\n'`,
		"process where x !":      "1:17: token recognition error at: '!'",
	} {
		if _, err := Parse(q); err == nil || err.Error() != want {
			t.Errorf("Parse(%q) error = %v, want %s", q, err, want)
		}
	}
	if _, err := Parse("process where x [0] == 1"); err == nil || err.Error() != "1:17: Array indexes are not supported" {
		t.Errorf("Parse(index after space) error = %v, want Array indexes are not supported", err)
	}
}
