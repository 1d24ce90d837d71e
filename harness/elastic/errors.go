package elastic

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/purpleharness/purpleharness/rules"
)

// Error is an error response from Elasticsearch. For EQL the interesting
// ones are 400s: parsing_exception ("line 1:9: ...", with line and col
// fields) and verification_exception ("Found 2 problems\nline 1:15:
// Unknown column [x]\nline 1:40: ..."). Problems holds each positioned
// message so a caller can report rule-file:line:col for each.
type Error struct {
	Status   int       // HTTP status
	Type     string    // error.type, e.g. "verification_exception"
	Reason   string    // error.reason as sent
	Problems []Problem // positioned messages found in Reason, in order
}

// Problem is one positioned message of an EQL error. Line and Col are the
// query position (from 1) as Elasticsearch reports it; both are 0 when the
// message has no position (ES itself writes "line -1:-1" then).
type Problem struct {
	Line, Col int
	Msg       string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "elasticsearch: %d", e.Status)
	if e.Type != "" {
		fmt.Fprintf(&b, " %s", e.Type)
	}
	if len(e.Problems) > 0 {
		for i, p := range e.Problems {
			if i > 0 {
				b.WriteString(";")
			}
			if p.Line > 0 {
				fmt.Fprintf(&b, " %d:%d: %s", p.Line, p.Col, p.Msg)
			} else {
				fmt.Fprintf(&b, " %s", p.Msg)
			}
		}
		return b.String()
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	return b.String()
}

// IsQueryError reports whether the error is about the query itself (bad
// syntax or verification), i.e. bad input rather than a cluster problem.
func (e *Error) IsQueryError() bool {
	switch e.Type {
	case "parsing_exception", "verification_exception":
		return e.Status == 400
	case "ql_illegal_argument_exception":
		// Some query checks (comparisons between fields) surface at
		// execution time, as a 500 carrying the query position.
		return len(e.Problems) > 0
	}
	return false
}

// problemLine matches one "line L:C: message" of an EQL/QL error reason
// (some QL exceptions spell it "Line").
var problemLine = regexp.MustCompile(`^(?i:line) (-?\d+):(-?\d+): (.*)$`)

// parseError decodes Elasticsearch's error body: {"error": {...}, "status":
// N}, where error is an object with type and reason (or, for some proxies
// and old versions, a bare string).
func parseError(status int, body []byte) *Error {
	e := &Error{Status: status}
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil || len(env.Error) == 0 {
		e.Reason = strings.TrimSpace(truncate(string(body), 300))
		return e
	}
	var obj struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
		Line   *int   `json:"line"`
		Col    *int   `json:"col"`
	}
	if json.Unmarshal(env.Error, &obj) != nil {
		var s string
		_ = json.Unmarshal(env.Error, &s)
		e.Reason = s
		return e
	}
	e.Type, e.Reason = obj.Type, obj.Reason
	for _, l := range strings.Split(obj.Reason, "\n") {
		m := problemLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		if line < 1 || col < 1 {
			line, col = 0, 0
		}
		e.Problems = append(e.Problems, Problem{Line: line, Col: col, Msg: m[3]})
	}
	if len(e.Problems) == 0 && obj.Line != nil && obj.Col != nil && *obj.Line > 0 {
		e.Problems = []Problem{{Line: *obj.Line, Col: *obj.Col, Msg: obj.Reason}}
	}
	return e
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// RuleError is a query error Elasticsearch reported for a rule, positioned
// in the rule file: each problem as file:line:col: message, the way lint
// and the embedded engine report theirs.
type RuleError struct {
	Findings []string
	Err      *Error
}

func (e *RuleError) Error() string { return strings.Join(e.Findings, "\n") }
func (e *RuleError) Unwrap() error { return e.Err }

// ForRule positions e's problems in r's file. Elasticsearch counts columns
// in characters, which rules.Rule.Position expects.
func (e *Error) ForRule(r *rules.Rule) *RuleError {
	re := &RuleError{Err: e}
	for _, p := range e.Problems {
		pos := r.QueryPos()
		if p.Line > 0 {
			pos = r.Position(p.Line, p.Col)
		}
		re.Findings = append(re.Findings, fmt.Sprintf("%s: %s", pos, p.Msg))
	}
	if len(re.Findings) == 0 {
		re.Findings = []string{fmt.Sprintf("%s: %s", r.QueryPos(), e.Error())}
	}
	return re
}
