package ecs

import (
	_ "embed"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
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
	for path, decl := range defendDecls() {
		m[path], _, _ = strings.Cut(decl, " ")
	}
	return m
})

// defendDecls maps each field of defend_fields.txt to its declaration: the
// type, then any "normalizer=" and "ignore_above=" options.
var defendDecls = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(defendFieldsText, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if path, decl, ok := strings.Cut(line, " "); ok {
			m[path] = decl
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

// IndexMappingJSON returns the mapping of the index the real data source
// writes profile p's events to, as an Elasticsearch mapping body
// ({"dynamic": ..., "properties": ...}, multi-fields under their field's
// "fields"), for a search to type its fields as Elasticsearch would:
// Defend's user.id is the number 0 in _source yet a keyword in the index,
// Auditbeat's destination.port a string yet a long.
//
// complete reports whether the mapping lists every field the index can
// search. For Elastic Defend it is the event templates' own list
// (defend_fields.txt, dynamic: false, with their normalizers and
// ignore_above). For Auditbeat and Sysmon for Linux it holds only the
// fields the renderer writes, with their ECS types, and maps others
// dynamically: their real templates define many more, so a field missing
// here is not known to be missing there.
func IndexMappingJSON(p Profile) (mapping []byte, complete bool) {
	if p != Endpoint {
		return MappingJSON(p), false
	}
	return slices.Clone(defendMappingJSON()), true
}

// defendMappingJSON builds IndexMappingJSON(Endpoint) once.
var defendMappingJSON = sync.OnceValue(func() []byte {
	decls := defendDecls()
	paths := make([]string, 0, len(decls))
	for path := range decls {
		paths = append(paths, path)
	}
	// Shorter paths first: a field before its multi-fields.
	sort.Slice(paths, func(i, j int) bool {
		if len(paths[i]) != len(paths[j]) {
			return len(paths[i]) < len(paths[j])
		}
		return paths[i] < paths[j]
	})
	root := map[string]any{}
	leaves := map[string]map[string]any{}
	for _, path := range paths {
		fields := strings.Fields(decls[path])
		f := map[string]any{"type": fields[0]}
		for _, opt := range fields[1:] {
			k, v, _ := strings.Cut(opt, "=")
			if n, err := strconv.Atoi(v); err == nil {
				f[k] = n
			} else {
				f[k] = v
			}
		}
		parent, leaf := "", path
		if i := strings.LastIndexByte(path, '.'); i >= 0 {
			parent, leaf = path[:i], path[i+1:]
		}
		if owner, ok := leaves[parent]; ok {
			// A multi-field of the field parent.
			sub, _ := owner["fields"].(map[string]any)
			if sub == nil {
				sub = map[string]any{}
				owner["fields"] = sub
			}
			sub[leaf] = f
			continue
		}
		props := root
		if parent != "" {
			props = objectAt(root, parent)
		}
		if t := fields[0]; t == "object" || t == "nested" {
			// An object holds fields; a nested one is searched
			// differently (and EQL refuses to read under it).
			if node := objectNode(props, leaf); t == "nested" {
				node["type"] = "nested"
			}
			continue
		}
		props[leaf] = f
		leaves[path] = f
	}
	b, err := json.Marshal(map[string]any{"dynamic": false, "properties": root})
	if err != nil {
		panic("ecs: marshal mapping: " + err.Error()) // maps of strings and ints always marshal
	}
	return b
})

// objectNode returns the object field at the dotted path under props,
// creating it (and the objects above it) if needed.
func objectNode(props map[string]any, path string) map[string]any {
	var obj map[string]any
	for _, part := range strings.Split(path, ".") {
		o, ok := props[part].(map[string]any)
		if !ok || o["properties"] == nil {
			o = map[string]any{"properties": map[string]any{}}
			props[part] = o
		}
		obj, props = o, o["properties"].(map[string]any)
	}
	return obj
}

// objectAt returns the properties of the object field at path under props.
func objectAt(props map[string]any, path string) map[string]any {
	return objectNode(props, path)["properties"].(map[string]any)
}
