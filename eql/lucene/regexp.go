// Package lucene implements the regular expression language of Lucene's
// org.apache.lucene.util.automaton.RegExp as Elasticsearch 8.x (Lucene
// 9.8-9.12) runs it for a regexp query, and so for EQL's regex and regex~
// on a field.
//
// The parser follows RegExp.java's recursive descent production by
// production (parseUnionExp down to parseCharExp), so the odd corners come
// out as Lucene's do: a "*" or "{" where no expression precedes it is a
// literal character; escapes work inside classes ("[_\-\.]" is the set
// "_", "-", "."); "\d \D \s \S \w \W" are the ASCII classes of
// expandPredefined; "\" before any other ASCII letter is an error; "~"
// complements, "&" intersects, "<n-m>" is a decimal interval, "@" any
// string, "#" the empty language, "..." a literal; the whole value must
// match. The language is compiled to a deterministic automaton over code
// points, as Lucene does, so complement and intersection are exact.
package lucene

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Flags enable the optional syntax of RegExp.java and its match flags.
type Flags int

// Syntax flags (RegExp.INTERSECTION ... RegExp.INTERVAL) and the match flag
// RegExp.ASCII_CASE_INSENSITIVE, with Lucene's values.
const (
	Intersection         Flags = 0x0001 // a&b
	Complement           Flags = 0x0002 // ~a
	Empty                Flags = 0x0004 // #
	AnyString            Flags = 0x0008 // @
	NamedAutomaton       Flags = 0x0010 // <name>
	Interval             Flags = 0x0020 // <n-m>
	All                  Flags = 0x00ff // RegExp.ALL: what a regexp query uses by default
	ASCIICaseInsensitive Flags = 0x0100 // RegExp.ASCII_CASE_INSENSITIVE: regexp "case_insensitive": true
)

// MaxLength is Elasticsearch's index.max_regex_length default: a longer
// regexp query is refused before Lucene parses it (RegexpQueryBuilder).
// RegExp itself has no limit, so Compile does not apply it; CheckLength
// does, for callers that stand for a regexp query.
const MaxLength = 1000

// CheckLength refuses a pattern longer than MaxLength UTF-16 code units
// with Elasticsearch's message.
func CheckLength(pattern string) error {
	if n := utf16Len(pattern); n > MaxLength {
		return &Error{Offset: 0, Msg: fmt.Sprintf("The length of regex [%d] used in the Regexp Query request has exceeded the allowed maximum of [%d]. This maximum can be set by changing the [index.max_regex_length] index level setting.", n, MaxLength)}
	}
	return nil
}

// MaxStates bounds the deterministic automaton, as Lucene's
// Operations.DEFAULT_DETERMINIZE_WORK_LIMIT (10000) bounds determinization.
// The two measures differ (Lucene counts work, after minimizing), so a
// pattern near the limit may be refused by one and not the other.
const MaxStates = 10000

// maxNFAStates bounds the intermediate automaton (a{900}{900} and the like).
const maxNFAStates = 100000

// Error is a refused pattern. Msg is Lucene's own message where Lucene
// refuses it too (its positions count UTF-16 code units, as Java's do), or
// says which limit of this package it exceeds; Offset is the byte offset
// in the pattern the message is about.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Regexp is a compiled pattern. It is safe for concurrent use.
type Regexp struct {
	pattern string
	d       *dfa
}

// String returns the pattern.
func (r *Regexp) String() string { return r.pattern }

// MatchString reports whether the whole of s is in the pattern's language
// (a Lucene regexp is anchored at both ends).
func (r *Regexp) MatchString(s string) bool { return r.d.match(s) }

// Compile parses pattern with the given flags and builds its automaton.
// Errors are *Error.
func Compile(pattern string, flags Flags) (re *Regexp, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			re, err = nil, e
		}
	}()
	n := parse(pattern, flags)
	b := &builder{}
	s, e := b.frag(n)
	d := b.determinize(s, e)
	return &Regexp{pattern: pattern, d: d}, nil
}

// parse is RegExp's constructor: an empty pattern is the empty string,
// anything else one unionExp that must use up the pattern. It panics with
// *Error.
func parse(pattern string, flags Flags) *node {
	if pattern == "" {
		return &node{kind: kString}
	}
	p := &parser{src: pattern, flags: flags}
	n := p.unionExp()
	if p.pos < len(p.src) {
		p.fail(p.pos, "end-of-string expected at position %d", p.u16(p.pos))
	}
	return n
}

// MustCompile is Compile that panics on error, for patterns in code.
func MustCompile(pattern string, flags Flags) *Regexp {
	re, err := Compile(pattern, flags)
	if err != nil {
		panic(fmt.Sprintf("lucene: Compile(%q): %v", pattern, err))
	}
	return re
}

type kind int

const (
	kUnion     kind = iota
	kConcat         // a b
	kInter          // a & b
	kRepeat         // a{min,max}; max -1 is unbounded (*, +, {n,})
	kCompl          // ~a
	kClass          // one code point out of ranges
	kString         // the runes in s, each folded if fold is set
	kAnyChar        // .
	kEmpty          // #
	kAnyString      // @
	kInterval       // <min-max>, digits wide when digits > 0
	kNamed          // <name>: no automaton provider, so an error when built
)

type node struct {
	kind     kind
	a, b     *node
	min, max int
	digits   int
	ranges   []rng
	s        []rune
	fold     bool
	name     string
	pos      int
}

type rng struct{ lo, hi rune }

const maxRune = utf8.MaxRune

type parser struct {
	src   string
	pos   int
	flags Flags
}

func (p *parser) fail(off int, format string, args ...any) {
	panic(&Error{Offset: off, Msg: fmt.Sprintf(format, args...)})
}

// u16 converts a byte offset into Lucene's position, in UTF-16 code units.
func (p *parser) u16(off int) int { return utf16Len(p.src[:off]) }

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func (p *parser) more() bool { return p.pos < len(p.src) }

func (p *parser) cur() (rune, int) { return utf8.DecodeRuneInString(p.src[p.pos:]) }

func (p *parser) peek(set string) bool {
	if !p.more() {
		return false
	}
	r, _ := p.cur()
	return strings.ContainsRune(set, r)
}

func (p *parser) match(c rune) bool {
	if !p.more() {
		return false
	}
	if r, n := p.cur(); r == c {
		p.pos += n
		return true
	}
	return false
}

func (p *parser) next() rune {
	if !p.more() {
		p.fail(p.pos, "unexpected end-of-string")
	}
	r, n := p.cur()
	p.pos += n
	return r
}

func (p *parser) has(f Flags) bool { return p.flags&f != 0 }

// unionExp ::= interExp ( "|" unionExp )?
func (p *parser) unionExp() *node {
	e := p.interExp()
	if p.match('|') {
		e = union(e, p.unionExp())
	}
	return e
}

// union of two single-character languages is one class (a|b is [ab]):
// the same language, and a smaller automaton, as Lucene's minimize makes.
func union(a, b *node) *node {
	ra, oka := charSet(a)
	rb, okb := charSet(b)
	if oka && okb {
		return &node{kind: kClass, ranges: normalize(append(ra, rb...))}
	}
	return &node{kind: kUnion, a: a, b: b}
}

// charSet returns the code points of a one-character node.
func charSet(n *node) ([]rng, bool) {
	switch {
	case n.kind == kClass:
		return slices.Clone(n.ranges), true
	case n.kind == kString && len(n.s) == 1:
		var rs []rng
		for _, c := range foldSet(n.s[0], n.fold) {
			rs = append(rs, rng{c, c})
		}
		return rs, true
	}
	return nil, false
}

// interExp ::= concatExp ( "&" interExp )?
func (p *parser) interExp() *node {
	e := p.concatExp()
	if p.has(Intersection) && p.match('&') {
		e = &node{kind: kInter, a: e, b: p.interExp()}
	}
	return e
}

// concatExp ::= repeatExp concatExp?; it stops before ")", "|" and "&".
func (p *parser) concatExp() *node {
	e := p.repeatExp()
	if p.more() && !p.peek(")|") && (!p.has(Intersection) || !p.peek("&")) {
		e = &node{kind: kConcat, a: e, b: p.concatExp()}
	}
	return e
}

// repeatExp ::= complExp ( "?" | "*" | "+" | "{n}" | "{n,}" | "{n,m}" )*
func (p *parser) repeatExp() *node {
	e := p.complExp()
	for p.peek("?*+{") {
		switch {
		case p.match('?'):
			e = &node{kind: kRepeat, a: e, min: 0, max: 1}
		case p.match('*'):
			e = &node{kind: kRepeat, a: e, min: 0, max: -1}
		case p.match('+'):
			e = &node{kind: kRepeat, a: e, min: 1, max: -1}
		case p.match('{'):
			open := p.pos - 1
			start := p.pos
			for p.peek("0123456789") {
				p.next()
			}
			if start == p.pos {
				p.fail(p.pos, "integer expected at position %d", p.u16(p.pos))
			}
			n := p.parseInt(start, p.src[start:p.pos])
			m := -1
			if p.match(',') {
				start = p.pos
				for p.peek("0123456789") {
					p.next()
				}
				if start != p.pos {
					m = p.parseInt(start, p.src[start:p.pos])
				}
			} else {
				m = n
			}
			if !p.match('}') {
				p.fail(p.pos, "expected '}' at position %d", p.u16(p.pos))
			}
			if m != -1 && n > m {
				p.fail(open, "invalid repetition range(out of order): %d..%d", n, m)
			}
			e = &node{kind: kRepeat, a: e, min: n, max: m}
		}
	}
	return e
}

// parseInt is Java's Integer.parseInt on ASCII digits: an overflow is a
// NumberFormatException, which RegExp lets through.
func (p *parser) parseInt(off int, s string) int {
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		p.fail(off, "For input string: \"%s\"", s)
	}
	return int(v)
}

// complExp ::= "~" complExp | charClassExp
func (p *parser) complExp() *node {
	if p.has(Complement) && p.match('~') {
		return &node{kind: kCompl, a: p.complExp()}
	}
	return p.charClassExp()
}

// charClassExp ::= "[" "^"? charClasses "]" | simpleExp
func (p *parser) charClassExp() *node {
	if !p.match('[') {
		return p.simpleExp()
	}
	negate := p.match('^')
	// RegExp unions the members; as each is one code point out of a
	// set, the union is the set of all their code points.
	var set []rng
	for first := true; first || p.more() && !p.peek("]"); first = false {
		m := p.charClass()
		if m.kind == kClass {
			set = append(set, m.ranges...)
			continue
		}
		for _, c := range foldSet(m.s[0], m.fold) {
			set = append(set, rng{c, c})
		}
	}
	set = normalize(set)
	if negate {
		// RegExp: makeIntersection(makeAnyChar(), makeComplement(e)), the
		// single code points outside the set.
		set = invert(set)
	}
	if !p.match(']') {
		p.fail(p.pos, "expected ']' at position %d", p.u16(p.pos))
	}
	return &node{kind: kClass, ranges: set}
}

// normalize sorts ranges and merges those that overlap or touch.
func normalize(rs []rng) []rng {
	slices.SortFunc(rs, func(a, b rng) int { return cmp.Compare(a.lo, b.lo) })
	var out []rng
	for _, r := range rs {
		if n := len(out); n > 0 && r.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// charClass ::= predefined | charExp ( "-" charExp )?
func (p *parser) charClass() *node {
	if pre := p.predefined(); pre != nil {
		return pre
	}
	start := p.pos
	c := p.charExp()
	if p.match('-') {
		to := p.charExp()
		if c > to {
			p.fail(start, "invalid range: from (%d) cannot be > to (%d)", c, to)
		}
		// A range is never case-folded, not even with regex~.
		return &node{kind: kClass, ranges: []rng{{c, to}}}
	}
	return p.char(c)
}

// char is RegExp.makeChar: one code point, folded when matching ignores
// ASCII case.
func (p *parser) char(c rune) *node {
	return &node{kind: kString, s: []rune{c}, fold: p.has(ASCIICaseInsensitive)}
}

// predefined is matchPredefinedCharacterClass: after a backslash, d D s S
// w W are classes, "\\" is a backslash, any other ASCII letter is an
// error. Otherwise the backslash stays consumed and nil is returned, so
// the caller's charExp reads the escaped character itself.
func (p *parser) predefined() *node {
	start := p.pos
	if !p.match('\\') {
		return nil
	}
	switch {
	case p.peek("dDwWsS"):
		return &node{kind: kClass, ranges: predefinedClass(p.next())}
	case p.peek("\\"):
		return p.char(p.next())
	case p.peek("abcefghijklmnopqrtuvxyz") || p.peek("ABCEFGHIJKLMNOPQRTUVXYZ"):
		r := p.next()
		p.fail(start, "invalid character class \\%c", r)
	}
	return nil
}

// predefinedClass is RegExp.expandPredefined: [0-9], [ \t\n\r],
// [a-zA-Z_0-9] and their complements over all code points.
func predefinedClass(c rune) []rng {
	digit := []rng{{'0', '9'}}
	space := []rng{{'\t', '\n'}, {'\r', '\r'}, {' ', ' '}}
	word := []rng{{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}
	switch c {
	case 'd':
		return digit
	case 'D':
		return invert(digit)
	case 's':
		return space
	case 'S':
		return invert(space)
	case 'w':
		return word
	default: // 'W'
		return invert(word)
	}
}

// invert complements sorted, disjoint ranges over [0, MaxRune].
func invert(rs []rng) []rng {
	var out []rng
	var lo rune
	for _, r := range rs {
		if r.lo > lo {
			out = append(out, rng{lo, r.lo - 1})
		}
		lo = r.hi + 1
	}
	if lo <= maxRune {
		out = append(out, rng{lo, maxRune})
	}
	return out
}

// simpleExp ::= "." | "#" | "@" | '"' chars '"' | "(" ")" | "(" unionExp ")"
//
//	| "<" name ">" | "<" n "-" m ">" | predefined | charExp
func (p *parser) simpleExp() *node {
	start := p.pos
	switch {
	case p.match('.'):
		return &node{kind: kAnyChar}
	case p.has(Empty) && p.match('#'):
		return &node{kind: kEmpty}
	case p.has(AnyString) && p.match('@'):
		return &node{kind: kAnyString}
	case p.match('"'):
		from := p.pos
		for p.more() && !p.peek(`"`) {
			p.next()
		}
		if !p.match('"') {
			p.fail(p.pos, "expected '\"' at position %d", p.u16(p.pos))
		}
		return &node{kind: kString, s: []rune(p.src[from : p.pos-1]), fold: p.has(ASCIICaseInsensitive)}
	case p.match('('):
		if p.match(')') {
			return &node{kind: kString}
		}
		e := p.unionExp()
		if !p.match(')') {
			p.fail(p.pos, "expected ')' at position %d", p.u16(p.pos))
		}
		return e
	case (p.has(NamedAutomaton) || p.has(Interval)) && p.match('<'):
		from := p.pos
		for p.more() && !p.peek(">") {
			p.next()
		}
		if !p.match('>') {
			p.fail(p.pos, "expected '>' at position %d", p.u16(p.pos))
		}
		s := p.src[from : p.pos-1]
		last := p.pos - 1
		i := strings.IndexByte(s, '-')
		if i == -1 {
			if !p.has(NamedAutomaton) {
				p.fail(last, "interval syntax error at position %d", p.u16(last))
			}
			return &node{kind: kNamed, name: s, pos: start}
		}
		if !p.has(Interval) {
			p.fail(last, "illegal identifier at position %d", p.u16(last))
		}
		if i == 0 || i == len(s)-1 || i != strings.LastIndexByte(s, '-') {
			p.fail(last, "interval syntax error at position %d", p.u16(last))
		}
		smin, smax := s[:i], s[i+1:]
		for _, r := range s {
			if r >= utf8.RuneSelf && unicode.IsDigit(r) {
				p.fail(start, "interval [<%s>] has non-ASCII digits, which Java's Integer.parseInt reads and this engine does not", s)
			}
		}
		imin, ok1 := javaParseInt(smin)
		imax, ok2 := javaParseInt(smax)
		if !ok1 || !ok2 {
			p.fail(last, "interval syntax error at position %d", p.u16(last))
		}
		digits := 0
		if utf16Len(smin) == utf16Len(smax) {
			digits = utf16Len(smin)
		}
		if imin > imax {
			imin, imax = imax, imin
		}
		return &node{kind: kInterval, min: imin, max: imax, digits: digits}
	}
	if pre := p.predefined(); pre != nil {
		return pre
	}
	return p.char(p.charExp())
}

// javaParseInt accepts what Integer.parseInt accepts here: an optional "+"
// (a "-" cannot reach it) and ASCII decimal digits that fit an int (the
// caller refuses non-ASCII digits with its own message).
func javaParseInt(s string) (int, bool) {
	t := strings.TrimPrefix(s, "+")
	if t == "" {
		return 0, false
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(t, 10, 32)
	if err != nil {
		return 0, false
	}
	return int(v), true
}

// charExp ::= "\"? <code point>
func (p *parser) charExp() rune {
	p.match('\\')
	return p.next()
}

// MatchesAll reports whether every string matches: Lucene's
// Operations.isTotal, which Elasticsearch's optimizer asks to turn
// "x regex p" into "x != null".
func (r *Regexp) MatchesAll() bool {
	c := r.d.complement()
	seen := make([]bool, len(c.accept))
	stack := []int{0}
	seen[0] = true
	for len(stack) > 0 {
		st := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c.accept[st] {
			return false
		}
		for _, t := range c.tr[st] {
			if !seen[t.to] {
				seen[t.to] = true
				stack = append(stack, t.to)
			}
		}
	}
	return true
}

// Literal returns the one string the pattern matches, if its language has
// exactly one: the optimizer then turns "x regex p" into "x == literal".
func (r *Regexp) Literal() (string, bool) {
	live := r.d.live()
	if !live[0] {
		return "", false
	}
	var b strings.Builder
	seen := make([]bool, len(r.d.accept))
	for st := 0; ; {
		if seen[st] {
			return "", false // a cycle: infinitely many strings
		}
		seen[st] = true
		var next []trans
		for _, t := range r.d.tr[st] {
			if live[t.to] {
				next = append(next, t)
			}
		}
		if r.d.accept[st] {
			if len(next) > 0 {
				return "", false
			}
			return b.String(), true
		}
		if len(next) != 1 || next[0].lo != next[0].hi {
			return "", false
		}
		b.WriteRune(next[0].lo)
		st = next[0].to
	}
}
