package eql

// Explanations are data: the harness tells a detection engineer why a rule
// did not fire ("stage 1, condition 3: not process.name in~ (...) → false,
// got \"thunderbird.exe\""). These accessors expose the structure of a
// query for that purpose without exposing the evaluator.

// Stage is one bracketed query of a sequence or sample as written (runs
// not expanded), or the single filter of an event query.
type Stage struct {
	// Category is the event category ("process"); "" for any.
	Category string
	// Conds are the top-level "and" conjuncts of the condition, in order.
	Conds []Cond
	// Keys are the stage's own join keys ("by" after the brackets); the
	// global keys are in Query.Keys.
	Keys []string
	// Runs is the "with runs=N" repetition (1 when absent).
	Runs int
	// Missing marks a ![...] missing-event stage.
	Missing bool
	// Pos is where the stage starts; Text is its source.
	Pos  Pos
	Text string
	m    *Mapping // resolves the category field's alias
}

// CategoryMatches reports whether ev belongs to the stage's category,
// read from field (Request.EventCategoryField; "" means event.category).
// An "any" stage matches every event.
func (s Stage) CategoryMatches(ev Fields, field string) bool {
	if s.Category == "" {
		return true
	}
	if field == "" {
		field = DefaultEventCategoryField
	}
	field, _, _ = s.m.resolve(field)
	raw, ok := ev.Lookup(field)
	if !ok {
		return false
	}
	return anyOf(fromRaw(raw, ftUnknown), func(v val) Tri { return triOf(v.k == vStr && v.s == s.Category) }) == True
}

// Eval evaluates the whole stage filter (category and every conjunct)
// against ev.
func (s Stage) Eval(ev Fields, categoryField string) Tri {
	if !s.CategoryMatches(ev, categoryField) {
		return False
	}
	res := True
	for _, c := range s.Conds {
		switch c.Eval(ev) {
		case False:
			return False
		case Null:
			res = Null
		}
	}
	return res
}

// Cond is one conjunct of a stage condition with its source text and
// position. Eval evaluates it against one event.
type Cond struct {
	Text string
	Pos  Pos
	Expr Expr
	node cnode
}

// Eval evaluates the conjunct against ev: True, False or Null (a missing
// field makes most comparisons null; only True selects an event).
func (c Cond) Eval(ev Fields) Tri {
	if c.node == nil {
		return Null
	}
	ec := evalCtx{doc: ev}
	return truth(c.node.eval(&ec))
}

// Explain renders the value the conjunct's main field has in ev, for
// messages such as `got "Thunderbird.EXE"`; "" when the conjunct reads
// no field, "<missing>" when the field is absent.
func (c Cond) Explain(ev Fields) string {
	f := firstField(c.Expr)
	if f == nil {
		return ""
	}
	v, ok := ev.Lookup(f.Name)
	if !ok {
		return f.Name + "=<missing>"
	}
	return f.Name + "=" + formatAny(v)
}

func formatAny(v any) string {
	x := fromRaw(v, ftUnknown)
	if x.k == vList {
		s := "["
		for i, e := range x.l {
			if i > 0 {
				s += ", "
			}
			s += formatLiteral(jsonValue(e))
		}
		return s + "]"
	}
	jv := jsonValue(x)
	if i, ok := jv.(int64); ok {
		return formatLiteral(i)
	}
	return formatLiteral(jv)
}

func firstField(e Expr) *FieldRef {
	switch x := e.(type) {
	case *FieldRef:
		return x
	case *Not:
		return firstField(x.X)
	case *Neg:
		return firstField(x.X)
	case *Binary:
		if f := firstField(x.L); f != nil {
			return f
		}
		return firstField(x.R)
	case *In:
		return firstField(x.X)
	case *Match:
		return firstField(x.X)
	case *Call:
		for _, a := range x.Args {
			if f := firstField(a); f != nil {
				return f
			}
		}
	}
	return nil
}

// Keys returns the global join keys of a sequence or sample ("by" after
// the keyword), in order.
func (q *Query) Keys() []string {
	out := make([]string, len(q.JoinKeys))
	for i, k := range q.JoinKeys {
		out[i] = k.Name
	}
	return out
}

// Stages returns the stages as written: one for an event query, one per
// bracketed query for a sequence or sample (until excluded, see Until).
func (q *Query) Stages() []Stage {
	return q.stages(nil)
}

// Stages is Query.Stages with the program's mapping applied: conjuncts
// read fields with their mapped types and aliases, as Search does.
func (p *Program) Stages() []Stage {
	return p.q.stages(p.mapping)
}

func (q *Query) stages(m *Mapping) []Stage {
	out := make([]Stage, 0, len(q.terms))
	for _, t := range q.terms {
		out = append(out, q.stageOf(t, m))
	}
	return out
}

// Until returns the sequence's until stage, if any.
func (q *Query) Until() (Stage, bool) {
	if q.until == nil {
		return Stage{}, false
	}
	return q.stageOf(q.until, nil), true
}

func (q *Query) stageOf(t *term, m *Mapping) Stage {
	s := Stage{Category: t.category, Runs: t.runs, Missing: t.missing, Pos: t.start, m: m}
	if t.end <= len(q.Src) && t.start.Offset <= t.end {
		s.Text = q.Src[t.start.Offset:t.end]
	}
	for _, k := range t.keys {
		s.Keys = append(s.Keys, k.Name)
	}
	c := &compiler{q: q, m: m, collect: true}
	for _, e := range conjuncts(t.cond) {
		st, _ := e.Span()
		cd := Cond{Text: q.source(e), Pos: st, Expr: e}
		c.inQuery = true
		if n, err := c.expr(e); err == nil {
			cd.node = n
		}
		s.Conds = append(s.Conds, cd)
	}
	return s
}

// conjuncts flattens the top-level "and" chain.
func conjuncts(e Expr) []Expr {
	if b, ok := e.(*Binary); ok && b.Op == "and" {
		return append(conjuncts(b.L), conjuncts(b.R)...)
	}
	return []Expr{e}
}
