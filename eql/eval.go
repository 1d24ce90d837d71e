package eql

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/purpleharness/purpleharness/eql/javaregex"
	"github.com/purpleharness/purpleharness/eql/lucene"
	"github.com/purpleharness/purpleharness/jsondoc"
)

// evalCtx is one event under evaluation.
type evalCtx struct {
	doc    Fields
	failed bool // a field could not be evaluated (Elasticsearch: shard failure)
	bad    func(field string) bool
	// binds fixes fields to one of their values while a predicate is
	// evaluated once per combination of values (see leafNode).
	binds []binding
	// failure says why the event could not be evaluated (failed).
	failure string
}

type binding struct {
	name string
	v    val
}

// cnode is a compiled expression.
type cnode interface {
	eval(c *evalCtx) val
}

type litNode struct{ v val }

func (n *litNode) eval(*evalCtx) val { return n.v }

type fieldNode struct {
	name     string // physical path after alias resolution
	ft       fieldType
	nullVal  any
	hasNull  bool
	runtime  bool
	layouts  []string // Go layouts of a date field's custom format
	constant any      // constant_keyword value
	hasConst bool
	// ignoreAbove drops string values longer than it (a keyword's
	// ignore_above: such values are not indexed); 0 keeps all.
	ignoreAbove int
	inexact     bool // text without an exact sub-field
	// slot is the field's number in the layout of the events last read
	// (jsondoc.SlottedText), shared by the goroutines that evaluate it.
	slot atomic.Pointer[slotHint]
}

// slotHint is a field's number in one layout.
type slotHint struct {
	layout any
	slot   int
}

// lookupText is doc's LookupText of the field, by number when doc's
// fields are numbered (the number looked up once per layout).
func (n *fieldNode) lookupText(doc Fields) (string, jsondoc.TextKind, bool) {
	st, ok := doc.(jsondoc.SlottedText)
	if !ok {
		if tf, ok := doc.(jsondoc.TextFields); ok {
			return tf.LookupText(n.name)
		}
		return "", 0, false
	}
	layout := st.Layout()
	h := n.slot.Load()
	if h == nil || h.layout != layout {
		h = &slotHint{layout: layout, slot: st.Slot(n.name)}
		n.slot.Store(h)
	}
	if h.slot < 0 {
		return "", 0, false
	}
	return st.TextAt(h.slot)
}

// dropIgnored removes the strings a keyword's ignore_above left out of the
// index; ok=false when nothing remains.
func dropIgnored(raw any, limit int) (any, bool) {
	long := func(s string) bool { return utf8.RuneCountInString(s) > limit }
	switch v := raw.(type) {
	case string:
		return v, !long(v)
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok && long(s) {
				continue
			}
			out = append(out, e)
		}
		return out, len(out) > 0
	case []string:
		out := make([]any, 0, len(v))
		for _, s := range v {
			if !long(s) {
				out = append(out, s)
			}
		}
		return out, len(out) > 0
	}
	return raw, true
}

func (n *fieldNode) eval(c *evalCtx) val {
	if n.runtime && (c.bad == nil || c.bad(n.name)) {
		// Elasticsearch runs the field's Painless script; the embedded
		// engine has none, so the event's index fails as a shard whose
		// script throws does, and the response says why (is_partial,
		// shard_failures) instead of answering as if nothing matched.
		c.failed = true
		c.failure = "runtime field [" + n.name + "] is computed by a script, which the embedded engine cannot run"
		return nullVal
	}
	for _, b := range c.binds {
		if b.name == n.name {
			return b.v
		}
	}
	if n.hasConst {
		return fromRaw(n.constant, n.ft)
	}
	if v, ok := n.evalText(c.doc); ok {
		return v
	}
	raw, ok := c.doc.Lookup(n.name)
	if !ok {
		return nullVal
	}
	if n.ignoreAbove > 0 {
		if raw, ok = dropIgnored(raw, n.ignoreAbove); !ok {
			return nullVal
		}
	}
	if raw == nil {
		if n.hasNull {
			return fromRaw(n.nullVal, n.ft)
		}
		return nullVal
	}
	if n.layouts != nil {
		if s, ok := raw.(string); ok {
			for _, l := range n.layouts {
				if t, err := time.Parse(l, s); err == nil {
					return val{k: vInt, i: t.UnixNano(), date: true}
				}
			}
		}
	}
	return fromRaw(raw, n.ft)
}

// evalText is eval's shortcut for a field source that gives a plain
// string or number as text (jsondoc.TextFields): the value fromRaw would
// build from it, without building the Go value first. ok is false when
// the general path must answer (anything else, or a mapping that changes
// the value: a date format, an ignore_above the string may exceed, a type
// other than keyword, text or long). The string may share the event's
// memory: whoever keeps a val beyond the event copies it (owned).
func (n *fieldNode) evalText(doc Fields) (val, bool) {
	if n.layouts != nil {
		return val{}, false
	}
	text, kind, ok := n.lookupText(doc)
	if !ok {
		return val{}, false
	}
	switch kind {
	case jsondoc.TextString:
		if (n.ignoreAbove == 0 || len(text) <= n.ignoreAbove) && (n.ft == ftUnknown || n.ft == ftKeyword || n.ft == ftText) {
			return val{k: vStr, s: text}, true
		}
		if n.ft == ftDate || n.ft == ftDateNanos {
			// a timestamp: coerce's date, without boxing the string
			if v := coerce(val{k: vStr, s: text}, n.ft); v.date {
				return v, true
			}
		}
	case jsondoc.TextNumber:
		if n.ft == ftUnknown || n.ft == ftLong {
			if i, err := strconv.ParseInt(text, 10, 64); err == nil {
				return val{k: vInt, i: i}, true
			}
		}
	}
	return val{}, false
}

// owned is v with no string sharing an event's memory (see evalText).
func (v val) owned() val {
	switch v.k {
	case vStr:
		v.s = strings.Clone(v.s)
	case vList:
		l := make([]val, len(v.l))
		for i, e := range v.l {
			l[i] = e.owned()
		}
		v.l = l
	}
	return v
}

// leafNode is one predicate of a filter (a comparison, in, match, function
// or field between the and/or/not of the filter), evaluated as the query
// Elasticsearch builds for it: it matches or it does not, never null.
//
// A predicate that compares a field with constants becomes a term, terms,
// range or wildcard query, which the compiled node already answers (dsl).
// Any other predicate becomes a script run once per value of each field it
// reads, matching when one combination of values makes it true; a missing
// field is one null value, and a null result does not match
// (InternalEqlScriptUtils.multiValueDocValues with
// InternalQlScriptUtils.nullSafeFilter; querytranslator_tests.txt
// lengthFunctionWithExactField, disjunctionOfFunctionAndNegatedFunction).
type leafNode struct {
	x      cnode
	dsl    bool
	fields []*fieldNode // distinct fields the predicate reads
}

// maxCombinations bounds the values a script predicate is tried with on
// one event; beyond it the event counts as failed (a partial result).
const maxCombinations = 1 << 16

func newLeaf(x cnode, dsl bool) *leafNode {
	n := &leafNode{x: x, dsl: dsl}
	if !dsl {
		seen := map[string]bool{}
		walkFields(x, func(f *fieldNode) {
			if !seen[f.name] {
				seen[f.name] = true
				n.fields = append(n.fields, f)
			}
		})
	}
	return n
}

func (n *leafNode) eval(c *evalCtx) val {
	if n.dsl || len(n.fields) == 0 {
		return boolVal(truth(n.x.eval(c)) == True)
	}
	var vals [][]val
	combos := 1
	for i, f := range n.fields {
		v := f.eval(c)
		if v.k != vList {
			continue
		}
		if vals == nil {
			vals = make([][]val, len(n.fields))
		}
		vals[i] = v.l
		combos *= len(v.l)
		if combos > maxCombinations {
			c.failed = true
			c.failure = "a predicate reads more than 65536 combinations of field values"
			return boolVal(false)
		}
	}
	if vals == nil {
		return boolVal(truth(n.x.eval(c)) == True)
	}
	saved := c.binds
	defer func() { c.binds = saved }()
	c.binds = append(c.binds[:len(c.binds):len(c.binds)], make([]binding, 0, len(n.fields))...)
	var try func(i int) bool
	try = func(i int) bool {
		if i == len(n.fields) {
			return truth(n.x.eval(c)) == True
		}
		f := n.fields[i]
		if vals[i] == nil {
			c.binds = append(c.binds, binding{f.name, f.eval(c)})
			ok := try(i + 1)
			c.binds = c.binds[:len(c.binds)-1]
			return ok
		}
		for _, v := range vals[i] {
			c.binds = append(c.binds, binding{f.name, v})
			ok := try(i + 1)
			c.binds = c.binds[:len(c.binds)-1]
			if ok {
				return true
			}
		}
		return false
	}
	return boolVal(try(0))
}

// walkFields calls f for every field a compiled expression reads.
func walkFields(n cnode, f func(*fieldNode)) {
	switch x := n.(type) {
	case *fieldNode:
		f(x)
	case *leafNode:
		walkFields(x.x, f)
	case *notNode:
		walkFields(x.x, f)
	case *negNode:
		walkFields(x.x, f)
	case *andNode:
		walkFields(x.l, f)
		walkFields(x.r, f)
	case *orNode:
		walkFields(x.l, f)
		walkFields(x.r, f)
	case *isNullNode:
		walkFields(x.x, f)
	case *cmpNode:
		walkFields(x.l, f)
		walkFields(x.r, f)
	case *arithNode:
		walkFields(x.l, f)
		walkFields(x.r, f)
	case *inNode:
		walkFields(x.x, f)
		for _, e := range x.list {
			walkFields(e, f)
		}
	case *matchNode:
		walkFields(x.x, f)
	case *callNode:
		for _, a := range x.args {
			walkFields(a, f)
		}
	}
}

type notNode struct{ x cnode }

func (n *notNode) eval(c *evalCtx) val {
	v := n.x.eval(c)
	if v.k != vBool {
		return nullVal
	}
	return boolVal(!v.b)
}

func truth(v val) Tri {
	if v.k == vBool {
		return triOf(v.b)
	}
	return Null
}

type andNode struct{ l, r cnode }

func (n *andNode) eval(c *evalCtx) val {
	a := truth(n.l.eval(c))
	if a == False {
		return boolVal(false)
	}
	b := truth(n.r.eval(c))
	if b == False {
		return boolVal(false)
	}
	if a == True && b == True {
		return boolVal(true)
	}
	return nullVal
}

type orNode struct{ l, r cnode }

func (n *orNode) eval(c *evalCtx) val {
	a := truth(n.l.eval(c))
	if a == True {
		return boolVal(true)
	}
	b := truth(n.r.eval(c))
	if b == True {
		return boolVal(true)
	}
	if a == False && b == False {
		return boolVal(false)
	}
	return nullVal
}

// isNullNode implements "x == null" / "x != null": Elasticsearch rewrites
// equality with the null literal into IS NULL / IS NOT NULL.
type isNullNode struct {
	x   cnode
	not bool
}

func (n *isNullNode) eval(c *evalCtx) val {
	v := n.x.eval(c)
	isNull := v.k == vNull
	return boolVal(isNull != n.not)
}

// anyOf applies f to each value of a multi-valued v (an array matches when
// any of its values does, as a term query on an array does).
func anyOf(v val, f func(val) Tri) Tri {
	if v.k != vList {
		return f(v)
	}
	res := False
	for _, e := range v.l {
		switch f(e) {
		case True:
			return True
		case Null:
			res = Null
		}
	}
	return res
}

type cmpNode struct {
	op   string
	l, r cnode
	dsl  bool // pushed-down query semantics: a missing field does not match
}

func (n *cmpNode) eval(c *evalCtx) val {
	a := n.l.eval(c)
	b := n.r.eval(c)
	if n.dsl && n.op == "!=" {
		// must_not term: true unless some value equals
		if a.k == vNull || b.k == vNull {
			return boolVal(true)
		}
		eq := anyOf(a, func(x val) Tri {
			return anyOf(b, func(y val) Tri { return compareOp("==", x, y) })
		})
		return boolVal(eq != True)
	}
	if a.k == vNull || b.k == vNull {
		if n.dsl {
			return boolVal(false)
		}
		return nullVal
	}
	if a.k != vList && b.k != vList {
		return triVal(compareOp(n.op, a, b))
	}
	return triVal(anyOf(a, func(x val) Tri {
		return anyOf(b, func(y val) Tri { return compareOp(n.op, x, y) })
	}))
}

func compareOp(op string, x, y val) Tri {
	cmp, ok := compareVals(x, y)
	if !ok {
		switch op {
		case "==":
			return False
		case "!=":
			return True
		}
		return Null
	}
	switch op {
	case "==":
		return triOf(cmp == 0)
	case "!=":
		return triOf(cmp != 0)
	case "<":
		return triOf(cmp < 0)
	case "<=":
		return triOf(cmp <= 0)
	case ">":
		return triOf(cmp > 0)
	case ">=":
		return triOf(cmp >= 0)
	}
	return Null
}

// compareVals orders two scalars; ok=false when they are not comparable.
func compareVals(x, y val) (int, bool) {
	if x.date || y.date {
		xn, okx := asDate(x)
		yn, oky := asDate(y)
		if okx && oky {
			return cmpInt(xn, yn), true
		}
		return 0, false
	}
	switch {
	case x.k == vInt && y.k == vInt:
		return cmpInt(x.i, y.i), true
	case x.isNum() && y.isNum():
		a, b := x.num(), y.num()
		switch {
		case a < b:
			return -1, true
		case a > b:
			return 1, true
		case a == b:
			return 0, true
		}
		return 0, false
	case x.k == vStr && y.k == vStr:
		if x.ver || y.ver {
			return compareVersions(x.s, y.s), true
		}
		if x.ip || y.ip {
			if a, err := netip.ParseAddr(x.s); err == nil {
				if b, err := netip.ParseAddr(y.s); err == nil {
					return a.Unmap().Compare(b.Unmap()), true
				}
			}
		}
		return strings.Compare(x.s, y.s), true
	case x.k == vBool && y.k == vBool:
		switch {
		case x.b == y.b:
			return 0, true
		case !x.b:
			return -1, true
		}
		return 1, true
	}
	return 0, false
}

// asDate reads a date operand: a date field (epoch ns), a string literal
// in ISO 8601 or epoch millis, or a number (epoch millis).
func asDate(v val) (int64, bool) {
	if v.date {
		return v.i, true
	}
	return parseDateValue(v)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type inNode struct {
	x           cnode
	list        []cnode
	insensitive bool
	negated     bool
	dsl         bool
	consts      []val // the list when it is all literals (the usual case)
	ints        map[int64]struct{}
	strs        map[string]struct{} // lowercased when insensitive
}

// index builds the lookup sets when the constant list is all integers or
// all strings (ports, process names): membership is then one map probe.
func (n *inNode) index() {
	if n.consts == nil {
		return
	}
	allInt, allStr := true, true
	for _, c := range n.consts {
		allInt = allInt && c.k == vInt
		allStr = allStr && c.k == vStr
	}
	switch {
	case allInt:
		n.ints = make(map[int64]struct{}, len(n.consts))
		for _, c := range n.consts {
			n.ints[c.i] = struct{}{}
		}
	case allStr:
		n.strs = make(map[string]struct{}, len(n.consts))
		for _, c := range n.consts {
			s := c.s
			if n.insensitive {
				s = strings.ToLower(s)
			}
			n.strs[s] = struct{}{}
		}
	}
}

func (n *inNode) member(v val, items []val) bool {
	// fast paths for constant lists of one kind
	if !v.date && !v.ver && !v.ip {
		switch {
		case n.ints != nil && v.k == vInt:
			_, ok := n.ints[v.i]
			return ok
		case n.strs != nil && v.k == vStr:
			s := v.s
			if n.insensitive {
				s = strings.ToLower(s)
			}
			_, ok := n.strs[s]
			return ok
		}
	}
	for _, it := range items {
		if it.k == vList {
			for _, w := range it.l {
				if equalVals(v, w, n.insensitive) == True {
					return true
				}
			}
			continue
		}
		if equalVals(v, it, n.insensitive) == True {
			return true
		}
	}
	return false
}

func (n *inNode) eval(c *evalCtx) val {
	x := n.x.eval(c)
	if x.k == vNull {
		if n.dsl {
			return boolVal(n.negated)
		}
		return nullVal
	}
	items := n.consts
	if items == nil {
		items = make([]val, len(n.list))
		for i, e := range n.list {
			items[i] = e.eval(c)
		}
	}
	t := False
	if x.k == vList {
		for _, v := range x.l {
			if n.member(v, items) {
				t = True
				break
			}
		}
	} else if n.member(x, items) {
		t = True
	}
	if n.negated {
		t = -t
	}
	return triVal(t)
}

func equalVals(a, b val, insensitive bool) Tri {
	if insensitive && a.k == vStr && b.k == vStr {
		return triOf(strings.EqualFold(a.s, b.s))
	}
	return compareOp("==", a, b)
}

// matcher tests one string against one compiled pattern.
type matcher interface {
	match(s string) bool
}

type wildcard struct {
	pat  string // lowercased when insensitive
	fold bool
	re   *regexp.Regexp
	lit  bool
}

func (w *wildcard) match(s string) bool {
	if w.fold {
		s = strings.ToLower(s)
	}
	if w.lit {
		return s == w.pat
	}
	return w.re.MatchString(s)
}

func newWildcard(p string, fold bool) *wildcard {
	if fold {
		p = strings.ToLower(p)
	}
	w := &wildcard{pat: p, fold: fold}
	if !strings.ContainsAny(p, "*?") {
		w.lit = true
		return w
	}
	var b strings.Builder
	b.WriteString("^(?s:")
	for _, r := range p {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(")$")
	w.re = regexp.MustCompile(b.String())
	return w
}

type regexMatcher struct{ re *lucene.Regexp }

func (r regexMatcher) match(s string) bool { return r.re.MatchString(s) }

// compileRegex compiles a regex / regex~ pattern as Elasticsearch's regexp
// query does: Lucene's RegExp syntax with RegexpFlag.ALL, and for regex~
// RegExp.ASCII_CASE_INSENSITIVE (QL's RegexQuery sets case_insensitive).
func compileRegex(p string, fold bool) (*lucene.Regexp, error) {
	flags := lucene.All
	if fold {
		flags |= lucene.ASCIICaseInsensitive
	}
	return lucene.Compile(p, flags)
}

// computedRegex is regex on a computed value (a function result), which
// Elasticsearch cannot push down. Its optimizer (ReplaceRegexMatch) first
// reads the pattern as Lucene's RegExp without case folding
// (RLikePattern): a pattern matching every string becomes "x != null", one
// matching a single string "x == s" (InsensitiveEquals for regex~). What
// remains runs in a script as java.util.regex with Matcher.matches()
// (QL's RegexProcessor), CASE_INSENSITIVE for regex~.
func computedRegex(p string, fold bool) (matcher, error) {
	opt, err := compileRegex(p, false)
	if err != nil {
		return nil, err
	}
	if opt.MatchesAll() {
		return anyString{}, nil
	}
	if lit, ok := opt.Literal(); ok {
		return literalMatcher{lit, fold}, nil
	}
	jre, err := javaregex.Compile(p, fold)
	if err != nil {
		return nil, fmt.Errorf("regex on a computed value runs java.util.regex in Elasticsearch: %w", err)
	}
	return javaMatcher{jre}, nil
}

type javaMatcher struct{ re *javaregex.Regexp }

func (j javaMatcher) match(s string) bool { return j.re.MatchString(s) }

// firstChars shortens a long pattern for a message.
func firstChars(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "..."
	}
	return s
}

// anyString is what the optimizer makes of a pattern that matches every
// string: IsNotNull.
type anyString struct{}

func (anyString) match(string) bool { return true }

// allTotal reports whether every pattern became IsNotNull (x regex ".*"
// on a computed value): null then gives false. With one other pattern the
// disjunction is false OR null, which is null.
func (m *Match) allTotal() bool {
	if len(m.compiled) == 0 {
		return false
	}
	for _, mt := range m.compiled {
		if _, ok := mt.(anyString); !ok {
			return false
		}
	}
	return true
}

type literalMatcher struct {
	s    string
	fold bool
}

func (l literalMatcher) match(s string) bool {
	if l.fold {
		return strings.EqualFold(s, l.s)
	}
	return s == l.s
}

// patternPos locates byte off of a string literal's value in the query: a
// raw string holds its value verbatim; so does a quoted one without
// escapes. Otherwise the literal's start is the best position there is.
func patternPos(src string, lit *Literal, value string, off int) Pos {
	st, end := lit.Span()
	text := ""
	if st.Offset >= 0 && end <= len(src) && st.Offset <= end {
		text = src[st.Offset:end]
	}
	switch {
	case strings.HasPrefix(text, `"""`) && strings.HasPrefix(text[3:], value):
		return posAt(src, st.Offset+3+off)
	case len(text) >= 2 && text[1:len(text)-1] == value:
		return posAt(src, st.Offset+1+off)
	}
	return st
}

func (m *Match) compile(src string) *Error {
	m.compiled = m.compiled[:0]
	for _, pe := range m.Patterns {
		lit := pe.(*Literal)
		s, isStr := lit.Val.(string)
		if !isStr {
			if m.Op == ":" {
				m.compiled = append(m.compiled, nil) // equality with a non-string
				continue
			}
			st, _ := lit.Span()
			return errAt(src, st, "[%s] requires a string pattern, found [%s]", m.Op, formatLiteral(lit.Val))
		}
		switch m.Op {
		case ":":
			m.compiled = append(m.compiled, newWildcard(s, true))
		case "like", "like~":
			m.compiled = append(m.compiled, newWildcard(s, m.Op == "like~"))
		case "regex", "regex~":
			re, err := compileRegex(s, m.Op == "regex~")
			if err != nil {
				pos, _ := lit.Span()
				var le *lucene.Error
				if errors.As(err, &le) {
					pos = patternPos(src, lit, s, le.Offset)
				}
				return errAt(src, pos, "invalid regular expression [%s]: %v", s, err)
			}
			if isField(m.X) {
				if err := lucene.CheckLength(s); err != nil {
					pos, _ := lit.Span()
					return errAt(src, pos, "invalid regular expression [%s]: %v", firstChars(s, 40), err)
				}
				m.compiled = append(m.compiled, regexMatcher{re})
				continue
			}
			mt, err := computedRegex(s, m.Op == "regex~")
			if err != nil {
				pos, _ := lit.Span()
				var je *javaregex.Error
				if errors.As(err, &je) {
					pos = patternPos(src, lit, s, je.Offset)
				}
				return errAt(src, pos, "invalid regular expression [%s]: %v", s, err)
			}
			m.compiled = append(m.compiled, mt)
		}
	}
	return nil
}

type matchNode struct {
	x    cnode
	m    *Match
	lits []val
	dsl  bool
}

func (n *matchNode) eval(c *evalCtx) val {
	x := n.x.eval(c)
	if x.k == vNull {
		if n.dsl || n.m.allTotal() {
			// Pushed down, or every pattern became IsNotNull, which is
			// false, not null, for a null value.
			return boolVal(false)
		}
		return nullVal
	}
	return triVal(anyOf(x, func(v val) Tri {
		for i, mt := range n.m.compiled {
			if mt == nil {
				if equalVals(v, n.lits[i], true) == True {
					return True
				}
				continue
			}
			if v.k != vStr {
				continue
			}
			if mt.match(v.s) {
				return True
			}
		}
		return False
	}))
}

type negNode struct{ x cnode }

func (n *negNode) eval(c *evalCtx) val {
	v := first(n.x.eval(c))
	switch v.k {
	case vInt:
		return intVal(-v.i)
	case vFloat:
		return floatVal(-v.fl())
	}
	return nullVal
}

type arithNode struct {
	op   string
	l, r cnode
}

func (n *arithNode) eval(c *evalCtx) val {
	return arith(n.op, first(n.l.eval(c)), first(n.r.eval(c)))
}

func arith(op string, a, b val) val {
	if !a.isNum() || !b.isNum() {
		return nullVal
	}
	if a.k == vInt && b.k == vInt {
		x, y := a.i, b.i
		switch op {
		case "+":
			return intVal(x + y)
		case "-":
			return intVal(x - y)
		case "*":
			return intVal(x * y)
		case "/":
			if y == 0 {
				return nullVal
			}
			return intVal(x / y)
		case "%":
			if y == 0 {
				return nullVal
			}
			return intVal(x % y)
		}
	}
	x, y := a.num(), b.num()
	switch op {
	case "+":
		return floatVal(x + y)
	case "-":
		return floatVal(x - y)
	case "*":
		return floatVal(x * y)
	case "/":
		if y == 0 {
			return nullVal
		}
		return floatVal(x / y)
	case "%":
		if y == 0 {
			return nullVal
		}
		return floatVal(math.Mod(x, y))
	}
	return nullVal
}

// first reduces a multi-valued field to its first value, as scripts on
// doc values see it.
func first(v val) val {
	if v.k == vList {
		if len(v.l) == 0 {
			return nullVal
		}
		return v.l[0]
	}
	return v
}

type callNode struct {
	c    *Call
	args []cnode
}

func toString(v val) (string, bool) {
	switch v.k {
	case vStr:
		return v.s, true
	case vInt:
		if v.date {
			return formatDate(v.i, v.i%1e6 != 0), true
		}
		return strconv.FormatInt(v.i, 10), true
	case vFloat:
		return strconv.FormatFloat(v.fl(), 'f', -1, 64), true
	case vBool:
		return strconv.FormatBool(v.b), true
	}
	return "", false
}

func (n *callNode) eval(c *evalCtx) val {
	args := make([]val, len(n.args))
	for i, a := range n.args {
		args[i] = first(a.eval(c))
	}
	fold := n.c.Insensitive
	switch n.c.Name {
	case "add":
		return arith("+", args[0], args[1])
	case "subtract":
		return arith("-", args[0], args[1])
	case "multiply":
		return arith("*", args[0], args[1])
	case "divide":
		return arith("/", args[0], args[1])
	case "modulo":
		return arith("%", args[0], args[1])
	case "between":
		src, ok1 := toString(args[0])
		l, ok2 := toString(args[1])
		r, ok3 := toString(args[2])
		if !ok1 || !ok2 || !ok3 {
			return nullVal
		}
		greedy := false
		if len(args) > 3 {
			if args[3].k != vBool {
				return nullVal
			}
			greedy = args[3].b
		}
		return strVal(between(src, l, r, greedy, fold))
	case "cidrMatch":
		ipv := args[0]
		if ipv.k != vStr {
			return nullVal
		}
		ip, err := netip.ParseAddr(ipv.s)
		if err != nil {
			return boolVal(false)
		}
		ip = ip.Unmap()
		for _, a := range args[1:] {
			if a.k != vStr {
				continue
			}
			pfx, err := netip.ParsePrefix(a.s)
			if err != nil {
				continue
			}
			if pfx.Masked().Contains(ip) {
				return boolVal(true)
			}
		}
		return boolVal(false)
	case "concat":
		var b strings.Builder
		for _, a := range args {
			s, ok := toString(a)
			if !ok {
				return nullVal
			}
			b.WriteString(s)
		}
		return strVal(b.String())
	case "endsWith", "startsWith", "stringContains":
		s, ok1 := toString(args[0])
		sub, ok2 := toString(args[1])
		if args[0].k != vStr || !ok1 || !ok2 {
			return nullVal
		}
		if fold {
			s, sub = strings.ToLower(s), strings.ToLower(sub)
		}
		switch n.c.Name {
		case "endsWith":
			return boolVal(strings.HasSuffix(s, sub))
		case "startsWith":
			return boolVal(strings.HasPrefix(s, sub))
		}
		return boolVal(strings.Contains(s, sub))
	case "indexOf":
		s, ok1 := toString(args[0])
		sub, ok2 := toString(args[1])
		if args[0].k != vStr || !ok1 || !ok2 {
			return nullVal
		}
		start := int64(0)
		if len(args) > 2 {
			if args[2].k == vNull {
				start = 0
			} else if args[2].k != vInt {
				return nullVal
			} else {
				start = args[2].i
			}
		}
		if fold {
			s, sub = strings.ToLower(s), strings.ToLower(sub)
		}
		if start < 0 {
			start = 0
		}
		if start > int64(len(s)) {
			return nullVal
		}
		i := strings.Index(s[start:], sub)
		if i < 0 {
			return nullVal
		}
		return intVal(start + int64(i))
	case "length":
		s, ok := toString(args[0])
		if args[0].k != vStr || !ok {
			return nullVal
		}
		return intVal(int64(len([]rune(s))))
	case "number":
		s, ok := toString(args[0])
		if !ok {
			return nullVal
		}
		base := int64(10)
		if len(args) > 1 && args[1].k != vNull {
			if args[1].k != vInt {
				return nullVal
			}
			base = args[1].i
		}
		return parseNumber(s, int(base))
	case "string":
		s, ok := toString(args[0])
		if !ok {
			return nullVal
		}
		return strVal(s)
	case "substring":
		s, ok := toString(args[0])
		if args[0].k != vStr || !ok || args[1].k != vInt {
			return nullVal
		}
		r := []rune(s)
		start := args[1].i
		end := int64(len(r))
		if len(args) > 2 && args[2].k != vNull {
			if args[2].k != vInt {
				return nullVal
			}
			end = args[2].i
		}
		return strVal(substring(r, start, end))
	}
	return nullVal
}

// between implements EQL's between(): the text between the first left
// and the first (or, greedy, the last) right after it; "" when absent.
func between(src, left, right string, greedy, fold bool) string {
	hay := src
	if fold {
		hay, left, right = strings.ToLower(src), strings.ToLower(left), strings.ToLower(right)
	}
	i := strings.Index(hay, left)
	if i < 0 {
		return ""
	}
	start := i + len(left)
	var j int
	if greedy {
		j = strings.LastIndex(hay[start:], right)
	} else {
		j = strings.Index(hay[start:], right)
	}
	if j < 0 {
		return ""
	}
	return src[start : start+j]
}

// substring has Python slice semantics: negative offsets count from the end.
func substring(r []rune, start, end int64) string {
	n := int64(len(r))
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	if start < 0 {
		start = 0
	}
	if end > n {
		end = n
	}
	if start >= end || start >= n {
		return ""
	}
	return string(r[start:end])
}

func parseNumber(s string, base int) val {
	s = strings.TrimSpace(s)
	if base == 16 {
		t := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
		if i, err := strconv.ParseInt(t, 16, 64); err == nil {
			return intVal(i)
		}
		return nullVal
	}
	if base != 10 {
		if i, err := strconv.ParseInt(s, base, 64); err == nil {
			return intVal(i)
		}
		return nullVal
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return intVal(i)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return floatVal(f)
	}
	return nullVal
}

// javaDateLayouts converts an Elasticsearch date format ("dd-MM-yyyy",
// alternatives separated by ||) into Go layouts; built-in named formats
// are left to the default parser.
func javaDateLayouts(f string) []string {
	var out []string
	r := strings.NewReplacer("yyyy", "2006", "uuuu", "2006", "MM", "01", "dd", "02", "HH", "15", "mm", "04", "ss", "05", "SSS", "000", "'T'", "T", "XXX", "Z07:00", "Z", "Z0700")
	for _, alt := range strings.Split(f, "||") {
		if strings.ContainsAny(alt, "yMd") {
			out = append(out, r.Replace(alt))
		}
	}
	return out
}
