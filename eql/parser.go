package eql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Parse parses an EQL statement following Elasticsearch's EqlBase grammar:
// an event query, a sequence or a sample, then "| head N" / "| tail N" pipes.
// Errors are *Error with a 1-based line:col.
func Parse(query string) (*Query, error) {
	q, err := parse(query)
	if err != nil {
		return nil, err
	}
	return q, nil
}

func parse(src string) (*Query, *Error) {
	if len(src) > MaxQueryLength {
		return nil, errAt(src, Pos{Offset: 0, Line: 1, Col: 1}, "query is %d bytes long, the limit is %d", len(src), MaxQueryLength)
	}
	toks, lerr := lex(src)
	if lerr != nil {
		return nil, lerr
	}
	p := &parser{src: src, toks: toks}
	q, err := p.statement()
	if err != nil {
		err.Query = src
		return nil, err
	}
	return q, nil
}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) peekAt(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}
func (p *parser) lastEnd() int {
	if p.i == 0 {
		return 0
	}
	return p.toks[p.i-1].end
}

func (p *parser) is(kind tokKind, text string) bool {
	t := p.peek()
	return t.kind == kind && t.text == text
}
func (p *parser) isKw(text string) bool    { return p.is(tKeyword, text) }
func (p *parser) isPunct(text string) bool { return p.is(tPunct, text) }

func (p *parser) errf(t token, format string, args ...any) *Error {
	return errAt(p.src, t.pos, format, args...)
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "<EOF>"
	case tString:
		return strconv.Quote(t.text)
	case tRawString:
		return `"""` + t.text + `"""`
	case tSingleQuoted:
		return "'" + t.text + "'"
	case tQuotedIdent:
		return "`" + t.text + "`"
	}
	return t.text
}

func (p *parser) unexpected(expecting string) *Error {
	t := p.peek()
	if t.kind == tEOF {
		return p.errf(t, "mismatched input '<EOF>' expecting %s", expecting)
	}
	return p.errf(t, "mismatched input '%s' expecting %s", describe(t), expecting)
}

func (p *parser) expectPunct(text string) *Error {
	if !p.isPunct(text) {
		return p.unexpected("'" + text + "'")
	}
	p.next()
	return nil
}

func (p *parser) statement() (*Query, *Error) {
	q := &Query{Src: p.src}
	t := p.peek()
	switch {
	case t.kind == tKeyword && t.text == "sequence":
		p.next()
		q.Kind = SequenceQuery
		if err := p.sequence(q, t); err != nil {
			return nil, err
		}
	case t.kind == tKeyword && t.text == "sample":
		p.next()
		q.Kind = SampleQuery
		if err := p.sample(q, t); err != nil {
			return nil, err
		}
	case t.kind == tKeyword && t.text == "join":
		return nil, p.errf(t, "Join is not supported")
	default:
		q.Kind = EventQuery
		tm, err := p.eventFilter()
		if err != nil {
			return nil, err
		}
		q.terms = []*term{tm}
	}
	for p.isPunct("|") {
		bar := p.next()
		if err := p.pipe(q, bar); err != nil {
			return nil, err
		}
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errf(t, "extraneous input '%s' expecting {<EOF>, '|'}", describe(t))
	}
	return q, nil
}

// Pipes Elasticsearch's grammar knows; only head and tail run.
var knownPipes = []string{"count", "filter", "head", "sort", "tail", "unique", "unique_count"}

func (p *parser) pipe(q *Query, bar token) *Error {
	t := p.peek()
	if t.kind != tIdent {
		return p.unexpected("IDENTIFIER")
	}
	p.next()
	known := false
	for _, k := range knownPipes {
		known = known || k == t.text
	}
	if !known {
		var similar []string
		for _, k := range knownPipes {
			if editDistance(k, t.text) <= 2 {
				similar = append(similar, k)
			}
		}
		msg := fmt.Sprintf("Unrecognized pipe [%s]", t.text)
		switch len(similar) {
		case 0:
		case 1:
			msg += ", did you mean [" + similar[0] + "]?"
		default:
			msg += ", did you mean any of [" + strings.Join(similar, ", ") + "]?"
		}
		return p.errf(t, "%s", msg)
	}
	var args []Expr
	if n := p.peek(); n.kind != tEOF && !(n.kind == tPunct && n.text == "|") {
		for {
			e, err := p.expression()
			if err != nil {
				return err
			}
			args = append(args, e)
			if !p.isPunct(",") {
				break
			}
			p.next()
		}
	}
	if t.text != "head" && t.text != "tail" {
		return p.errf(bar, "Pipe [%s] is not supported", t.text)
	}
	if len(args) != 1 {
		return p.errf(bar, "Pipe [%s] expects exactly one argument but found [%d]", t.text, len(args))
	}
	lit, ok := args[0].(*Literal)
	n, isInt := int64(0), false
	if ok {
		n, isInt = lit.Val.(int64)
	}
	if !isInt || n < 0 || n > math.MaxInt32 {
		st, end := args[0].Span()
		return errAt(p.src, st, "Pipe [%s] expects a positive integer but found [%s]", t.text, p.src[st.Offset:end])
	}
	q.Pipes = append(q.Pipes, Pipe{Name: t.text, N: int(n), Pos: bar.pos})
	return nil
}

func (p *parser) joinKeys() ([]*FieldRef, *Error) {
	p.next() // by
	var keys []*FieldRef
	for {
		e, err := p.expression()
		if err != nil {
			return nil, err
		}
		f, ok := e.(*FieldRef)
		if !ok {
			s, _ := e.Span()
			return nil, errAt(p.src, s, "Unsupported join key [%s], expecting a field", p.src[s.Offset:p.lastEnd()])
		}
		keys = append(keys, f)
		if !p.isPunct(",") {
			return keys, nil
		}
		p.next()
	}
}

func (p *parser) sequence(q *Query, seqTok token) *Error {
	if p.isKw("by") {
		keys, err := p.joinKeys()
		if err != nil {
			return err
		}
		q.JoinKeys = keys
		if p.isKw("with") {
			if err := p.maxspan(q); err != nil {
				return err
			}
		}
	} else if p.isKw("with") {
		if err := p.maxspan(q); err != nil {
			return err
		}
		if p.isKw("by") {
			return p.errf(p.peek(), "Please specify sequence [by] before [with] not after")
		}
	}
	for p.isPunct("[") || p.isPunct("![") {
		tm, err := p.seqTerm(true)
		if err != nil {
			return err
		}
		q.terms = append(q.terms, tm)
	}
	if len(q.terms) == 0 {
		return p.unexpected("{'[', '!['}")
	}
	if p.isKw("until") {
		p.next()
		if p.isPunct("![") {
			return p.errf(p.peek(), "A missing event query cannot be used in [until]")
		}
		tm, err := p.seqTerm(false)
		if err != nil {
			return err
		}
		q.until = tm
	}
	n := 0
	positive := 0
	for _, tm := range q.terms {
		n += tm.runs
		if !tm.missing {
			positive++
		}
	}
	if n < 2 {
		return p.errf(seqTok, "A sequence requires a minimum of 2 queries, found [%d]", n)
	}
	if positive == 0 {
		return p.errf(seqTok, "A sequence requires at least one positive event query; found none")
	}
	if q.terms[0].missing && q.MaxSpan == 0 {
		return errAt(p.src, q.terms[0].start, "[maxspan] is required for a missing event query placed at the beginning of the sequence")
	}
	if q.terms[len(q.terms)-1].missing && q.MaxSpan == 0 {
		return errAt(p.src, q.terms[len(q.terms)-1].start, "[maxspan] is required for a missing event query placed at the end of the sequence")
	}
	return p.checkKeyCounts(q)
}

func (p *parser) checkKeyCounts(q *Query) *Error {
	want := -1
	all := append([]*term{}, q.terms...)
	if q.until != nil {
		all = append(all, q.until)
	}
	for _, tm := range all {
		if want < 0 {
			want = len(tm.keys)
			continue
		}
		if len(tm.keys) != want {
			at := tm.start
			if tm.byPos != nil {
				at = *tm.byPos
			}
			return errAt(p.src, at, "Inconsistent number of join keys specified; expected [%d] but found [%d]", want, len(tm.keys))
		}
	}
	return nil
}

func (p *parser) maxspan(q *Query) *Error {
	p.next() // with
	t := p.peek()
	if !(t.kind == tKeyword && t.text == "maxspan") {
		return p.unexpected("'maxspan'")
	}
	p.next()
	if err := p.expectPunct("="); err != nil {
		return err
	}
	nt := p.peek()
	if nt.kind != tInt && nt.kind != tDecimal {
		if nt.kind == tPunct && nt.text == "-" {
			p.next()
			if n := p.peek(); n.kind == tInt {
				return p.errf(nt, "A positive maxspan value is required; found [-%s]", n.text)
			}
		}
		return p.unexpected("a number")
	}
	p.next()
	if nt.kind == tDecimal {
		return p.errf(nt, "Decimal time interval [%s] not supported; please use an positive integer", nt.text)
	}
	v, err := strconv.ParseInt(nt.text, 10, 64)
	if err != nil {
		return p.errf(nt, "Number [%s] is too large", nt.text)
	}
	if v <= 0 {
		return p.errf(nt, "A positive maxspan value is required; found [%d]", v)
	}
	ut := p.peek()
	if ut.kind != tIdent {
		return p.errf(nt, "No time unit specified, did you mean [s] as in [%ss]?", nt.text)
	}
	p.next()
	var unit time.Duration
	switch ut.text {
	case "ms":
		unit = time.Millisecond
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	default:
		return p.errf(ut, "Unrecognized time unit [%s] in [%s%s], please specify one of [ms, s, m, h, d]", ut.text, nt.text, ut.text)
	}
	if v > int64(math.MaxInt64/unit) {
		return p.errf(nt, "Invalid maxspan value [%s%s]", nt.text, ut.text)
	}
	q.MaxSpan = time.Duration(v) * unit
	q.MaxSpanText = nt.text + ut.text
	return nil
}

func (p *parser) sample(q *Query, sampleTok token) *Error {
	if p.isKw("by") {
		keys, err := p.joinKeys()
		if err != nil {
			return err
		}
		q.JoinKeys = keys
	}
	for p.isPunct("[") {
		tm, err := p.seqTerm(false)
		if err != nil {
			return err
		}
		q.terms = append(q.terms, tm)
	}
	if p.isPunct("![") {
		return p.errf(p.peek(), "A missing event query is not supported in samples")
	}
	if len(q.terms) < 2 {
		return p.errf(sampleTok, "A sample requires a minimum of 2 queries, found [%d]", len(q.terms))
	}
	if len(q.JoinKeys) == 0 && len(q.terms[0].keys) == 0 {
		// Elasticsearch samples without keys are allowed; nothing to check.
	}
	return p.checkKeyCounts(q)
}

// seqTerm parses "[filter] (by keys)? (with runs=N)?" or "![filter]".
func (p *parser) seqTerm(allowRuns bool) (*term, *Error) {
	start := p.peek()
	missing := false
	if p.isPunct("![") {
		p.next()
		missing = true
	} else if err := p.expectPunct("["); err != nil {
		return nil, err
	}
	tm, err := p.eventFilter()
	if err != nil {
		return nil, err
	}
	if err := p.expectPunct("]"); err != nil {
		return nil, err
	}
	tm.start = start.pos
	tm.missing = missing
	if p.isKw("by") {
		bp := p.peek().pos
		keys, err := p.joinKeys()
		if err != nil {
			return nil, err
		}
		tm.keys, tm.byPos = keys, &bp
	}
	if p.isKw("with") && p.peekAt(1).kind == tIdent {
		wt := p.next()
		kt := p.next()
		if kt.text != "runs" {
			return nil, p.errf(kt, "Unrecognized option [%s], expecting [runs]", kt.text)
		}
		if !allowRuns {
			return nil, p.errf(wt, "[runs] is not supported here")
		}
		if err := p.expectPunct("="); err != nil {
			return nil, err
		}
		nt := p.peek()
		neg := false
		if nt.kind == tPunct && nt.text == "-" {
			p.next()
			neg = true
			nt = p.peek()
		}
		if nt.kind != tInt {
			return nil, p.unexpected("an integer")
		}
		p.next()
		v, cerr := strconv.Atoi(nt.text)
		if neg {
			v = -v
		}
		if cerr != nil || v <= 0 {
			return nil, p.errf(nt, "A positive runs value greater than 0 is required; found [%s]", nt.text)
		}
		if v > 100 {
			return nil, p.errf(nt, "A query cannot be repeated more than 100 times; found [%d]", v)
		}
		tm.runs = v
	}
	tm.end = p.lastEnd()
	return tm, nil
}

// eventFilter parses "(category | any) where condition".
func (p *parser) eventFilter() (*term, *Error) {
	t := p.peek()
	tm := &term{start: t.pos, runs: 1, catPos: t.pos}
	switch {
	case t.kind == tKeyword && t.text == "any":
		p.next()
	case t.kind == tIdent || t.kind == tString || t.kind == tQuotedIdent:
		p.next()
		tm.category = t.text
	case t.kind == tSingleQuoted:
		return nil, p.errf(t, "Use double quotes [\"] to define string literals, not single quotes [']")
	default:
		return nil, p.unexpected("{'any', STRING, IDENTIFIER}")
	}
	if !p.isKw("where") {
		if n := p.peek(); n.kind == tKeyword && n.text == "of" {
			return nil, p.errf(n, "Relationships are not supported")
		}
		return nil, p.unexpected("'where'")
	}
	p.next()
	cond, err := p.expression()
	if err != nil {
		return nil, err
	}
	tm.cond = cond
	tm.end = p.lastEnd()
	return tm, nil
}

func (p *parser) enter() *Error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errf(p.peek(), "expression nesting exceeds the limit of %d", MaxDepth)
	}
	return nil
}

func (p *parser) expression() (Expr, *Error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	return p.or()
}

func (p *parser) or() (Expr, *Error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isKw("or") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		s, _ := l.Span()
		l = &Binary{span: span{s, p.lastEnd()}, Op: "or", L: l, R: r}
	}
	return l, nil
}

func (p *parser) and() (Expr, *Error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.isKw("and") {
		p.next()
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		s, _ := l.Span()
		l = &Binary{span: span{s, p.lastEnd()}, Op: "and", L: l, R: r}
	}
	return l, nil
}

func (p *parser) not() (Expr, *Error) {
	if p.isKw("not") {
		t := p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		x, err := p.not()
		p.depth--
		if err != nil {
			return nil, err
		}
		return &Not{span: span{t.pos, p.lastEnd()}, X: x}, nil
	}
	if t := p.peek(); t.kind == tIdent && p.peekAt(1).kind == tKeyword && p.peekAt(1).text == "of" {
		return nil, p.errf(t, "Relationships are not supported")
	}
	return p.comparison()
}

var comparisonOps = map[string]bool{"==": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true}

func (p *parser) comparison() (Expr, *Error) {
	l, err := p.additive()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind == tPunct && t.text == "=" {
		return nil, p.errf(t, "Use == instead of = for equality comparisons")
	}
	if t.kind == tPunct && comparisonOps[t.text] {
		p.next()
		r, err := p.additive()
		if err != nil {
			return nil, err
		}
		s, _ := l.Span()
		l = &Binary{span: span{s, p.lastEnd()}, Op: t.text, L: l, R: r}
		if n := p.peek(); n.kind == tPunct && comparisonOps[n.text] {
			return nil, p.errf(n, "extraneous input '%s' expecting {<EOF>, 'and', 'or', ']'}", n.text)
		}
	}
	return l, nil
}

func (p *parser) additive() (Expr, *Error) {
	l, err := p.multiplicative()
	if err != nil {
		return nil, err
	}
	for p.isPunct("+") || p.isPunct("-") {
		op := p.next().text
		r, err := p.multiplicative()
		if err != nil {
			return nil, err
		}
		s, _ := l.Span()
		l = &Binary{span: span{s, p.lastEnd()}, Op: op, L: l, R: r}
	}
	return l, nil
}

func (p *parser) multiplicative() (Expr, *Error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isPunct("*") || p.isPunct("/") || p.isPunct("%") {
		op := p.next().text
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		s, _ := l.Span()
		l = &Binary{span: span{s, p.lastEnd()}, Op: op, L: l, R: r}
	}
	return l, nil
}

func (p *parser) unary() (Expr, *Error) {
	if p.isPunct("-") || p.isPunct("+") {
		t := p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		x, err := p.unary()
		p.depth--
		if err != nil {
			return nil, err
		}
		if t.text == "+" {
			return x, nil
		}
		if lit, ok := x.(*Literal); ok {
			switch v := lit.Val.(type) {
			case int64:
				return &Literal{span: span{t.pos, p.lastEnd()}, Val: -v}, nil
			case float64:
				return &Literal{span: span{t.pos, p.lastEnd()}, Val: -v}, nil
			}
		}
		return &Neg{span: span{t.pos, p.lastEnd()}, X: x}, nil
	}
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	return p.predicate(x)
}

// predicate parses the optional suffix of a primary expression:
// in / in~ / not in / : / like / like~ / regex / regex~.
func (p *parser) predicate(x Expr) (Expr, *Error) {
	s, _ := x.Span()
	t := p.peek()
	negated := false
	if t.kind == tKeyword && t.text == "not" && p.peekAt(1).kind == tKeyword && (p.peekAt(1).text == "in" || p.peekAt(1).text == "in~") {
		p.next()
		negated = true
		t = p.peek()
	}
	switch {
	case t.kind == tKeyword && (t.text == "in" || t.text == "in~"):
		p.next()
		if err := p.expectPunct("("); err != nil {
			return nil, err
		}
		var list []Expr
		for {
			e, err := p.expression()
			if err != nil {
				return nil, err
			}
			list = append(list, e)
			if p.isPunct(",") {
				p.next()
				continue
			}
			break
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		return &In{span: span{s, p.lastEnd()}, X: x, List: list, Insensitive: t.text == "in~", Negated: negated}, nil
	case (t.kind == tPunct && t.text == ":") || (t.kind == tKeyword && (t.text == "like" || t.text == "like~" || t.text == "regex" || t.text == "regex~")):
		p.next()
		m := &Match{X: x, Op: t.text}
		if p.isPunct("(") {
			p.next()
			for {
				c, err := p.constant()
				if err != nil {
					return nil, err
				}
				m.Patterns = append(m.Patterns, c)
				if p.isPunct(",") {
					p.next()
					continue
				}
				break
			}
			if err := p.expectPunct(")"); err != nil {
				return nil, err
			}
		} else {
			c, err := p.constant()
			if err != nil {
				return nil, err
			}
			m.Patterns = []Expr{c}
		}
		m.span = span{s, p.lastEnd()}
		if err := m.compile(p.src); err != nil {
			return nil, err
		}
		return m, nil
	}
	return x, nil
}

func (p *parser) constant() (*Literal, *Error) {
	t := p.peek()
	neg := false
	if t.kind == tPunct && t.text == "-" {
		p.next()
		neg = true
		t = p.peek()
		if t.kind != tInt && t.kind != tDecimal {
			return nil, p.unexpected("a constant")
		}
	}
	e, err := p.primary()
	if err != nil {
		return nil, err
	}
	lit, ok := e.(*Literal)
	if !ok {
		return nil, errAt(p.src, t.pos, "Expected a constant, found [%s]", p.src[t.pos.Offset:p.lastEnd()])
	}
	if neg {
		switch v := lit.Val.(type) {
		case int64:
			lit.Val = -v
		case float64:
			lit.Val = -v
		}
	}
	return lit, nil
}

func (p *parser) primary() (Expr, *Error) {
	t := p.peek()
	sp := func() span { return span{t.pos, p.lastEnd()} }
	switch t.kind {
	case tKeyword:
		switch t.text {
		case "null":
			p.next()
			return &Literal{span: sp(), Val: nil}, nil
		case "true", "false":
			p.next()
			return &Literal{span: sp(), Val: t.text == "true"}, nil
		}
		return nil, p.errf(t, "mismatched input '%s' expecting an expression", t.text)
	case tInt:
		p.next()
		v, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(t.text, 64)
			if ferr != nil {
				return nil, p.errf(t, "Number [%s] is too large", t.text)
			}
			return &Literal{span: sp(), Val: f}, nil
		}
		return &Literal{span: sp(), Val: v}, nil
	case tDecimal:
		p.next()
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, p.errf(t, "Number [%s] is too large", t.text)
		}
		return &Literal{span: sp(), Val: f}, nil
	case tString, tRawString:
		p.next()
		return &Literal{span: sp(), Val: t.text}, nil
	case tSingleQuoted:
		return nil, p.errf(t, "Use double quotes [\"] to define string literals, not single quotes [']")
	case tPunct:
		switch t.text {
		case "(":
			p.next()
			e, err := p.expression()
			if err != nil {
				return nil, err
			}
			if err := p.expectPunct(")"); err != nil {
				return nil, err
			}
			return e, nil
		case "?":
			p.next()
			n := p.peek()
			if (n.kind == tString || n.kind == tSingleQuoted || n.kind == tRawString) && n.pos.Offset == t.end {
				return nil, p.errf(t, "Use triple double quotes [\"\"\"] to define unescaped string literals, not [?%c]", p.src[n.pos.Offset])
			}
			if n.kind != tIdent && n.kind != tQuotedIdent {
				return nil, p.unexpected("IDENTIFIER")
			}
			f, err := p.qualifiedName()
			if err != nil {
				return nil, err
			}
			f.Optional = true
			f.span.start = t.pos
			return f, nil
		}
	case tIdent:
		// Whitespace and comments are on ANTLR's hidden channel in
		// EqlBase.g4, so "stringContains (a, b)" is a call as well.
		if p.peekAt(1).kind == tPunct && p.peekAt(1).text == "(" {
			return p.call()
		}
		return p.qualifiedName()
	case tQuotedIdent:
		return p.qualifiedName()
	}
	if t.kind == tEOF {
		return nil, p.errf(t, "mismatched input '<EOF>' expecting an expression")
	}
	return nil, p.errf(t, "mismatched input '%s' expecting an expression", describe(t))
}

func (p *parser) qualifiedName() (*FieldRef, *Error) {
	t := p.next()
	var parts []string
	parts = append(parts, t.text)
	for {
		if p.isPunct(".") {
			p.next()
			n := p.peek()
			if n.kind != tIdent && n.kind != tQuotedIdent && n.kind != tKeyword {
				return nil, p.unexpected("IDENTIFIER")
			}
			if n.kind == tKeyword {
				return nil, p.errf(n, "mismatched input '%s' expecting IDENTIFIER", n.text)
			}
			p.next()
			parts = append(parts, n.text)
			continue
		}
		if p.isPunct("[") && p.peekAt(1).kind == tInt {
			return nil, p.errf(p.peek(), "Array indexes are not supported")
		}
		break
	}
	name := strings.Join(parts, ".")
	if strings.HasSuffix(name, "~") {
		return nil, p.errf(t, "mismatched input '%s' expecting IDENTIFIER", name)
	}
	return &FieldRef{span: span{t.pos, p.lastEnd()}, Name: name}, nil
}

func (p *parser) call() (Expr, *Error) {
	t := p.next()
	p.next() // (
	name := t.text
	insensitive := strings.HasSuffix(name, "~")
	name = strings.TrimSuffix(name, "~")
	canon, ok := functionNames[strings.ToLower(name)]
	if !ok {
		return nil, p.errf(t, "Unknown function [%s]", name)
	}
	if insensitive && !insensitiveFunctions[canon] {
		return nil, p.errf(t, "Function [%s] does not support case-insensitive (~) matching", name)
	}
	c := &Call{Name: canon, Insensitive: insensitive}
	if !p.isPunct(")") {
		for {
			e, err := p.expression()
			if err != nil {
				return nil, err
			}
			c.Args = append(c.Args, e)
			if p.isPunct(",") {
				p.next()
				continue
			}
			break
		}
	}
	if err := p.expectPunct(")"); err != nil {
		return nil, err
	}
	c.span = span{t.pos, p.lastEnd()}
	if err := checkArity(p.src, c); err != nil {
		return nil, err
	}
	return c, nil
}

func checkArity(src string, c *Call) *Error {
	min, max := 2, 2
	switch c.Name {
	case "between":
		min, max = 3, 4
	case "cidrMatch":
		min, max = 2, -1
	case "concat":
		min, max = 0, -1
	case "indexOf":
		min, max = 2, 3
	case "length", "string":
		min, max = 1, 1
	case "number":
		min, max = 1, 2
	case "substring":
		min, max = 2, 3
	}
	n := len(c.Args)
	if n < min || (max >= 0 && n > max) {
		want := fmt.Sprintf("%d", min)
		if max < 0 {
			want = fmt.Sprintf("at least %d", min)
		} else if max != min {
			want = fmt.Sprintf("%d to %d", min, max)
		}
		return errAt(src, c.start, "function [%s] expects %s arguments, found [%d]", c.Name, want, n)
	}
	return nil
}
