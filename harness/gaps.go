package harness

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/scenarios"
)

// GapReporter is an optional Sensor interface: the observations the sensor
// never delivers (the audit sensor sees no fork, exit, accept or close).
// The harness turns them, with the profile's own unrendered fields, into
// the gaps that make a verdict UNVERIFIABLE. A sensor without it is taken
// to deliver every observation.
type GapReporter interface {
	Unobserved() []ecs.Observes
}

// runGaps lists what this run's documents lack that the real source sends.
func runGaps(profile string, s Sensor) []ecs.Gap {
	p := ecs.Profile(profile)
	gaps := ecs.Unrendered(p)
	if gr, ok := s.(GapReporter); ok {
		for _, o := range gr.Unobserved() {
			gaps = append(gaps, ecs.Missing(p, o)...)
		}
	}
	return gaps
}

// ruleRef is one field a rule reads, with the literal values it compares
// the field with (nil for a use without a literal: a join key, a function
// argument, a comparison with another field).
type ruleRef struct {
	field  string
	values []string // literal strings, or patterns when match is set
	match  string   // "" (equality), ":" / "like" (wildcards), "regex"
}

// ruleRefs lists the fields and compared values of a query. A query that
// does not parse has none (the run reported it already).
func ruleRefs(query string) []ruleRef {
	q, err := eql.Parse(query)
	if err != nil {
		return nil
	}
	var refs []ruleRef
	for _, k := range q.Keys() {
		refs = append(refs, ruleRef{field: k})
	}
	stages := q.Stages()
	if u, ok := q.Until(); ok {
		stages = append(stages, u)
	}
	for _, st := range stages {
		for _, k := range st.Keys {
			refs = append(refs, ruleRef{field: k})
		}
		for _, c := range st.Conds {
			refs = walkRefs(c.Expr, refs)
		}
	}
	return refs
}

func walkRefs(e eql.Expr, refs []ruleRef) []ruleRef {
	switch x := e.(type) {
	case *eql.FieldRef:
		return append(refs, ruleRef{field: x.Name})
	case *eql.Not:
		return walkRefs(x.X, refs)
	case *eql.Neg:
		return walkRefs(x.X, refs)
	case *eql.Binary:
		if f, ok := x.L.(*eql.FieldRef); ok {
			if s, ok := literalString(x.R); ok {
				return append(refs, ruleRef{field: f.Name, values: []string{s}})
			}
		}
		if f, ok := x.R.(*eql.FieldRef); ok {
			if s, ok := literalString(x.L); ok {
				return append(refs, ruleRef{field: f.Name, values: []string{s}})
			}
		}
		return walkRefs(x.R, walkRefs(x.L, refs))
	case *eql.In:
		if f, ok := x.X.(*eql.FieldRef); ok {
			r := ruleRef{field: f.Name}
			for _, el := range x.List {
				if s, ok := literalString(el); ok {
					r.values = append(r.values, s)
				} else {
					refs = walkRefs(el, refs)
				}
			}
			return append(refs, r)
		}
		refs = walkRefs(x.X, refs)
		for _, el := range x.List {
			refs = walkRefs(el, refs)
		}
		return refs
	case *eql.Match:
		if f, ok := x.X.(*eql.FieldRef); ok {
			r := ruleRef{field: f.Name, match: ":"}
			if strings.HasPrefix(x.Op, "regex") {
				r.match = "regex"
			}
			for _, p := range x.Patterns {
				if s, ok := literalString(p); ok {
					r.values = append(r.values, s)
				}
			}
			return append(refs, r)
		}
		return walkRefs(x.X, refs)
	case *eql.Call:
		for _, a := range x.Args {
			refs = walkRefs(a, refs)
		}
	}
	return refs
}

func literalString(e eql.Expr) (string, bool) {
	l, ok := e.(*eql.Literal)
	if !ok {
		return "", false
	}
	switch v := l.Val.(type) {
	case string:
		return v, true
	case nil:
		return "", false
	default:
		return fmt.Sprint(v), true
	}
}

// dependsOn returns the gaps a rule's references touch: a gap on a whole
// field is touched by any use of it; a gap on one value by a comparison
// with that value (or a pattern matching it). Sorted, without repeats.
func dependsOn(refs []ruleRef, gaps []ecs.Gap) []ecs.Gap {
	seen := map[string]bool{}
	var out []ecs.Gap
	for _, g := range gaps {
		for _, r := range refs {
			if !g.MatchesField(r.field) || !r.uses(g.Value) {
				continue
			}
			if k := g.String(); !seen[k] {
				seen[k] = true
				// Name the field as the rule spells it.
				if strings.Contains(g.Field, "*") {
					g.Field = r.field
				}
				out = append(out, g)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// uses reports whether the reference compares with value ("" means the
// field is used at all).
func (r ruleRef) uses(value string) bool {
	if value == "" {
		return true
	}
	for _, v := range r.values {
		switch r.match {
		case "":
			if strings.EqualFold(v, value) {
				return true
			}
		case ":":
			if wildcard(v).MatchString(value) {
				return true
			}
		case "regex":
			if re, err := regexp.Compile("^(?:" + v + ")$"); err == nil && re.MatchString(value) {
				return true
			}
		}
	}
	return false
}

// wildcard compiles an EQL ":"/like pattern (* and ?), case-insensitively.
func wildcard(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?is)^")
	for _, c := range p {
		switch c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// unverifiable turns a verdict that rests on the absence of events into
// Unverifiable when the rule tests something this run cannot render: a
// MISSED, or a PASS of a silent expectation. Other verdicts stand.
func unverifiable(v Verdict, exp scenarios.Expectation, deps []ecs.Gap) bool {
	if len(deps) == 0 {
		return false
	}
	return v == Missed || (v == Pass && exp.Expect == scenarios.Silent)
}

// explainUnverifiable rewrites e to say which gaps made the verdict
// unverifiable, keeping what the verdict would have been and why.
func explainUnverifiable(was Verdict, e Explanation, deps []ecs.Gap, profile string) Explanation {
	names := make([]string, len(deps))
	for i, g := range deps {
		names[i] = g.String()
	}
	out := Explanation{
		Summary: fmt.Sprintf("cannot verify: the rule tests %s, which the real %s source sends but this run does not render; %s here says nothing about the rule",
			strings.Join(names, ", "), profileSource(profile), was),
		Stages: e.Stages,
	}
	for _, g := range deps {
		out.Details = append(out.Details, g.String()+": "+g.Why)
	}
	out.Details = append(out.Details, "as "+string(was)+": "+e.Summary)
	out.Details = append(out.Details, e.Details...)
	return out
}

func profileSource(profile string) string {
	switch ecs.Profile(profile) {
	case ecs.Auditbeat:
		return "Auditbeat"
	case ecs.SysmonLinux:
		return "Sysmon for Linux"
	}
	return "Elastic Defend"
}
