package eql

import (
	"strconv"
	"strings"
	"time"
)

// Expr is a node of a condition or a join key. Every node knows where it
// starts and ends in the query, so explanations can quote the source.
type Expr interface {
	Span() (start Pos, end int)
	node()
}

type span struct {
	start Pos
	end   int
}

func (s span) Span() (Pos, int) { return s.start, s.end }
func (span) node()              {}

// Literal is a constant: nil, bool, int64, float64 or string.
type Literal struct {
	span
	Val any
}

// FieldRef names a field; Optional is the ?field form (no error when the
// field is unknown to the mapping).
type FieldRef struct {
	span
	Name     string
	Optional bool
}

// Not is logical negation.
type Not struct {
	span
	X Expr
}

// Binary is and, or, a comparison (== != < <= > >=) or arithmetic (+ - * / %).
type Binary struct {
	span
	Op   string
	L, R Expr
}

// Neg is unary minus.
type Neg struct {
	span
	X Expr
}

// In is "x in (...)" or "x in~ (...)", optionally negated ("x not in (...)").
type In struct {
	span
	X           Expr
	List        []Expr
	Insensitive bool
	Negated     bool
}

// Match is ":" (case-insensitive, wildcards), like, like~, regex, regex~
// against one or more constant patterns.
type Match struct {
	span
	X        Expr
	Op       string
	Patterns []Expr
	compiled []matcher
}

// Call is a function call; Insensitive marks the ~ variant.
type Call struct {
	span
	Name        string // canonical spelling, e.g. "startsWith"
	Insensitive bool
	Args        []Expr
}

// Kind is the kind of a query.
type Kind string

// Query kinds.
const (
	EventQuery    Kind = "event"
	SequenceQuery Kind = "sequence"
	SampleQuery   Kind = "sample"
)

// Pipe is a "| head N" or "| tail N" pipe.
type Pipe struct {
	Name string // "head" or "tail"
	N    int
	Pos  Pos
}

// Query is a parsed EQL statement.
type Query struct {
	Src  string
	Kind Kind
	// JoinKeys are the global "by" fields of a sequence or sample.
	JoinKeys []*FieldRef
	// MaxSpan is the sequence's "with maxspan=" window; 0 means none.
	MaxSpan time.Duration
	// MaxSpanText is the source spelling, e.g. "24h".
	MaxSpanText string
	terms       []*term // as written (runs not expanded)
	until       *term
	Pipes       []Pipe
}

// term is one bracketed query of a sequence or sample (or the single filter
// of an event query).
type term struct {
	start    Pos
	end      int
	category string // "" for any
	catPos   Pos
	cond     Expr
	keys     []*FieldRef
	byPos    *Pos // the term's own "by", if any
	runs     int
	missing  bool
}

// source returns the query text of an expression.
func (q *Query) source(e Expr) string {
	s, end := e.Span()
	if s.Offset < 0 || end > len(q.Src) || s.Offset > end {
		return ""
	}
	return q.Src[s.Offset:end]
}

func formatLiteral(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return "?"
}

var functionNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"add", "between", "cidrMatch", "concat", "divide", "endsWith", "indexOf",
		"length", "modulo", "multiply", "number", "startsWith", "string", "stringContains", "substring", "subtract"} {
		m[strings.ToLower(n)] = n
	}
	return m
}()

// functions that have a case-insensitive ~ variant.
var insensitiveFunctions = map[string]bool{
	"between": true, "endsWith": true, "indexOf": true, "startsWith": true, "stringContains": true,
}
