package eql

import (
	"slices"
	"strings"
)

// Option configures Compile and Search.
type Option func(*config)

type config struct {
	mapping   *Mapping
	index     string
	streaming bool
	badField  func(index, field string) bool
	report    *SequenceReport
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
	if fn.ft == ftText {
		if _, err := c.fail(c.err(k, "Cannot use field [%s] with unsupported type [text] as a join key", k.Name)); err != nil {
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
	if ft == ftObject {
		return c.fail(c.err(f, "Cannot use field [%s] type [object] only its subfields", f.Name))
	}
	fn := &fieldNode{name: name, ft: ft, runtime: ft == ftRuntime}
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

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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
	inQuery := c.inQuery
	defer func() { c.inQuery = inQuery }()
	if b, ok := e.(*Binary); ok && (b.Op == "and" || b.Op == "or") {
		// keep the query context
	} else if _, ok := e.(*Not); !ok {
		c.inQuery = false
	}
	dsl := inQuery && dslOperand(e)
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
		if err := c.checkTypes(x); err != nil {
			return c.fail(err)
		}
		return &cmpNode{op: x.Op, l: l, r: r, dsl: dsl}, nil
	case *In:
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

// checkTypes reports a comparison between a mapped field and a literal of
// an incompatible type, as Elasticsearch's verifier does.
func (c *compiler) checkTypes(b *Binary) *Error {
	if c.m == nil {
		return nil
	}
	f, fok := b.L.(*FieldRef)
	l, lok := b.R.(*Literal)
	if !fok || !lok {
		f, fok = b.R.(*FieldRef)
		l, lok = b.L.(*Literal)
	}
	if !fok || !lok || l.Val == nil || f.Optional {
		return nil
	}
	_, ft, ok := c.m.resolve(f.Name)
	if !ok {
		return nil
	}
	_, isStr := l.Val.(string)
	_, isBool := l.Val.(bool)
	isNum := !isStr && !isBool
	bad := false
	switch ft {
	case ftLong, ftDouble:
		bad = !isNum
	case ftKeyword, ftText, ftIP, ftVersion:
		bad = !isStr
	case ftBool:
		bad = !isBool
	case ftDate, ftDateNanos:
		bad = isBool
	}
	if bad {
		tn, _ := c.m.Type(f.Name)
		return c.err(b, "first argument of [%s] is [%s] so second argument must also be [%s] but was [%s]",
			c.q.source(b), tn, tn, literalTypeName(l.Val))
	}
	return nil
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
