package eql

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/purpleharness/purpleharness/ecs"
)

type fieldType uint8

const (
	ftUnknown fieldType = iota
	ftKeyword
	ftText
	ftLong
	ftDouble
	ftBool
	ftDate
	ftDateNanos
	ftIP
	ftVersion
	ftObject
	ftRuntime // a runtime field whose script the embedded engine cannot run
)

var typeNames = map[string]fieldType{
	"keyword": ftKeyword, "constant_keyword": ftKeyword, "wildcard": ftKeyword,
	"[runtime_random_keyword_type]": ftKeyword, "match_only_text": ftText, "text": ftText,
	"long": ftLong, "integer": ftLong, "short": ftLong, "byte": ftLong, "unsigned_long": ftLong,
	"double": ftDouble, "float": ftDouble, "half_float": ftDouble, "scaled_float": ftDouble,
	"boolean": ftBool, "date": ftDate, "date_nanos": ftDateNanos, "ip": ftIP, "version": ftVersion,
	"object": ftObject, "nested": ftObject, "flattened": ftKeyword,
}

// Mapping is what the engine knows about an index's fields: their types
// and aliases, as an Elasticsearch mapping declares them. It drives the
// verifier (unknown fields are errors, as in Elasticsearch) and typed
// evaluation (dates compare as instants, versions as versions).
type Mapping struct {
	fields  map[string]fieldType
	aliases map[string]string
	nullVal map[string]any
	formats map[string]string // date fields with an explicit format
	consts  map[string]any    // constant_keyword values
}

// NewMapping returns an empty mapping.
func NewMapping() *Mapping {
	return &Mapping{fields: map[string]fieldType{}, aliases: map[string]string{}, nullVal: map[string]any{}, formats: map[string]string{}, consts: map[string]any{}}
}

// ParseMapping reads an Elasticsearch mapping: {"properties": ...},
// {"mappings": {"properties": ...}} or a GET _mapping response
// ({"index": {"mappings": ...}}). Lines starting with # are comments (as in
// Elasticsearch's test mapping files); "runtime" fields are recorded as
// fields whose evaluation fails.
func ParseMapping(data []byte) (*Mapping, error) {
	var b bytes.Buffer
	for _, line := range bytes.Split(data, []byte("\n")) {
		if bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			b.WriteString("\n")
			continue
		}
		b.Write(line)
		b.WriteString("\n")
	}
	var root map[string]any
	src := b.String() // comments blanked, so lines are the file's
	if err := json.Unmarshal(b.Bytes(), &root); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			p := (&lexer{src: src}).posAt(int(max(se.Offset-1, 0)))
			return nil, fmt.Errorf("parse mapping: %s: %w", p, err)
		case errors.As(err, &te):
			p := (&lexer{src: src}).posAt(int(max(te.Offset-1, 0)))
			return nil, fmt.Errorf("parse mapping: %s: not a mapping (want a JSON object, got %s)", p, te.Value)
		}
		return nil, fmt.Errorf("parse mapping: %w", err)
	}
	m := NewMapping()
	m.merge(root)
	return m, nil
}

func (m *Mapping) merge(root map[string]any) {
	if mp, ok := root["mappings"].(map[string]any); ok {
		m.merge(mp)
		return
	}
	_, hasProps := root["properties"]
	_, hasRuntime := root["runtime"]
	if !hasProps && !hasRuntime {
		// GET _mapping response: {"index": {"mappings": {...}}}
		for _, v := range root {
			if o, ok := v.(map[string]any); ok {
				if mp, ok := o["mappings"].(map[string]any); ok {
					m.merge(mp)
				}
			}
		}
		return
	}
	if props, ok := root["properties"].(map[string]any); ok {
		m.addProps("", props)
	}
	if rt, ok := root["runtime"].(map[string]any); ok {
		for name := range rt {
			m.fields[name] = ftRuntime
		}
	}
}

func (m *Mapping) addProps(prefix string, props map[string]any) {
	for name, def := range props {
		d, ok := def.(map[string]any)
		if !ok {
			continue
		}
		full := prefix + name
		if sub, ok := d["properties"].(map[string]any); ok {
			m.fields[full] = ftObject
			m.addProps(full+".", sub)
			continue
		}
		t, _ := d["type"].(string)
		if t == "alias" {
			if path, ok := d["path"].(string); ok {
				m.aliases[full] = path
			}
			continue
		}
		ft, ok := typeNames[t]
		if !ok {
			ft = ftKeyword
		}
		m.fields[full] = ft
		if nv, ok := d["null_value"]; ok {
			m.nullVal[full] = nv
		}
		if v, ok := d["value"]; ok && t == "constant_keyword" {
			m.consts[full] = v
		}
		if f, ok := d["format"].(string); ok && (ft == ftDate || ft == ftDateNanos) {
			m.formats[full] = f
		}
		if sub, ok := d["fields"].(map[string]any); ok {
			for sname, sdef := range sub {
				if sd, ok := sdef.(map[string]any); ok {
					st, _ := sd["type"].(string)
					sft, ok := typeNames[st]
					if !ok {
						sft = ftKeyword
					}
					m.fields[full+"."+sname] = sft
				}
			}
		}
	}
}

// AddDynamic adds the fields of doc that the mapping does not know, typed
// as Elasticsearch's dynamic mapping would type them (strings that look
// like dates become dates, other strings keyword, integers long, floats
// double). Call it for every document indexed without an explicit mapping.
func (m *Mapping) AddDynamic(doc ecs.Document) {
	m.addDynamic("", map[string]any(doc))
}

func (m *Mapping) addDynamic(prefix string, obj map[string]any) {
	for k, v := range obj {
		full := prefix + k
		if o, ok := v.(map[string]any); ok {
			if _, known := m.fields[full]; !known {
				m.fields[full] = ftObject
			}
			m.addDynamic(full+".", o)
			continue
		}
		if _, known := m.fields[full]; known {
			continue
		}
		if _, alias := m.aliases[full]; alias {
			continue
		}
		if ft := dynamicType(v); ft != ftUnknown {
			m.fields[full] = ft
			// intermediate objects for flattened keys "a.b"
			for i := strings.IndexByte(full, '.'); i > 0; i = nextDot(full, i) {
				if _, known := m.fields[full[:i]]; !known {
					m.fields[full[:i]] = ftObject
				}
			}
		}
	}
}

func nextDot(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '.')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

func dynamicType(v any) fieldType {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			if ft := dynamicType(e); ft != ftUnknown {
				return ft
			}
		}
		return ftUnknown
	case string:
		if len(t) >= 10 && t[4] == '-' {
			if _, ok := parseDateString(t); ok {
				return ftDate
			}
		}
		return ftKeyword
	case bool:
		return ftBool
	case json.Number:
		if strings.ContainsAny(string(t), ".eE") {
			return ftDouble
		}
		return ftLong
	case float64, float32:
		return ftDouble
	case int, int64, int32, int16, int8, uint, uint64, uint32, uint16, uint8:
		return ftLong
	}
	return ftUnknown
}

// resolve returns the physical field behind name (following aliases), its
// type and whether the mapping knows it.
func (m *Mapping) resolve(name string) (string, fieldType, bool) {
	if m == nil {
		return name, ftUnknown, true
	}
	if p, ok := m.aliases[name]; ok {
		name = p
	}
	ft, ok := m.fields[name]
	return name, ft, ok
}

// Type returns the mapped type name of a field ("keyword", "long", ...,
// "alias" targets resolved) and whether it is mapped.
func (m *Mapping) Type(name string) (string, bool) {
	_, ft, ok := m.resolve(name)
	if !ok {
		return "", false
	}
	for n, t := range typeNames {
		if t == ft && !strings.HasPrefix(n, "[") {
			switch ft {
			case ftKeyword:
				return "keyword", true
			case ftLong:
				return "long", true
			case ftDouble:
				return "double", true
			case ftText:
				return "text", true
			case ftObject:
				return "object", true
			}
			return n, true
		}
	}
	if ft == ftRuntime {
		return "runtime", true
	}
	return "unknown", true
}

// Fields lists the mapped field names, sorted.
func (m *Mapping) Fields() []string {
	var out []string
	for k := range m.fields {
		out = append(out, k)
	}
	for k := range m.aliases {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Merge returns a mapping with the fields of all the given mappings, as
// Elasticsearch merges field capabilities across the indices of a search.
func Merge(ms ...*Mapping) *Mapping {
	out := NewMapping()
	conflicts := map[string]bool{}
	defer func() {
		for k := range conflicts {
			delete(out.consts, k)
		}
	}()
	for _, m := range ms {
		if m == nil {
			continue
		}
		for k, v := range m.fields {
			if old, ok := out.fields[k]; !ok || old == ftObject {
				out.fields[k] = v
			}
		}
		for k, v := range m.aliases {
			out.aliases[k] = v
		}
		for k, v := range m.nullVal {
			out.nullVal[k] = v
		}
		for k, v := range m.consts {
			// indices that disagree on a constant: read _source instead
			if old, ok := out.consts[k]; ok && old != v {
				conflicts[k] = true
			}
			out.consts[k] = v
		}
		for k, v := range m.formats {
			if old, ok := out.formats[k]; ok && old != v {
				v = old + "||" + v
			}
			out.formats[k] = v
		}
	}
	return out
}
