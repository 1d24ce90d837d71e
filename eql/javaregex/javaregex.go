// Package javaregex evaluates the java.util.regex patterns Elasticsearch
// runs in scripts: EQL's regex on a computed value (a function result, not
// a field) is not a regexp query but a Painless script calling QL's
// RegexProcessor, Pattern.compile(pattern[, CASE_INSENSITIVE]) and
// Matcher.matches().
//
// The package translates the part of Java's syntax whose meaning under
// matches() Go's regexp reproduces exactly, writing every class out so
// Go's own definitions never apply: "." excludes Java's line terminators,
// \s is [ \t\n\x0B\f\r], \d and \w are ASCII, CASE_INSENSITIVE folds ASCII
// only (ranges too, as Pattern.range does). Everything else (anchors,
// look-around, back-references, possessive quantifiers, \p{..}, nested
// classes and && in classes, inline flags) is refused with the position of
// the construct, never approximated.
package javaregex

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a pattern this package does not translate (or Java refuses).
// Offset is the byte offset of the construct in the pattern.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Regexp is a translated pattern.
type Regexp struct {
	re *regexp.Regexp
}

// MatchString is Matcher.matches(): the whole of s must match.
func (r *Regexp) MatchString(s string) bool { return r.re.MatchString(s) }

// String returns the Go (RE2) form of the pattern.
func (r *Regexp) String() string { return r.re.String() }

type rng struct{ lo, hi rune }

var (
	lineTerminators = []rng{{'\n', '\n'}, {'\r', '\r'}, {0x85, 0x85}, {0x2028, 0x2029}}
	digit           = []rng{{'0', '9'}}
	space           = []rng{{'\t', '\n'}, {0x0B, 0x0B}, {'\f', '\r'}, {' ', ' '}}
	word            = []rng{{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}
)

type translator struct {
	src  string
	pos  int
	fold bool
	out  strings.Builder
}

func (t *translator) fail(off int, format string, args ...any) {
	panic(&Error{Offset: off, Msg: fmt.Sprintf(format, args...)})
}

func (t *translator) more() bool { return t.pos < len(t.src) }

func (t *translator) peek() rune {
	r, _ := utf8.DecodeRuneInString(t.src[t.pos:])
	return r
}

func (t *translator) next() rune {
	r, n := utf8.DecodeRuneInString(t.src[t.pos:])
	t.pos += n
	return r
}

// Compile translates pattern; caseInsensitive is Pattern.CASE_INSENSITIVE
// (without UNICODE_CASE).
func Compile(pattern string, caseInsensitive bool) (re *Regexp, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			re, err = nil, e
		}
	}()
	t := &translator{src: pattern, fold: caseInsensitive}
	t.out.WriteString(`\A(?:`)
	t.sequence(0)
	t.out.WriteString(`)\z`)
	g, cerr := regexp.Compile(t.out.String())
	if cerr != nil {
		return nil, &Error{Offset: 0, Msg: "java.util.regex pattern not translatable: " + cerr.Error()}
	}
	return &Regexp{re: g}, nil
}

// sequence translates up to the ")" that closes depth (or the end).
func (t *translator) sequence(depth int) {
	atom := false // an atom precedes: a quantifier may follow
	for t.more() {
		start := t.pos
		c := t.next()
		switch c {
		case '|':
			t.out.WriteByte('|')
			atom = false
		case '(':
			if t.more() && t.peek() == '?' {
				if strings.HasPrefix(t.src[t.pos:], "?:") {
					t.pos += 2
				} else {
					t.fail(start, "java.util.regex group %q at %d is not supported by the embedded engine", firstN(t.src[start:], 4), start)
				}
			}
			t.out.WriteString("(?:")
			t.sequence(depth + 1)
			if !t.more() || t.peek() != ')' {
				t.fail(start, "Unclosed group near index %d", len(t.src))
			}
			t.next()
			t.out.WriteByte(')')
			atom = true
		case ')':
			if depth == 0 {
				t.fail(start, "Unmatched closing ')' near index %d", start)
			}
			t.pos = start
			return
		case '*', '+', '?', '{':
			if !atom {
				t.fail(start, "Dangling meta character '%c' near index %d", c, start)
			}
			if c == '{' {
				t.repeatCount(start)
			} else {
				t.out.WriteRune(c)
			}
			if t.more() && t.peek() == '+' {
				t.fail(t.pos, "possessive quantifier at %d is not supported by the embedded engine", t.pos)
			}
			if t.more() && t.peek() == '?' { // reluctant: same strings under matches()
				t.next()
			}
			atom = false
		case '^', '$':
			t.fail(start, "java.util.regex anchor %q at %d is not supported by the embedded engine", c, start)
		case '.':
			t.class(invert(lineTerminators))
			atom = true
		case '[':
			t.class(t.classSet(start))
			atom = true
		case '\\':
			t.escape(start, false)
			atom = true
		default:
			t.literal(c)
			atom = true
		}
	}
}

// repeatCount copies {n}, {n,} or {n,m}; anything else is Java's
// "Illegal repetition".
func (t *translator) repeatCount(start int) {
	end := strings.IndexByte(t.src[t.pos:], '}')
	if end < 0 {
		t.fail(start, "Illegal repetition near index %d", start)
	}
	body := t.src[t.pos : t.pos+end]
	lo, hi, comma := strings.Cut(body, ",")
	if !digits(lo) || (comma && hi != "" && !digits(hi)) {
		t.fail(start, "Illegal repetition near index %d", start)
	}
	t.pos += end + 1
	t.out.WriteString("{" + body + "}")
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// escape handles a backslash; in a class it returns the set through
// t.escSet instead of writing.
func (t *translator) escape(start int, inClass bool) []rng {
	if !t.more() {
		t.fail(start, "Unexpected internal error near index %d", len(t.src))
	}
	c := t.next()
	var set []rng
	switch c {
	case 'd':
		set = digit
	case 'D':
		set = invert(digit)
	case 's':
		set = space
	case 'S':
		set = invert(space)
	case 'w':
		set = word
	case 'W':
		set = invert(word)
	case 't':
		set = t.char('\t')
	case 'n':
		set = t.char('\n')
	case 'r':
		set = t.char('\r')
	case 'f':
		set = t.char('\f')
	case 'a':
		set = t.char(7)
	case 'e':
		set = t.char(27)
	default:
		if c < utf8.RuneSelf && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') || c >= utf8.RuneSelf {
			t.fail(start, "java.util.regex escape \\%c at %d is not supported by the embedded engine", c, start)
		}
		set = t.char(c) // an escaped non-alphanumeric ASCII character is itself
	}
	if !inClass {
		t.class(set)
	}
	return set
}

// char is one literal code point, with its other ASCII case when folding.
func (t *translator) char(c rune) []rng {
	set := []rng{{c, c}}
	switch {
	case t.fold && c >= 'a' && c <= 'z':
		set = append(set, rng{c - 'a' + 'A', c - 'a' + 'A'})
	case t.fold && c >= 'A' && c <= 'Z':
		set = append(set, rng{c - 'A' + 'a', c - 'A' + 'a'})
	}
	return set
}

func (t *translator) literal(c rune) { t.class(t.char(c)) }

// classSet reads a class after "[" up to its "]".
func (t *translator) classSet(start int) []rng {
	negate := false
	if t.more() && t.peek() == '^' {
		t.next()
		negate = true
	}
	var set []rng
	first := true
	for {
		if !t.more() {
			t.fail(start, "Unclosed character class near index %d", len(t.src)-1)
		}
		at := t.pos
		c := t.next()
		if c == ']' && !first {
			break
		}
		if c == ']' || c == '[' || c == '&' && t.more() && t.peek() == '&' {
			t.fail(at, "java.util.regex class syntax %q at %d is not supported by the embedded engine", c, at)
		}
		first = false
		var lo rune
		if c == '\\' {
			s := t.escape(at, true)
			if len(s) != 1 || s[0].lo != s[0].hi {
				if t.more() && t.peek() == '-' && !strings.HasPrefix(t.src[t.pos:], "-]") {
					t.fail(t.pos, "java.util.regex range from a class at %d is not supported by the embedded engine", t.pos)
				}
				set = append(set, s...)
				continue
			}
			lo = s[0].lo
		} else {
			lo = c
		}
		// A range lo-hi, unless "-" is last.
		if t.more() && t.peek() == '-' && !strings.HasPrefix(t.src[t.pos:], "-]") {
			t.next()
			hiAt := t.pos
			if !t.more() {
				t.fail(start, "Unclosed character class near index %d", len(t.src)-1)
			}
			h := t.next()
			if h == '\\' || h == '[' {
				t.fail(hiAt, "java.util.regex class syntax at %d is not supported by the embedded engine", hiAt)
			}
			if h < lo {
				t.fail(at, "Illegal character range near index %d", hiAt)
			}
			set = append(set, t.foldRange(lo, h)...)
			continue
		}
		set = append(set, t.char(lo)...)
	}
	if negate {
		return invert(normalize(set))
	}
	return set
}

// foldRange is Pattern.range under CASE_INSENSITIVE: an ASCII character
// also matches when its upper or lower case lies in the range.
func (t *translator) foldRange(lo, hi rune) []rng {
	set := []rng{{lo, hi}}
	if !t.fold {
		return set
	}
	for c := max(lo, 'a'); c <= min(hi, 'z'); c++ {
		set = append(set, rng{c - 'a' + 'A', c - 'a' + 'A'})
	}
	for c := max(lo, 'A'); c <= min(hi, 'Z'); c++ {
		set = append(set, rng{c - 'A' + 'a', c - 'A' + 'a'})
	}
	return set
}

// class writes a set as an RE2 class of explicit code points.
func (t *translator) class(set []rng) {
	set = normalize(set)
	if len(set) == 0 {
		t.out.WriteString(`[^\x00-\x{10FFFF}]`)
		return
	}
	t.out.WriteByte('[')
	for _, r := range set {
		t.out.WriteString(`\x{` + strconv.FormatInt(int64(r.lo), 16) + `}`)
		if r.hi != r.lo {
			t.out.WriteString(`-\x{` + strconv.FormatInt(int64(r.hi), 16) + `}`)
		}
	}
	t.out.WriteByte(']')
}

func normalize(rs []rng) []rng {
	out := append([]rng(nil), rs...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].lo < out[j-1].lo; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	var merged []rng
	for _, r := range out {
		if n := len(merged); n > 0 && r.lo <= merged[n-1].hi+1 {
			merged[n-1].hi = max(merged[n-1].hi, r.hi)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

func invert(rs []rng) []rng {
	rs = normalize(rs)
	var out []rng
	var lo rune
	for _, r := range rs {
		if r.lo > lo {
			out = append(out, rng{lo, r.lo - 1})
		}
		lo = r.hi + 1
	}
	if lo <= utf8.MaxRune {
		out = append(out, rng{lo, utf8.MaxRune})
	}
	return out
}

func firstN(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
