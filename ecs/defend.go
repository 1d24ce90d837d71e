package ecs

import (
	_ "embed"
	"sort"
	"strings"
	"sync"
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
	sort.Strings(paths)
	best, bestD := "", max(3, len(name)/3)+1
	for _, p := range paths {
		if d := editDistance(name, p); d < bestD {
			best, bestD = p, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if d := len(a) - len(b); d > 8 || d < -8 {
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
