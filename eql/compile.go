package eql

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/purpleharness/purpleharness/internal/editdist"
)

// Option configures Compile and Search.
type Option func(*config)

type config struct {
	mapping   *Mapping
	index     string
	streaming bool
	badField  func(index, field string) bool
	report    *SequenceReport
	holdAll   bool // hold every event for the sort, even one no filter matches (the reference)
	spill     *Spill
	marks     *marksKey // take the marks of a Prefilter's tests (Prefilter.Marks)
}

// WithMapping gives the engine the index mapping: field types, aliases
// and null_value defaults. With a mapping, unknown fields are errors
// ("Unknown column [x]"), exactly as Elasticsearch reports them; without
// one every field is accepted and read as it appears in the event.
func WithMapping(m *Mapping) Option { return func(c *config) { c.mapping = m } }

// WithIndex names the index reported in each hit's _index.
func WithIndex(name string) Option { return func(c *config) { c.index = name } }

// Sorted promises that events arrive ordered by timestamp then tiebreaker
// (see Sort). Search then consumes them as a stream, keeping only open
// sequences and the result window in memory, and fails on the first event
// that breaks the order. Without it Search reads and sorts all events
// first. SearchSources with several sources always sorts.
func Sorted() Option { return func(c *config) { c.streaming = true } }

// HoldAll makes Search hold every event of unsorted input for the sort,
// even one that no filter of the query matches. Without it Search drops
// those as it reads them: the same answer in less memory. HoldAll is the
// reference the tests compare that against.
func HoldAll() Option { return func(c *config) { c.holdAll = true } }

// WithFailingField makes evaluating field on events of index fail, the way
// an Elasticsearch runtime field whose script throws fails that index's
// shard (the conformance corpus's "broken" field).
func WithFailingField(f func(index, field string) bool) Option {
	return func(c *config) { c.badField = f }
}

// Program is a verified query ready to run.
type Program struct {
	q       *Query
	stages  []*stage // runs expanded
	until   *stage
	keys    []*fieldNode // global join keys
	keyOpt  []bool
	mapping *Mapping
}

// stage is one compiled query of a sequence/sample, or the event query.
type stage struct {
	t        *term
	category string
	cond     cnode
	keys     []*fieldNode
	keyOpt   []bool
	missing  bool
	runIndex int // 0-based position inside a runs expansion
}

// Query returns the parsed query behind p.
func (p *Program) Query() *Query { return p.q }

// Compile verifies q against the options (mapping) and prepares it for
// evaluation. Errors are *Error, positioned in q.Src.
func Compile(q *Query, opts ...Option) (*Program, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	p, err := compile(q, &cfg)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Verify checks q like Compile but reports every verification problem
// (unknown fields, field-to-field comparisons, argument and literal types),
// in query order, as Elasticsearch's "Found N problems" does. It returns
// nil for a valid query.
func Verify(q *Query, opts ...Option) []*Error {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	c := &compiler{q: q, m: cfg.mapping, collect: true}
	if _, err := c.program(); err != nil {
		return append(c.errs, err)
	}
	slices.SortStableFunc(c.errs, func(a, b *Error) int { return a.Offset - b.Offset })
	// the copies of a "with runs=N" stage report the same problem
	return slices.CompactFunc(c.errs, func(a, b *Error) bool { return a.Offset == b.Offset && a.Msg == b.Msg })
}

type compiler struct {
	q *Query
	m *Mapping
	// inQuery is true while compiling the boolean skeleton of a filter
	// (and/or/not down to the predicates). Elasticsearch translates those
	// predicates into Query DSL, where a document without the field simply
	// does not match a term/range/wildcard query and therefore matches its
	// negation (must_not): "not process.name in~ (...)" selects events with
	// no process.name. Inside functions and other values the script
	// semantics (null propagates) apply.
	inQuery bool
	// collect makes verification errors accumulate in errs (Verify)
	// instead of stopping at the first (Compile).
	collect bool
	errs    []*Error
}

// fail reports a verification error: returned, or collected with a null
// placeholder so that verification goes on.
func (c *compiler) fail(e *Error) (cnode, *Error) {
	if c.collect {
		c.errs = append(c.errs, e)
		return &litNode{nullVal}, nil
	}
	return nil, e
}

func compile(q *Query, cfg *config) (*Program, *Error) {
	c := &compiler{q: q, m: cfg.mapping}
	return c.program()
}

func (c *compiler) program() (*Program, *Error) {
	q := c.q
	p := &Program{q: q, mapping: c.m}
	for _, k := range q.JoinKeys {
		fn, err := c.keyField(k)
		if err != nil {
			return nil, err
		}
		p.keys = append(p.keys, fn)
		p.keyOpt = append(p.keyOpt, k.Optional)
	}
	mk := func(t *term, run int) (*stage, *Error) {
		s := &stage{t: t, category: t.category, missing: t.missing, runIndex: run}
		c.inQuery = true
		cond, err := c.expr(t.cond)
		c.inQuery = false
		if err != nil {
			return nil, err
		}
		if c.m != nil && t.category != "" {
			// event.category must be mapped for a category filter.
		}
		s.cond = cond
		for _, k := range t.keys {
			fn, err := c.keyField(k)
			if err != nil {
				return nil, err
			}
			s.keys = append(s.keys, fn)
			s.keyOpt = append(s.keyOpt, k.Optional)
		}
		return s, nil
	}
	for _, t := range q.terms {
		for r := 0; r < t.runs; r++ {
			s, err := mk(t, r)
			if err != nil {
				return nil, err
			}
			p.stages = append(p.stages, s)
		}
	}
	if q.until != nil {
		s, err := mk(q.until, 0)
		if err != nil {
			return nil, err
		}
		p.until = s
	}
	if len(c.errs) == 0 {
		// the verifier's concrete checks run once everything resolved
		// (VerifierChecks.checkFilterConditionType)
		terms := q.terms
		if q.until != nil {
			terms = append(terms[:len(terms):len(terms)], q.until)
		}
		for _, t := range terms {
			if dt := c.dataType(t.cond); dt != "" && dt != "BOOLEAN" {
				if _, err := c.fail(c.err(t.cond, "Condition expression needs to be boolean, found [%s]", dt)); err != nil {
					return nil, err
				}
			}
		}
	}
	return p, nil
}

func (c *compiler) err(e Expr, format string, args ...any) *Error {
	s, _ := e.Span()
	return errAt(c.q.Src, s, format, args...)
}

func (c *compiler) keyField(k *FieldRef) (*fieldNode, *Error) {
	n, err := c.field(k)
	if err != nil {
		return nil, err
	}
	fn, ok := n.(*fieldNode)
	if !ok {
		// an optional field unknown to the mapping: always null
		return &fieldNode{name: "\x00unknown:" + k.Name}, nil
	}
	if fn.ft == ftText || fn.inexact {
		// Elasticsearch extracts and filters join keys through the exact
		// field (FieldExtractorRegistry: exactAttribute()), which fails
		// for a text field without one keyword sub-field
		msg := noExact(k.Name[strings.LastIndexByte(k.Name, '.')+1:])
		if c.m != nil {
			if name, _, ok := c.m.resolve(k.Name); ok {
				if ix, ok := c.m.inexact[name]; ok {
					msg = ix.msg
				}
			}
		}
		if _, err := c.fail(c.err(k, "%s", msg)); err != nil {
			return nil, err
		}
		return fn, nil
	}
	return fn, nil
}

func (c *compiler) field(f *FieldRef) (cnode, *Error) {
	if c.m == nil {
		return &fieldNode{name: f.Name}, nil
	}
	name, ft, ok := c.m.resolve(f.Name)
	if !ok {
		if f.Optional {
			return &litNode{nullVal}, nil
		}
		return c.fail(c.err(f, "Unknown column [%s]%s", f.Name, c.suggest(f.Name)))
	}
	if anc, ok := c.m.nested[name]; ok {
		// Elasticsearch's EQL reads no field under a nested mapping
		// (VerifierTests.testNested, testMultiField)
		if anc == name {
			return c.fail(c.err(f, "Cannot use field [%s] type [nested] due to nested fields not being supported yet", f.Name))
		}
		return c.fail(c.err(f, "Cannot use field [%s] type [%s] with unsupported nested type in hierarchy (field [%s])", f.Name, dataTypeName(c.m.declared[name]), anc))
	}
	if ft == ftObject {
		return c.fail(c.err(f, "Cannot use field [%s] type [object] only its subfields", f.Name))
	}
	fn := &fieldNode{name: name, ft: ft, runtime: ft == ftRuntime}
	if ex, ok := c.m.exact[name]; ok {
		// a text field is compared through its keyword sub-field
		// (FieldAttribute.exactAttribute): same _source value, the
		// sub-field's ignore_above
		fn.ft = c.m.fields[ex]
		fn.ignoreAbove = c.m.ignoreAbove[ex]
	} else {
		fn.ignoreAbove = c.m.ignoreAbove[name]
	}
	if _, ok := c.m.inexact[name]; ok {
		fn.inexact = true
	}
	if src, ok := c.m.source[name]; ok {
		// a multi-field sub-field indexes its parent's _source value
		fn.name = src
	}
	if nv, ok := c.m.nullVal[name]; ok {
		fn.nullVal, fn.hasNull = nv, true
	}
	if f, ok := c.m.formats[name]; ok {
		fn.layouts = javaDateLayouts(f)
	}
	if v, ok := c.m.consts[name]; ok {
		// a constant_keyword field has its value on every document of
		// the index, whatever _source holds
		fn.constant, fn.hasConst = v, true
	}
	return fn, nil
}

// dataType is the QL data type (upper case, as DataType prints) of a
// condition, "" when this engine does not know it for certain.
func (c *compiler) dataType(e Expr) string {
	switch x := e.(type) {
	case *Literal:
		switch v := x.Val.(type) {
		case bool:
			return "BOOLEAN"
		case string:
			return "KEYWORD"
		case float64:
			return "DOUBLE"
		case int64:
			if v == int64(int32(v)) {
				return "INTEGER"
			}
			return "LONG"
		}
	case *FieldRef:
		if c.m == nil {
			return ""
		}
		name, ft, ok := c.m.resolve(x.Name)
		if !ok || ft == ftObject || ft == ftRuntime {
			return ""
		}
		if ft == ftBool {
			return "BOOLEAN"
		}
		if ex, ok := c.m.exact[name]; ok && ex != "" {
			return "TEXT"
		}
		if d := c.m.declared[name]; d != "" {
			return strings.ToUpper(dataTypeName(d))
		}
	case *Call:
		switch x.Name {
		case "length", "indexOf":
			return "INTEGER"
		case "concat", "string", "substring", "between":
			return "KEYWORD"
		case "startsWith", "endsWith", "stringContains", "cidrMatch":
			return "BOOLEAN"
		}
	case *Not, *In, *Match:
		return "BOOLEAN"
	case *Binary:
		if comparisonOps[x.Op] || x.Op == "and" || x.Op == "or" {
			return "BOOLEAN"
		}
	}
	return ""
}

// dataTypeName is the name Elasticsearch's QL data types give a mapped type.
func dataTypeName(t string) string {
	if t == "date" {
		return "datetime"
	}
	return t
}

// Argument positions in Elasticsearch's type-resolution messages.
const (
	ordDefault = ""
	ordFirst   = "first argument "
	ordSecond  = "second argument "
)

// checkExact rejects a field with no exact form (a text field without
// one keyword sub-field, a normalized keyword) where Elasticsearch needs
// one: comparisons, in, like/regex, string functions
// (TypeResolutions.isExact; VerifierTests.testMultiField,
// testStringFunctionWithText).
func (c *compiler) checkExact(arg, in Expr, ord string) *Error {
	return c.checkExactAs(arg, in, c.q.source(in), ord)
}

// checkExactAs is checkExact with the operation's name in the message.
func (c *compiler) checkExactAs(arg, in Expr, op, ord string) *Error {
	f, ok := arg.(*FieldRef)
	if !ok || c.m == nil {
		return nil
	}
	name, _, ok := c.m.resolve(f.Name)
	if !ok {
		return nil
	}
	ix, ok := c.m.inexact[name]
	if !ok {
		return nil
	}
	return c.err(in, "[%s] cannot operate on %sfield of data type [%s]: %s", op, ord, ix.typeName, ix.msg)
}

// suggest proposes close field names, as Elasticsearch's "did you mean".
func (c *compiler) suggest(name string) string {
	var best []string
	for _, f := range c.m.Fields() {
		if d := editDistance(strings.ToLower(f), strings.ToLower(name)); d <= 2 && d < len(name)/2+1 {
			best = append(best, f)
		}
	}
	if len(best) == 0 {
		return ""
	}
	if len(best) == 1 {
		return ", did you mean [" + best[0] + "]?"
	}
	if len(best) > 5 {
		best = best[:5]
	}
	return ", did you mean any of [" + strings.Join(best, ", ") + "]?"
}

// editDistance is the edit distance, for names of at most 64 bytes
// (longer ones get no suggestion).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	return editdist.Levenshtein(a, b)
}

func isField(e Expr) bool {
	_, ok := e.(*FieldRef)
	return ok
}

func isNullLit(e Expr) bool {
	l, ok := e.(*Literal)
	return ok && l.Val == nil
}

func (c *compiler) expr(e Expr) (cnode, *Error) {
	e = eliminateBooleanEquals(e)
	inQuery := c.inQuery
	defer func() { c.inQuery = inQuery }()
	if isLogic(e) {
		// keep the query context
		return c.node(e, false)
	}
	c.inQuery = false
	if !inQuery {
		return c.node(e, false)
	}
	// A predicate of the filter: Elasticsearch turns it into one query of
	// the bool query (term, range, wildcard... or a script), which matches
	// a document or does not. Its null is "no match", and a "not" above it
	// is must_not: the negation matches what the predicate did not.
	dsl := dslOperand(e)
	n, err := c.node(e, dsl)
	if err != nil {
		return nil, err
	}
	return newLeaf(n, dsl), nil
}

// isLogic reports the boolean skeleton of a filter: and, or, not.
func isLogic(e Expr) bool {
	switch x := e.(type) {
	case *Binary:
		return x.Op == "and" || x.Op == "or"
	case *Not:
		return true
	}
	return false
}

// eliminateBooleanEquals rewrites "p == true" to p and "p == false" to
// "not p" (and != the other way round) when p is a boolean function, a
// comparison or a predicate, as Elasticsearch's optimizer does
// (OptimizerRules.BooleanFunctionEqualsElimination after
// LiteralsOnTheRight; querytranslator_tests.txt functionEqualsFalse:
// cidrMatch(...) == false becomes must_not terms).
func eliminateBooleanEquals(e Expr) Expr {
	b, ok := e.(*Binary)
	if !ok || (b.Op != "==" && b.Op != "!=") {
		return e
	}
	fn, lit := b.L, b.R
	if _, ok := fn.(*Literal); ok {
		fn, lit = b.R, b.L
	}
	l, ok := lit.(*Literal)
	if !ok {
		return e
	}
	v, ok := l.Val.(bool)
	if !ok || !booleanFunction(fn) {
		return e
	}
	if v == (b.Op == "==") {
		return fn
	}
	return &Not{span: b.span, X: fn}
}

// booleanFunction reports an expression that is a function (in
// Elasticsearch's sense: not a field, not a literal) returning a boolean.
func booleanFunction(e Expr) bool {
	switch x := e.(type) {
	case *Not, *In, *Match:
		return true
	case *Binary:
		return comparisonOps[x.Op] || x.Op == "and" || x.Op == "or"
	case *Call:
		switch x.Name {
		case "startsWith", "endsWith", "stringContains", "cidrMatch":
			return true
		}
	}
	return false
}

func (c *compiler) node(e Expr, dsl bool) (cnode, *Error) {
	switch x := e.(type) {
	case *Literal:
		return &litNode{literalVal(x.Val)}, nil
	case *FieldRef:
		return c.field(x)
	case *Not:
		n, err := c.expr(x.X)
		if err != nil {
			return nil, err
		}
		return &notNode{n}, nil
	case *Neg:
		n, err := c.expr(x.X)
		if err != nil {
			return nil, err
		}
		return &negNode{n}, nil
	case *Binary:
		if comparisonOps[x.Op] {
			if lf, ok := x.L.(*FieldRef); ok && isField(x.R) && !lf.Optional && !x.R.(*FieldRef).Optional {
				return c.fail(c.err(x, "Comparisons against fields are not (currently) supported; offender [%s] in [%s]", c.q.source(x.R), c.q.source(x)))
			}
			if (x.Op == "==" || x.Op == "!=") && (isNullLit(x.L) || isNullLit(x.R)) {
				other := x.L
				if isNullLit(x.L) {
					other = x.R
				}
				n, err := c.expr(other)
				if err != nil {
					return nil, err
				}
				return &isNullNode{x: n, not: x.Op == "!="}, nil
			}
		}
		l, err := c.expr(x.L)
		if err != nil {
			return nil, err
		}
		r, err := c.expr(x.R)
		if err != nil {
			return nil, err
		}
		if x.Op == "==" || x.Op == "!=" {
			// an optional field unknown to the mapping is the null literal
			if ln, ok := l.(*litNode); ok && ln.v.k == vNull {
				return &isNullNode{x: r, not: x.Op == "!="}, nil
			}
			if rn, ok := r.(*litNode); ok && rn.v.k == vNull {
				return &isNullNode{x: l, not: x.Op == "!="}, nil
			}
		}
		switch x.Op {
		case "and":
			return &andNode{l, r}, nil
		case "or":
			return &orNode{l, r}, nil
		case "+", "-", "*", "/", "%":
			return &arithNode{x.Op, l, r}, nil
		}
		for i, side := range []Expr{x.L, x.R} {
			if err := c.checkExact(side, x, []string{ordFirst, ordSecond}[i]); err != nil {
				return c.fail(err)
			}
		}
		if dsl {
			l, r = c.queryValues(x, l, r)
		}
		return &cmpNode{op: x.Op, l: l, r: r, dsl: dsl}, nil
	case *In:
		if x.Insensitive {
			// in~ is an InsensitiveEquals per element (ExpressionBuilder,
			// IN_INSENSITIVE), with its type resolution
			for _, it := range x.List {
				if err := c.checkInsensitiveCmp(x.X, it); err != nil {
					return c.fail(err)
				}
			}
		} else if err := c.checkExactAs(x.X, x, "IN", ordDefault); err != nil {
			// In.resolveType names the operation by its class, IN
			return c.fail(err)
		} else if err := c.checkInTypes(x); err != nil {
			return c.fail(err)
		}
		n, err := c.expr(x.X)
		if err != nil {
			return nil, err
		}
		in := &inNode{x: n, insensitive: x.Insensitive, negated: x.Negated, dsl: dsl}
		for _, it := range x.List {
			if isField(it) {
				if _, err := c.fail(c.err(it, "Comparisons against fields are not (currently) supported; offender [%s] in [%s]", c.q.source(it), c.q.source(x))); err != nil {
					return nil, err
				}
				continue
			}
			cn, err := c.expr(it)
			if err != nil {
				return nil, err
			}
			in.list = append(in.list, cn)
		}
		for _, cn := range in.list {
			ln, ok := cn.(*litNode)
			if !ok {
				in.consts = nil
				break
			}
			in.consts = append(in.consts, ln.v)
		}
		in.index()
		return in, nil
	case *Match:
		if err := c.checkMatchTypes(x); err != nil {
			return c.fail(err)
		}
		n, err := c.expr(x.X)
		if err != nil {
			return nil, err
		}
		mn := &matchNode{x: n, m: x, dsl: dsl}
		for _, p := range x.Patterns {
			mn.lits = append(mn.lits, literalVal(p.(*Literal).Val))
		}
		return mn, nil
	case *Call:
		for i, a := range x.Args {
			if k := functionArgs[x.Name]; i < len(k) && k[i] != argStr {
				continue // a numeric, boolean or ip argument: checkArgs
			}
			ord := ordDefault
			switch {
			case x.Name == "concat" || len(functionArgs[x.Name]) == 1 || x.Name == "string":
			case i < len(ordinals):
				ord = ordinals[i] + " argument "
			}
			if err := c.checkExact(a, x, ord); err != nil {
				if _, err := c.fail(err); err != nil {
					return nil, err
				}
				break
			}
		}
		if err := c.checkArgs(x); err != nil {
			if _, err := c.fail(err); err != nil {
				return nil, err
			}
		}
		cn := &callNode{c: x}
		for _, a := range x.Args {
			n, err := c.expr(a)
			if err != nil {
				return nil, err
			}
			cn.args = append(cn.args, n)
		}
		return cn, nil
	}
	return nil, c.err(e, "unsupported expression")
}

// checkMatchTypes rejects a string operator on a value that is not a
// string, or not exact, as Elasticsearch's type resolution does. Each
// operator is a different class there (x-pack/plugin/eql ExpressionBuilder
// visitOperatorExpressionDefault), and each words its error its own way:
//
//   - ":" is an InsensitiveWildcardEquals per pattern:
//     InsensitiveBinaryComparison.resolveInputType checks both sides with
//     isString then isExact, naming the operation by its symbol, and adds
//     "; consider using [==] instead" to a type error (VerifierTests
//     testIncorrectUsageOfStringEquals);
//   - like, like~ are ql's Like: RegexMatch.resolveType,
//     isStringAndExact(field, sourceText, DEFAULT);
//   - regex, regex~ are EQL's Match function: isStringAndExact(field,
//     sourceText, FIRST), then each pattern by its position.
func (c *compiler) checkMatchTypes(x *Match) *Error {
	switch x.Op {
	case ":":
		for _, p := range x.Patterns {
			if err := c.checkInsensitiveCmp(x.X, p); err != nil {
				return err
			}
		}
		return nil
	case "like", "like~":
		return c.checkStringAndExact(x.X, x, ordDefault)
	}
	return c.checkStringAndExact(x.X, x, ordFirst)
}

// checkInsensitiveCmp is InsensitiveBinaryComparison.resolveInputType on
// both sides of one "field : value" comparison.
func (c *compiler) checkInsensitiveCmp(l, r Expr) *Error {
	for i, side := range []Expr{l, r} {
		ord := []string{ordFirst, ordSecond}[i]
		if name, got, bad := c.notString(side); bad {
			return c.err(l, "%sof [:] must be [string], found value [%s] type [%s]; consider using [==] instead", ord, name, got)
		}
		if err := c.checkExactAs(side, l, ":", ord); err != nil {
			return err
		}
	}
	return nil
}

// notString reports an operand of a known type that is not a string (ql's
// TypeResolutions.isString fails), with the name and type its message
// gives: the field's name, or the literal as written.
func (c *compiler) notString(e Expr) (name, typ string, bad bool) {
	typ, name = c.argKind(e)
	if typ == "" || typ == "null" || isStringType(typ) {
		return "", "", false
	}
	if name == "" {
		name = c.q.source(e)
	}
	return name, typ, true
}

// checkStringAndExact is TypeResolutions.isStringAndExact on arg of in,
// the operation named by in's source text.
func (c *compiler) checkStringAndExact(arg, in Expr, ord string) *Error {
	if name, got, bad := c.notString(arg); bad {
		prefix := ord
		if prefix == ordDefault {
			prefix = "argument "
		}
		return c.err(in, "%sof [%s] must be [string], found value [%s] type [%s]", prefix, c.q.source(in), name, got)
	}
	return c.checkExact(arg, in, ord)
}

// checkInTypes is In.resolveType's check that every listed value is of a
// type compatible with the field's (VerifierTests.testMixedSet:
// "2nd argument of [long_field in (1, "string")] must be [long], found
// value ["string"] type [keyword]"). Only the mismatches that test pins
// are reported: a string among the values of a numeric field, a number or
// boolean among those of a string field.
func (c *compiler) checkInTypes(x *In) *Error {
	f, ok := x.X.(*FieldRef)
	if !ok || c.m == nil || f.Optional {
		return nil
	}
	ft, ok := c.m.Type(f.Name)
	if !ok {
		return nil
	}
	numeric := slices.Contains([]string{"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long"}, ft)
	for i, it := range x.List {
		lit, ok := it.(*Literal)
		if !ok || lit.Val == nil {
			continue
		}
		_, isStr := lit.Val.(string)
		if (numeric && isStr) || (isStringType(ft) && !isStr) {
			return c.err(x, "%s argument of [%s] must be [%s], found value [%s] type [%s]",
				ordinalSuffix(i+1), c.q.source(x), ft, c.q.source(it), literalTypeName(lit.Val))
		}
	}
	return nil
}

// ordinalSuffix is 1st, 2nd, 3rd, 4th, ... (ql's StringUtils.ordinal).
func ordinalSuffix(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

// isStringType is ql's DataTypes.isString over mapped type names: keyword
// and text, with the types Elasticsearch resolves to them (constant_keyword,
// wildcard, match_only_text).
func isStringType(t string) bool {
	switch t {
	case "keyword", "text", "constant_keyword", "wildcard", "match_only_text":
		return true
	}
	return false
}

// queryValues gives a pushed-down comparison's literal the value the
// field's term or range query searches for. Elasticsearch accepts a
// literal of any type against any field (VerifierTests.testQueryOk:
// "Mismatched type, still ok", serial_event_id == "abcdef"; testBoolean,
// testIP), and the field type converts it: a keyword field searches for
// the number's string form (KeywordFieldMapper's indexedValueForSearch,
// so zone_identifier > 1 is a string range), a numeric field parses a
// string. With no mapping, values compare as their JSON kinds.
func (c *compiler) queryValues(b *Binary, l, r cnode) (cnode, cnode) {
	if c.m == nil {
		return l, r
	}
	f, fok := b.L.(*FieldRef)
	lit, lok := r.(*litNode)
	swap := false
	if !fok || !lok {
		f, fok = b.R.(*FieldRef)
		lit, lok = l.(*litNode)
		swap = true
	}
	if !fok || !lok {
		return l, r
	}
	_, ft, ok := c.m.resolve(f.Name)
	if !ok {
		return l, r
	}
	v := lit.v
	switch {
	case ft == ftKeyword && v.isNum():
		if v.k == vInt {
			v = strVal(strconv.FormatInt(v.i, 10))
		} else {
			v = strVal(javaDouble(v.num()))
		}
	case (ft == ftLong || ft == ftDouble) && v.k == vStr:
		if i, err := strconv.ParseInt(strings.TrimSpace(v.s), 10, 64); err == nil {
			v = intVal(i)
		} else if d, err := strconv.ParseFloat(strings.TrimSpace(v.s), 64); err == nil {
			v = floatVal(d)
		}
	default:
		return l, r
	}
	if swap {
		return &litNode{v}, r
	}
	return l, &litNode{v}
}

// javaDouble is Double.toString for the values a query literal takes:
// "1.5", "100.0", and scientific notation outside [1e-3, 1e7).
func javaDouble(d float64) string {
	if a := math.Abs(d); a != 0 && (a < 1e-3 || a >= 1e7) {
		s := strconv.FormatFloat(d, 'E', -1, 64)
		mant, exp, _ := strings.Cut(s, "E")
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		return mant + "E" + strings.TrimPrefix(exp, "+")
	}
	s := strconv.FormatFloat(d, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func literalTypeName(v any) string {
	switch v.(type) {
	case string:
		return "keyword"
	case bool:
		return "boolean"
	case int64:
		return "integer"
	case float64:
		return "double"
	}
	return "null"
}

// dslOperand reports whether a predicate compares a field with constants,
// the shape Elasticsearch pushes down as a term/terms/range/wildcard query.
func dslOperand(e Expr) bool {
	constant := func(x Expr) bool { _, ok := x.(*Literal); return ok }
	switch x := e.(type) {
	case *Binary:
		if !comparisonOps[x.Op] {
			return false
		}
		return (isField(x.L) && constant(x.R)) || (isField(x.R) && constant(x.L))
	case *In:
		if !isField(x.X) {
			return false
		}
		for _, it := range x.List {
			if !constant(it) {
				return false
			}
		}
		return true
	case *Match:
		return isField(x.X)
	}
	return false
}

// Argument kinds of the EQL functions, for the verifier.
const (
	argAny = iota
	argStr
	argNum
	argBool
	argIP
)

var functionArgs = map[string][]int{
	"add": {argNum, argNum}, "subtract": {argNum, argNum}, "multiply": {argNum, argNum},
	"divide": {argNum, argNum}, "modulo": {argNum, argNum},
	"between":  {argStr, argStr, argStr, argBool},
	"endsWith": {argStr, argStr}, "startsWith": {argStr, argStr}, "stringContains": {argStr, argStr},
	"indexOf": {argStr, argStr, argNum}, "length": {argStr}, "number": {argStr, argNum},
	"substring": {argStr, argNum, argNum}, "cidrMatch": {argIP, argStr},
}

var ordinals = []string{"first", "second", "third", "fourth", "fifth"}

var kindNames = map[int]string{argStr: "string", argNum: "numeric", argBool: "boolean", argIP: "ip"}

// checkArgs rejects arguments whose mapped or literal type the function
// cannot take, with Elasticsearch's wording.
func (c *compiler) checkArgs(call *Call) *Error {
	kinds := functionArgs[call.Name]
	for i, a := range call.Args {
		want := argAny
		switch {
		case i < len(kinds):
			want = kinds[i]
		case len(kinds) > 0 && call.Name == "cidrMatch":
			want = argStr
		}
		if want == argAny {
			continue
		}
		got, name := c.argKind(a)
		if got == "" || got == "null" {
			continue
		}
		ok := false
		switch want {
		case argStr:
			ok = got == "keyword" || got == "text" || got == "wildcard" || got == "constant_keyword" || got == "ip" || got == "version"
		case argNum:
			ok = got == "long" || got == "integer" || got == "double" || got == "float" || got == "short" || got == "byte" || got == "scaled_float" || got == "half_float" || got == "unsigned_long"
		case argBool:
			ok = got == "boolean"
		case argIP:
			ok = got == "ip"
		}
		if ok {
			continue
		}
		ord := "argument"
		if i < len(ordinals) {
			ord = ordinals[i] + " argument"
		}
		if name != "" {
			return c.err(a, "%s of [%s] must be [%s], found value [%s] type [%s]", ord, c.q.source(call), kindNames[want], name, got)
		}
		return c.err(a, "%s of [%s] must be [%s], found value [%s] type [%s]", ord, c.q.source(call), kindNames[want], c.q.source(a), got)
	}
	return nil
}

// argKind returns the type name of a literal or of a mapped field (""
// when unknown, e.g. an expression or no mapping) and the field's name.
func (c *compiler) argKind(e Expr) (string, string) {
	switch x := e.(type) {
	case *Literal:
		if x.Val == nil {
			return "null", ""
		}
		return literalTypeName(x.Val), ""
	case *FieldRef:
		if c.m == nil {
			return "", ""
		}
		t, ok := c.m.Type(x.Name)
		if !ok || t == "runtime" || t == "object" {
			return "", ""
		}
		return t, x.Name
	}
	return "", ""
}
