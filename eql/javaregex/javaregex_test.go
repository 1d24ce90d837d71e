package javaregex

import (
	"errors"
	"testing"
)

// Expected answers follow java.util.regex.Pattern's specification (the
// Pattern class documentation: "Line terminators", "Predefined character
// classes", CASE_INSENSITIVE) and Matcher.matches(), which QL's
// RegexProcessor calls (x-pack/plugin/ql/.../predicate/regex/RegexProcessor.java).
func TestMatch(t *testing.T) {
	tests := []struct {
		pattern string
		fold    bool
		yes     []string
		no      []string
	}{
		{`abc`, false, []string{"abc"}, []string{"xabc", "ab", "ABC"}},
		{`a.c`, false, []string{"abc", "a😀c", "a\tc"}, []string{"a\nc", "a\rc", "a\u0085c", "a\u2028c", "a\u2029c"}},
		{`\s`, false, []string{" ", "\t", "\n", "\x0B", "\f", "\r"}, []string{"\u00a0", "s"}},
		{`\S`, false, []string{"a"}, []string{"\x0B"}},
		{`\d+`, false, []string{"123"}, []string{"١"}},
		{`\w\W`, false, []string{"a-", "_é"}, []string{"é-", "ab"}},
		{`a*?`, false, []string{"", "aaa"}, []string{"b"}},
		{`(?:ab)+|c`, false, []string{"abab", "c"}, []string{"abc"}},
		{`(a|)b`, false, []string{"ab", "b"}, nil},
		{`a{2,3}b{2}c{1,}`, false, []string{"aabbc", "aaabbcc"}, []string{"abbc"}},
		{`x[a-]`, false, []string{"x-", "xa"}, []string{"xb"}},
		{`[-a]`, false, []string{"-", "a"}, nil},
		{`[^a-c\d]`, false, []string{"d", "\n"}, []string{"b", "5"}},
		{`[\s.]`, false, []string{" ", "."}, []string{"a"}},
		{`\.\\\t\*`, false, []string{".\\\t*"}, nil},
		{`a}]#`, false, []string{"a}]#"}, nil},
		{``, false, []string{""}, []string{"a"}},
		// CASE_INSENSITIVE without UNICODE_CASE: ASCII only, ranges too.
		{`abc`, true, []string{"ABC", "aBc"}, []string{"abd"}},
		{`[a-c]x`, true, []string{"BX", "bx"}, []string{"dx"}},
		{`[^a]`, true, []string{"b"}, []string{"a", "A"}},
		{`é`, true, []string{"é"}, []string{"É"}},
		{`k`, true, []string{"K"}, []string{"\u212a"}},
	}
	for _, tc := range tests {
		re, err := Compile(tc.pattern, tc.fold)
		if err != nil {
			t.Errorf("Compile(%q, %v) error: %v", tc.pattern, tc.fold, err)
			continue
		}
		for _, s := range tc.yes {
			if !re.MatchString(s) {
				t.Errorf("Compile(%q, %v).MatchString(%q) = false, want true", tc.pattern, tc.fold, s)
			}
		}
		for _, s := range tc.no {
			if re.MatchString(s) {
				t.Errorf("Compile(%q, %v).MatchString(%q) = true, want false", tc.pattern, tc.fold, s)
			}
		}
	}
}

// TestRefused: Java errors, and constructs outside the translated subset,
// are errors that point into the pattern.
func TestRefused(t *testing.T) {
	tests := []struct {
		pattern string
		offset  int
	}{
		{`^a`, 0}, {`a$`, 1}, {`(?i)a`, 0}, {`(?=a)a`, 0}, {`a*+`, 2}, {`\bx`, 0}, {`\p{L}`, 0},
		{`[a&&b]`, 2}, {`[[a]]`, 1}, {`(a)\1`, 3}, {`\Qa\E`, 0}, {`\x41`, 0}, {`\u0041`, 0},
		{`a)`, 1}, {`(a`, 0}, {`*a`, 0}, {`a**`, 2}, {`[a`, 0}, {`[b-a]`, 1}, {`a{x}`, 1}, {`a{2`, 1},
		{`[]a]`, 1}, {`\`, 0}, {`[\d-z]`, 3},
	}
	for _, tc := range tests {
		_, err := Compile(tc.pattern, false)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Compile(%q) error = %v, want *Error", tc.pattern, err)
			continue
		}
		if e.Offset != tc.offset {
			t.Errorf("Compile(%q) error at %d (%v), want at %d", tc.pattern, e.Offset, e, tc.offset)
		}
	}
}

// FuzzCompile: no panic; an error lies inside the pattern; a compiled
// pattern never matches a value with a line terminator through ".".
func FuzzCompile(f *testing.F) {
	for _, s := range []string{`a.c`, `[^a-c\d]`, `(?:ab)+|c`, `a{2,3}?`, `\s\S\w\W`, `[x-]`} {
		f.Add(s, "abc", false)
	}
	f.Fuzz(func(t *testing.T, pattern, input string, fold bool) {
		re, err := Compile(pattern, fold)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Offset < 0 || e.Offset > len(pattern) {
				t.Fatalf("Compile(%q) error %v outside the pattern", pattern, err)
			}
			return
		}
		re.MatchString(input)
		if pattern == "." && re.MatchString("\n") {
			t.Fatalf(". matched a line terminator")
		}
	})
}
