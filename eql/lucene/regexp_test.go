package lucene

import (
	"errors"
	"strings"
	"testing"
)

// The expected answers below are Lucene's, read off
// lucene/core/src/java/org/apache/lucene/util/automaton/RegExp.java of
// Lucene 9.8-9.12 (Elasticsearch 8.x; 8.19 runs 9.12) production by
// production, and
// off TestRegExp.java (testIllegalBackslashChars, testLegalBackslashChars,
// testSmoke). Elasticsearch's regexp query passes RegexpFlag.ALL
// (server/.../index/query/RegexpFlag.java, RegexpQueryBuilder.java) and,
// for case_insensitive, RegExp.ASCII_CASE_INSENSITIVE.

const ci = All | ASCIICaseInsensitive

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern string
		flags   Flags
		yes     []string
		no      []string
	}{
		// testSmoke
		{"a(b+|c+)d", All, []string{"abbbbbd", "acd"}, []string{"ad"}},
		// Anchored on the whole value (AutomatonQuery runs the whole term).
		{"abc", All, []string{"abc"}, []string{"xabcx", "ab", "abcd"}},
		{"nc|flat", All, []string{"nc", "flat"}, []string{"nc|flat", "flat.exe"}},
		// charClass: an escaped character is a plain member; "-" after it
		// makes no range unless a charExp follows "-" directly.
		{`[_\-\.]x`, All, []string{"_x", "-x", ".x"}, []string{"ax", `\x`, "x"}},
		{`[a\-z]`, All, []string{"a", "-", "z"}, []string{"b", "y"}},
		{`[a-z]`, All, []string{"a", "b", "z"}, []string{"-", "A"}},
		{`[\d-z]`, All, []string{"5", "-", "z"}, []string{"y", "a"}},
		// In Lucene 9 an escaped range start still makes a range.
		{`[\.-z]`, All, []string{".", "a", "5"}, []string{"-", "~"}},
		// The first member of a class is read before "]" is looked for.
		{`[]a]`, All, []string{"]", "a"}, []string{"", "]a"}},
		{`[[]`, All, []string{"["}, nil},
		{`[^a]`, All, []string{"b", "é", "\n"}, []string{"a", "", "bb"}},
		{`[^a-c]x`, All, []string{"dx"}, []string{"bx"}},
		// expandPredefined: \d [0-9], \s [ \t\n\r], \w [a-zA-Z_0-9].
		{`\d+`, All, []string{"0", "123"}, []string{"12a", "", "٣"}},
		{`\D`, All, []string{"a", "é"}, []string{"1"}},
		{`\s`, All, []string{" ", "\t", "\n", "\r"}, []string{"\f", "\v", "\u00a0", "s"}},
		{`\S`, All, []string{"a", "s"}, []string{" ", "\t"}},
		{`\w+`, All, []string{"a_Z9", "w"}, []string{"é", "a-b"}},
		{`\W`, All, []string{"-", "é", " "}, []string{"_", "a", "W"}},
		{`[\s\d]+`, All, []string{"1 2\t3"}, []string{"1a"}},
		{`\\`, All, []string{`\`}, []string{`\\`}},
		{`\.`, All, []string{"."}, []string{"a"}},
		{`\*\[\]\{\}\(\)\|\&\~\@\#\<\>\"`, All, []string{`*[]{}()|&~@#<>"`}, nil},
		// "." is any one code point, newlines and astral ones included.
		{`.`, All, []string{"a", "\n", "é", "😀"}, []string{"", "ab"}},
		// "@" any string, "#" the empty language, "()" the empty string.
		{`@`, All, []string{"", "anything"}, nil},
		{`a@`, All, []string{"a", "abc"}, []string{"b"}},
		{`#`, All, nil, []string{"", "#"}},
		{`a|#`, All, []string{"a"}, []string{""}},
		{`()`, All, []string{""}, []string{"()"}},
		{`a()b`, All, []string{"ab"}, nil},
		// '"' quotes a literal: no operator inside.
		{`"a.b*"`, All, []string{"a.b*"}, []string{"axb", "a.bb"}},
		{`x"|"y`, All, []string{"x|y"}, []string{"x", "y"}},
		// "~" complements over all strings; "&" intersects.
		{`~(abc)`, All, []string{"", "abd", "abcc"}, []string{"abc"}},
		{`~a`, All, []string{"", "aa", "b"}, []string{"a"}},
		{`~~a`, All, []string{"a"}, []string{"b"}},
		{`~(.*foo.*)`, All, []string{"bar", ""}, []string{"foo", "xfooy"}},
		{`.*&~(.*foo.*)`, All, []string{"bar"}, []string{"barfoo"}},
		{`.*\.exe&~(cmd\.exe)`, All, []string{"nc.exe"}, []string{"cmd.exe", "cmd.sh"}},
		{`a.c&.b.`, All, []string{"abc"}, []string{"axc", "xbc"}},
		{`(a|b)&(b|c)`, All, []string{"b"}, []string{"a", "c"}},
		// "&" binds weaker than concatenation, "|" weaker than "&".
		{`ab&a.|c`, All, []string{"ab", "c"}, []string{"ax"}},
		// Numeric intervals: same width means fixed width with leading
		// zeros; different widths take any number of leading zeros.
		{`<1-10>`, All, []string{"1", "10", "007", "0010"}, []string{"0", "11", "", "1a", "-1"}},
		{`<01-10>`, All, []string{"01", "07", "10"}, []string{"7", "010", "00"}},
		{`<10-1>`, All, []string{"5"}, []string{"11"}},
		{`<+1-5>`, All, []string{"3", "03"}, []string{"6"}},
		{`<0-0>`, All, []string{"0"}, []string{"", "1", "00"}},
		{`<0-00>`, All, []string{"0", "000"}, []string{"", "1"}},
		{`<0-10>`, All, []string{"0", "00", "5", "010"}, []string{"11", ""}},
		{`<5-50>`, All, []string{"0049", "5", "50"}, []string{"4", "51", "0051"}},
		{`<0-2147483647>`, All, []string{"2147483647", "0"}, []string{"2147483648"}},
		{`port<1-3>`, All, []string{"port2"}, []string{"port4"}},
		// Where no expression can start, a reserved character is literal.
		{`*a`, All, []string{"*a"}, []string{"a"}},
		{`+`, All, []string{"+"}, nil},
		{`a|*b`, All, []string{"a", "*b"}, []string{"b"}},
		{`{`, All, []string{"{"}, nil},
		{`]`, All, []string{"]"}, nil},
		{`a}`, All, []string{"a}"}, nil},
		{`&a`, All, []string{"&a"}, nil},
		{`(|a)`, All, []string{"|a"}, []string{"a", ""}},
		{`a||b`, All, []string{"a", "|b"}, []string{"b", ""}},
		// Repetition.
		{`a{2}`, All, []string{"aa"}, []string{"a", "aaa"}},
		{`a{2,}`, All, []string{"aa", "aaaa"}, []string{"a"}},
		{`a{2,3}`, All, []string{"aa", "aaa"}, []string{"a", "aaaa"}},
		{`a{0}`, All, []string{""}, []string{"a"}},
		{`a**`, All, []string{"", "aaa"}, nil},
		{`[^y]*{1,2}`, All, []string{"", "xx"}, []string{"y"}}, // LUCENE-6046
		{`#*`, All, []string{""}, []string{"#"}},
		{`#+`, All, nil, []string{""}},
		{`.*?net1[ ]+localgroup.*?`, All, []string{"net1  localgroup admins"}, []string{"net localgroup"}},
		// ASCII_CASE_INSENSITIVE folds single characters and literals
		// (toCaseInsensitiveChar: ASCII only), not ranges or classes.
		{`thunderbird\.exe`, ci, []string{"Thunderbird.EXE"}, []string{"Thunderbird_EXE"}},
		{`"AbC"`, ci, []string{"abc", "ABC"}, nil},
		{`[abc]`, ci, []string{"B"}, nil},
		{`[a-c]`, ci, []string{"b"}, []string{"B"}},
		{`[^a]`, ci, []string{"b"}, []string{"a", "A"}},
		{`é`, ci, []string{"é"}, []string{"É"}},
		{`k`, ci, []string{"k", "K"}, []string{"\u212a"}},
		{`\w`, ci, []string{"a", "A"}, []string{"é"}},
		// A detection-rules pattern (defense_evasion_masquerading_space_after_filename):
		// its ranges stay lower case under regex~.
		{`/[a-z0-9\s_\-\\./]+\s`, ci, []string{"/tmp/evil.sh ", `/a\b `, "/x\ty\t"}, []string{"/tmp/Evil.sh ", "/tmp/evil.sh"}},
		{`abc`, All, nil, []string{"ABC"}},
		// An empty pattern is the empty string.
		{``, All, []string{""}, []string{"a"}},
		// Syntax flags: without them the characters are literal.
		{`~a&b#@<1-2>`, 0, []string{"~a&b#@<1-2>"}, nil},
	}
	for _, tc := range tests {
		re, err := Compile(tc.pattern, tc.flags)
		if err != nil {
			t.Errorf("Compile(%q, %#x) error: %v", tc.pattern, tc.flags, err)
			continue
		}
		for _, s := range tc.yes {
			if !re.MatchString(s) {
				t.Errorf("Compile(%q, %#x).MatchString(%q) = false, want true", tc.pattern, tc.flags, s)
			}
		}
		for _, s := range tc.no {
			if re.MatchString(s) {
				t.Errorf("Compile(%q, %#x).MatchString(%q) = true, want false", tc.pattern, tc.flags, s)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		pattern string
		offset  int
		msg     string
	}{
		{`a)`, 1, "end-of-string expected at position 1"},
		{`a{,2}`, 2, "integer expected at position 2"},
		{`a{2`, 3, "expected '}' at position 3"},
		{`a{3,1}`, 1, "invalid repetition range(out of order): 3..1"},
		{`a{99999999999}`, 2, `For input string: "99999999999"`},
		{`[a`, 2, "expected ']' at position 2"},
		{`[]`, 2, "expected ']' at position 2"},
		{`[`, 1, "unexpected end-of-string"},
		{`(a`, 2, "expected ')' at position 2"},
		{`"abc`, 4, "expected '\"' at position 4"},
		{`<1-2`, 4, "expected '>' at position 4"},
		{`<1-2-3>`, 6, "interval syntax error at position 6"},
		{`<-5>`, 3, "interval syntax error at position 3"},
		{`<5->`, 3, "interval syntax error at position 3"},
		{`<a-5>`, 4, "interval syntax error at position 4"},
		{`<99999999999-1>`, 14, "interval syntax error at position 14"},
		{`<foo>`, 0, "'foo' not found"},
		{`x<>`, 1, "'' not found"},
		{`\`, 1, "unexpected end-of-string"},
		{`a|`, 2, "unexpected end-of-string"},
		{`a&`, 2, "unexpected end-of-string"},
		{`~`, 1, "unexpected end-of-string"},
		{`\c`, 0, `invalid character class \c`},
		{`x[\t]`, 2, `invalid character class \t`},
		{`[b-a]`, 1, "invalid range: from (98) cannot be > to (97)"},
		{`[a-]`, 1, "invalid range: from (97) cannot be > to (93)"},
		// Positions count UTF-16 code units, as Java's String does.
		{`😀"x`, 6, "expected '\"' at position 4"},
		// Determinization is bounded, as Lucene's is; the exact limit differs.
		{`(a|b)*a(a|b){20}`, 0, "Determinizing automaton would require more than 10000 states: the pattern is too complex"},
		{`<١-٥>`, 0, "interval [<١-٥>] has non-ASCII digits, which Java's Integer.parseInt reads and this engine does not"},
	}
	for _, tc := range tests {
		_, err := Compile(tc.pattern, All)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Compile(%q) error = %v, want *Error %q", tc.pattern, err, tc.msg)
			continue
		}
		if e.Msg != tc.msg || e.Offset != tc.offset {
			t.Errorf("Compile(%q) error = %q at %d, want %q at %d", tc.pattern, e.Msg, e.Offset, tc.msg, tc.offset)
		}
	}
}

// TestBackslash is TestRegExp.testIllegalBackslashChars and
// testLegalBackslashChars.
func TestBackslash(t *testing.T) {
	for _, c := range "abcefghijklmnopqrtuvxyzABCEFGHIJKLMNOPQRTUVXYZ" {
		_, err := Compile(`\`+string(c), All)
		if err == nil || !strings.Contains(err.Error(), "invalid character class") {
			t.Errorf("Compile(%q) error = %v, want invalid character class", `\`+string(c), err)
		}
	}
	for _, c := range `dDsSWw0123456789[]*&^$@!{}\/` {
		if _, err := Compile(`\`+string(c), All); err != nil {
			t.Errorf("Compile(%q) error = %v, want none", `\`+string(c), err)
		}
	}
}

func TestTooComplex(t *testing.T) {
	if _, err := Compile(`(a|b)*a(a|b){12}`, All); err != nil {
		t.Errorf("Compile((a|b)*a(a|b){12}) error = %v, want 8,192 states to fit", err)
	}
	if _, err := Compile(`(a|b)*a(a|b){13}`, All); err == nil {
		t.Errorf("Compile((a|b)*a(a|b){13}) = nil error, want too complex")
	}
}

// TestOptimizerHints pins what Elasticsearch's ReplaceRegexMatch asks of
// the pattern's automaton (AbstractStringPattern: Operations.isTotal and
// the single string an exact pattern matches).
func TestOptimizerHints(t *testing.T) {
	tests := []struct {
		pattern string
		all     bool
		literal string
		exact   bool
	}{
		{".*", true, "", false},
		{"@", true, "", false},
		{"(.|a)*", true, "", false},
		{"~#", true, "", false},
		{".+", false, "", false},
		{"abc", false, "abc", true},
		{`"a.b"`, false, "a.b", true},
		{`a\.b`, false, "a.b", true},
		{"ab{2}", false, "abb", true},
		{"(abc)&(a.c)", false, "abc", true},
		{"", false, "", true},
		{"a|b", false, "", false},
		{"a*", false, "", false},
		{"#", false, "", false},
	}
	for _, tc := range tests {
		re := MustCompile(tc.pattern, All)
		if got := re.MatchesAll(); got != tc.all {
			t.Errorf("Compile(%q).MatchesAll() = %v, want %v", tc.pattern, got, tc.all)
		}
		lit, ok := re.Literal()
		if ok != tc.exact || lit != tc.literal {
			t.Errorf("Compile(%q).Literal() = %q, %v, want %q, %v", tc.pattern, lit, ok, tc.literal, tc.exact)
		}
	}
}

// TestCheckLength is RegexpQueryBuilder.doToQuery's index.max_regex_length
// check, on UTF-16 code units (String.length()).
func TestCheckLength(t *testing.T) {
	if err := CheckLength(strings.Repeat("a", 1000)); err != nil {
		t.Errorf("CheckLength(1000 a) = %v, want nil", err)
	}
	if err := CheckLength(strings.Repeat("😀", 500)); err != nil {
		t.Errorf("CheckLength(500 astral) = %v, want nil", err)
	}
	want := "The length of regex [1002] used in the Regexp Query request has exceeded the allowed maximum of [1000]. This maximum can be set by changing the [index.max_regex_length] index level setting."
	if err := CheckLength(strings.Repeat("😀", 501)); err == nil || err.Error() != want {
		t.Errorf("CheckLength(501 astral) = %v, want %s", err, want)
	}
}
