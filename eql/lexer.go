package eql

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on hostile input: a rule is a few hundred bytes, a generated one a
// few kilobytes. These bound parser time and recursion depth.
const (
	MaxQueryLength = 64 * 1024
	MaxDepth       = 200
)

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tQuotedIdent // `field name`
	tString
	tRawString // """...""" (already unescaped: raw)
	tSingleQuoted
	tInt
	tDecimal
	tPunct // operators and punctuation, text in tok.text
	tKeyword
)

type token struct {
	kind tokKind
	text string // literal source text for idents/punct/keywords; decoded value for strings
	pos  Pos
	end  int // byte offset just past the token
}

var keywords = map[string]bool{
	"and": true, "any": true, "by": true, "false": true, "in": true, "in~": true,
	"join": true, "like": true, "like~": true, "maxspan": true, "not": true, "null": true,
	"of": true, "or": true, "regex": true, "regex~": true, "sample": true, "sequence": true,
	"true": true, "until": true, "where": true, "with": true,
}

type lexer struct {
	src  string
	off  int
	line int
	lcol int // offset of the current line start
	toks []token
}

func (l *lexer) pos() Pos { return Pos{Offset: l.off, Line: l.line, Col: l.off - l.lcol + 1} }

func (l *lexer) posAt(off int) Pos {
	line, start := 1, 0
	for i := 0; i < off && i < len(l.src); i++ {
		if l.src[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return Pos{Offset: off, Line: line, Col: off - start + 1}
}

func (l *lexer) advance(n int) {
	for i := 0; i < n && l.off < len(l.src); i++ {
		if l.src[l.off] == '\n' {
			l.line++
			l.lcol = l.off + 1
		}
		l.off++
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '@' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// isIdentPart: "@" may only start an identifier (@timestamp), as in
// Elasticsearch's IDENTIFIER rule.
func isIdentPart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lex splits src into tokens. It stops at the first error.
func lex(src string) ([]token, *Error) {
	l := &lexer{src: src, line: 1}
	for {
		l.skipSpace()
		if l.off >= len(src) {
			l.toks = append(l.toks, token{kind: tEOF, pos: l.pos(), end: l.off})
			return l.toks, nil
		}
		if err := l.next(); err != nil {
			err.Query = src
			return nil, err
		}
	}
}

func (l *lexer) skipSpace() {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			l.advance(1)
		case strings.HasPrefix(l.src[l.off:], "//"):
			for l.off < len(l.src) && l.src[l.off] != '\n' {
				l.advance(1)
			}
		case strings.HasPrefix(l.src[l.off:], "/*"):
			n := bracketedComment(l.src[l.off:])
			if n < 0 {
				return // not a comment: "/" and "*" are operators, as in ANTLR
			}
			l.advance(n)
		default:
			return
		}
	}
}

// bracketedComment returns the length of the comment that opens s, or -1
// when it is not closed. Balanced comments nest, as EqlBase.g4's BRACKETED_COMMENT
// ('/*' (BRACKETED_COMMENT|.)*? '*/') does.
func bracketedComment(s string) int {
	depth := 0
	for i := 0; i+1 < len(s); {
		switch {
		case s[i] == '/' && s[i+1] == '*':
			depth++
			i += 2
		case s[i] == '*' && s[i+1] == '/':
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	// An unbalanced inner "/*" is matched by the rule's "." alternative:
	// the comment ends at the first "*/".
	if end := strings.Index(s[2:], "*/"); end >= 0 {
		return end + 4
	}
	return -1
}

func (l *lexer) emit(kind tokKind, text string, p Pos) {
	l.toks = append(l.toks, token{kind: kind, text: text, pos: p, end: l.off})
}

func (l *lexer) next() *Error {
	p := l.pos()
	s := l.src[l.off:]
	c := s[0]
	switch {
	case strings.HasPrefix(s, `"""`):
		end := strings.Index(s[3:], `"""`)
		if end < 0 {
			return errAt(l.src, p, "token recognition error at: '%s'", firstLine(s))
		}
		// Like ANTLR's greedy tail: up to two extra quotes belong to the string.
		stop := 3 + end
		for k := 0; k < 2 && stop+3 < len(s) && s[stop+3] == '"'; k++ {
			stop++
		}
		val := s[3:stop]
		l.advance(stop + 3)
		l.emit(tRawString, val, p)
		return nil
	case c == '"' || c == '\'':
		val, n, err := unquote(s, c)
		if err != nil {
			ep := l.posAt(l.off + err.off)
			return errAt(l.src, ep, "%s", err.msg)
		}
		l.advance(n)
		if c == '\'' {
			l.emit(tSingleQuoted, val, p)
		} else {
			l.emit(tString, val, p)
		}
		return nil
	case c == '`':
		var b strings.Builder
		i := 1
		for {
			if i >= len(s) {
				return errAt(l.src, p, "token recognition error at: '%s'", firstLine(s))
			}
			if s[i] == '`' {
				if i+1 < len(s) && s[i+1] == '`' {
					b.WriteByte('`')
					i += 2
					continue
				}
				break
			}
			b.WriteByte(s[i])
			i++
		}
		l.advance(i + 1)
		l.emit(tQuotedIdent, b.String(), p)
		return nil
	case isDigit(c) || (c == '.' && len(s) > 1 && isDigit(s[1]) && !l.afterIdent()):
		i := 0
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		kind := tInt
		if i < len(s) && s[i] == '.' && i+1 < len(s) && isDigit(s[i+1]) {
			kind = tDecimal
			i++
			for i < len(s) && isDigit(s[i]) {
				i++
			}
		} else if i < len(s) && s[i] == '.' && !(i+1 < len(s) && isIdentStart(s[i+1])) {
			kind = tDecimal // "1." is a decimal
			i++
		}
		if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
			j := i + 1
			if j < len(s) && (s[j] == '+' || s[j] == '-') {
				j++
			}
			if j < len(s) && isDigit(s[j]) {
				for j < len(s) && isDigit(s[j]) {
					j++
				}
				kind = tDecimal
				i = j
			}
		}
		l.advance(i)
		l.emit(kind, s[:i], p)
		return nil
	case isIdentStart(c):
		i := 1
		for i < len(s) && isIdentPart(s[i]) {
			i++
		}
		word := s[:i]
		if i < len(s) && s[i] == '~' {
			if w := word + "~"; keywords[w] {
				l.advance(i + 1)
				l.emit(tKeyword, w, p)
				return nil
			}
			// function name with the case-insensitive marker: startsWith~
			l.advance(i + 1)
			l.emit(tIdent, word+"~", p)
			return nil
		}
		l.advance(i)
		if keywords[word] {
			l.emit(tKeyword, word, p)
		} else {
			l.emit(tIdent, word, p)
		}
		return nil
	}
	// "![" (MISSING_EVENT_OPEN) is one token: no whitespace inside, and a
	// "!" that starts neither it nor "!=" is no token at all.
	if c == '!' && !strings.HasPrefix(s, "![") && !strings.HasPrefix(s, "!=") {
		text := "!"
		if r, _ := utf8.DecodeRuneInString(s[1:]); len(s) > 1 {
			text += errorDisplay(r)
		}
		return errAt(l.src, p, "token recognition error at: '%s'", text)
	}
	for _, op := range []string{"==", "!=", "![", "<=", ">=", "<", ">", "=", ":", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",", ".", "|", "?", "~"} {
		if strings.HasPrefix(s, op) {
			l.advance(len(op))
			l.emit(tPunct, op, p)
			return nil
		}
	}
	r, _ := utf8.DecodeRuneInString(s)
	return errAt(l.src, p, "token recognition error at: '%c'", r)
}

// errorDisplay is ANTLR's Lexer.getErrorDisplay for one character.
func errorDisplay(r rune) string {
	switch r {
	case '\n':
		return `\n`
	case '\t':
		return `\t`
	case '\r':
		return `\r`
	}
	return string(r)
}

// afterIdent reports whether the previous token ends right here and is an
// identifier, so ".5" in "a.5" is not a number (it would be an index).
func (l *lexer) afterIdent() bool {
	if len(l.toks) == 0 {
		return false
	}
	t := l.toks[len(l.toks)-1]
	return t.end == l.off && (t.kind == tIdent || t.kind == tQuotedIdent || t.kind == tPunct && t.text == "]")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

type quoteErr struct {
	off int
	msg string
}

// unquote decodes a "..." (or '...') literal with Elasticsearch's escapes
// (\t \b \n \f \r \" \' \\ and \u{hex}); it returns the value and the
// number of source bytes consumed.
func unquote(s string, q byte) (string, int, *quoteErr) {
	var b strings.Builder
	i := 1
	for {
		if i >= len(s) || s[i] == '\n' || s[i] == '\r' {
			return "", 0, &quoteErr{0, "token recognition error at: '" + firstLine(s) + "'"}
		}
		c := s[i]
		if c == q {
			return b.String(), i + 1, nil
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return "", 0, &quoteErr{i, "token recognition error at: '" + firstLine(s) + "'"}
		}
		switch e := s[i+1]; e {
		case 't':
			b.WriteByte('\t')
		case 'b':
			b.WriteByte('\b')
		case 'n':
			b.WriteByte('\n')
		case 'f':
			b.WriteByte('\f')
		case 'r':
			b.WriteByte('\r')
		case '"', '\'', '\\':
			b.WriteByte(e)
		case 'u':
			if i+2 >= len(s) || s[i+2] != '{' {
				return "", 0, &quoteErr{i, "Unicode sequence should use [\\u{xxxx}] format"}
			}
			end := strings.IndexByte(s[i+3:], '}')
			if end < 0 {
				return "", 0, &quoteErr{i, "Unicode sequence should use [\\u{xxxx}] format"}
			}
			hex := s[i+3 : i+3+end]
			if len(hex) < 2 || len(hex) > 8 {
				return "", 0, &quoteErr{i, "Unicode sequence should use [2-8] hex digits, [\\u{" + hex + "}] has [" + strconv.Itoa(len(hex)) + "]"}
			}
			v, err := strconv.ParseUint(hex, 16, 32)
			if err == nil && v >= 0xD800 && v <= 0xDFFF {
				return "", 0, &quoteErr{i, "Invalid unicode character code, [" + hex + "] is a surrogate code"}
			}
			if err != nil || !utf8.ValidRune(rune(v)) {
				return "", 0, &quoteErr{i, "Invalid unicode character code [" + hex + "]"}
			}
			b.WriteRune(rune(v))
			i += 3 + end + 1
			continue
		default:
			// Elasticsearch passes unknown escapes through as written
			// ("\w" stays a backslash and a w, for regex patterns)
			b.WriteByte('\\')
			b.WriteByte(e)
		}
		i += 2
	}
}
