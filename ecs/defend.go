package ecs

import (
	_ "embed"
	"strings"
	"sync"

	"github.com/purpleharness/purpleharness/internal/editdist"
)

// defendFieldsText is generated from elastic/endpoint-package (see its
// header for the version, commit and command).
//
//go:embed defend_fields.txt
var defendFieldsText string

var defendFields = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(defendFieldsText, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if path, typ, ok := strings.Cut(line, " "); ok {
			m[path] = typ
		}
	}
	return m
})

// TemplateFields returns every field the real data source's index
// templates define for profile p, with its type, and whether the list is
// complete. Elastic Defend's event templates are "dynamic: false": a field
// they do not list cannot be searched, and Elasticsearch's EQL answers
// "Unknown column". For Auditbeat and Sysmon for Linux no complete list is
// held here (their templates are ECS plus their own fields and map unknown
// fields dynamically), so ok is false and nothing should be concluded.
func TemplateFields(p Profile) (fields map[string]string, ok bool) {
	if p == Endpoint {
		return defendFields(), true
	}
	return nil, false
}

// NearestField returns the field of fields closest to name: the same path
// with fewer edits, preferring one that shares name's first segment. ""
// when nothing is close.
func NearestField(name string, fields map[string]string) string {
	paths := make([]string, 0, len(fields))
	for p := range fields {
		paths = append(paths, p)
	}
	return editdist.Nearest(name, paths, max(3, len(name)/3)+1, editDistance)
}

// editDistance is the edit distance, for paths less than 9 bytes apart in
// length (others are not close).
func editDistance(a, b string) int {
	if d := len(a) - len(b); d > 8 || d < -8 {
		return 99
	}
	return editdist.Levenshtein(a, b)
}
