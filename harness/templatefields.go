package harness

import (
	"fmt"
	"strings"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
)

// FieldProblem is a field a query names that the data source's index
// templates do not define.
type FieldProblem struct {
	Offset  int    // byte offset of the field in the query
	Field   string // as written
	Nearest string // the closest defined field, "" when none is close
}

func (p FieldProblem) String(source string) string {
	msg := fmt.Sprintf("field %s is not defined by %s, so no event can carry it", p.Field, source)
	if p.Nearest != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", p.Nearest)
	}
	return msg
}

// DefendSource names the field list TemplateFields(ecs.Endpoint) comes from.
const DefendSource = "Elastic Defend's event index templates (logs-endpoint.events.*)"

// UnknownFields returns the fields of q that fields does not define. An
// optional field (?name) may be missing, as in Elasticsearch. A multi-field
// (.caseless, .text) counts only where the template defines it, and so does
// a ".keyword" sub-field (Elastic Defend's templates define none).
func UnknownFields(q *eql.Query, fields map[string]string) []FieldProblem {
	var out []FieldProblem
	seen := map[int]bool{}
	for _, f := range q.FieldRefs() {
		if f.Optional || f.Name == "" || strings.HasPrefix(f.Name, "_") {
			continue
		}
		if _, ok := fields[f.Name]; ok || hasChildren(f.Name, fields) {
			continue
		}
		start, _ := f.Span()
		if seen[start.Offset] {
			continue
		}
		seen[start.Offset] = true
		near := ecs.NearestField(f.Name, fields)
		if base, ok := strings.CutSuffix(f.Name, ".keyword"); ok {
			if _, defined := fields[base]; defined {
				near = base // a keyword field itself, no sub-field needed
			}
		}
		out = append(out, FieldProblem{start.Offset, f.Name, near})
	}
	return out
}

// hasChildren reports whether name is an object of the mapping (fields
// below it exist): EQL refuses to compare an object, but that is the
// engine's error to give, not an unknown field.
func hasChildren(name string, fields map[string]string) bool {
	prefix := name + "."
	for p := range fields {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// OtherIntegrations returns the integrations a rule declares besides
// Elastic Defend's package ("endpoint"). Such an integration (ProblemChild,
// whose ingest pipeline and mappings add problemchild.* to Defend's process
// events) supplies fields Defend's own templates do not define.
func OtherIntegrations(declared []string) []string {
	var out []string
	for _, p := range declared {
		if p != "endpoint" {
			out = append(out, p)
		}
	}
	return out
}

// DefendIndex reports whether every index pattern of a rule reads Elastic
// Defend's event data streams only (logs-endpoint.events.*), so that their
// templates are the whole truth about its fields.
func DefendIndex(patterns []string) bool {
	if len(patterns) == 0 {
		return false
	}
	for _, p := range patterns {
		if !strings.HasPrefix(p, "logs-endpoint.events.") {
			return false
		}
	}
	return true
}
