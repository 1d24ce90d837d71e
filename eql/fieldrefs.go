package eql

// FieldRefs returns every field the query names, in source order of
// discovery: the global join keys, then each term's condition and keys
// (the until term's too). A checker uses it to find fields the data's
// mapping lacks before a query ever runs.
func (q *Query) FieldRefs() []*FieldRef {
	var out []*FieldRef
	var walk func(e Expr)
	walk = func(e Expr) {
		switch x := e.(type) {
		case *FieldRef:
			out = append(out, x)
		case *Not:
			walk(x.X)
		case *Neg:
			walk(x.X)
		case *Binary:
			walk(x.L)
			walk(x.R)
		case *In:
			walk(x.X)
			for _, v := range x.List {
				walk(v)
			}
		case *Match:
			walk(x.X)
			for _, p := range x.Patterns {
				walk(p)
			}
		case *Call:
			for _, a := range x.Args {
				walk(a)
			}
		}
	}
	out = append(out, q.JoinKeys...)
	terms := q.terms
	if q.until != nil {
		terms = append(terms[:len(terms):len(terms)], q.until)
	}
	for _, t := range terms {
		if t.cond != nil {
			walk(t.cond)
		}
		out = append(out, t.keys...)
	}
	return out
}

// SearchFields lists every _source path a search of q with req over
// events mapped by m (nil: none) reads: the query's fields (join keys and
// function arguments included), the request's timestamp, tiebreaker and
// category fields (and their defaults), and _id, each through the mapping
// (alias targets, the field a sub-field indexes). A decoder may leave every
// other field out (ecs.Projection) and get the same answer. ok is false
// when a field is a runtime field computed by a script: its inputs are
// unknown, so nothing may be left out.
func SearchFields(q *Query, req Request, m *Mapping) (fields []string, ok bool) {
	names := []string{"_id", req.TimestampField, req.TiebreakerField, req.EventCategoryField,
		DefaultTimestampField, DefaultEventCategoryField}
	for _, f := range q.FieldRefs() {
		names = append(names, f.Name)
	}
	for _, n := range names {
		if n == "" {
			continue
		}
		paths, ok := m.ReadPaths(n)
		if !ok {
			return nil, false
		}
		fields = append(fields, paths...)
	}
	return fields, true
}
