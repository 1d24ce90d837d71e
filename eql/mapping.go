package eql

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/purpleharness/purpleharness/jsondoc"
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
	// source maps a multi-field sub-field ("user.keyword") to the field
	// whose _source value it indexes ("user").
	source map[string]string
	// exact maps a text field to the keyword sub-field Elasticsearch
	// compares it through (FieldAttribute.exactAttribute).
	exact map[string]string
	// inexact says why a field cannot be compared exactly (a text field
	// without one keyword sub-field, a normalized keyword).
	inexact map[string]inexactField
	// ignoreAbove is a keyword's ignore_above: longer values are not
	// indexed, so no query matches them and they have no doc values.
	ignoreAbove map[string]int
	// nested maps a field under a nested mapping to its nested ancestor
	// (the nested field itself maps to itself); declared keeps the type
	// names for the error Elasticsearch gives on such fields.
	nested   map[string]string
	declared map[string]string
	// dynamic is the "dynamic" setting of the root ("") and of objects
	// that set one; the nearest applies to a new field.
	dynamic          map[string]string
	noDateDetection  bool
	numericDetection bool
	templates        []dynamicTemplate
	composedOf       []string
	// partial: the mapping lists only some of the index's fields (see
	// Partial).
	partial bool
}

// Partial marks m as listing only some of the fields the index really
// maps, and returns it. A field m does not know is then read as it appears
// in the events, untyped, as without a mapping, instead of being an
// unknown column: for describing an index whose full mapping is not at
// hand, where a field missing from m is not known to be missing from the
// index. A merge with a partial mapping is partial.
func (m *Mapping) Partial() *Mapping {
	m.partial = true
	return m
}

// dynamicTemplate is one entry of dynamic_templates, in order.
type dynamicTemplate struct {
	name string
	def  map[string]any
}

// ComposedOf lists the component templates an index template names in
// composed_of: their mappings are not part of this one.
func (m *Mapping) ComposedOf() []string { return m.composedOf }

// inexactField is why a field has no exact form.
type inexactField struct {
	typeName string // "text", "keyword"
	msg      string
}

// NewMapping returns an empty mapping.
func NewMapping() *Mapping {
	return &Mapping{fields: map[string]fieldType{}, aliases: map[string]string{}, nullVal: map[string]any{},
		formats: map[string]string{}, consts: map[string]any{}, source: map[string]string{}, exact: map[string]string{},
		inexact: map[string]inexactField{}, ignoreAbove: map[string]int{}, nested: map[string]string{}, declared: map[string]string{},
		dynamic: map[string]string{}}
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
	if err := m.merge(root); err != nil {
		return nil, fmt.Errorf("parse mapping: %w", err)
	}
	return m, nil
}

// merge reads every mapping shape ParseMapping accepts; an object it does
// not recognise is an error, never an empty mapping.
func (m *Mapping) merge(root map[string]any) error {
	switch {
	case isMappingBody(root):
		m.body(root)
		return nil
	case root["mappings"] != nil:
		// a create-index body, a legacy template, one index of GET _mapping
		mp, ok := root["mappings"].(map[string]any)
		if !ok {
			return fmt.Errorf("\"mappings\" is not an object")
		}
		return m.merge(mp)
	case root["template"] != nil:
		// an index or component template body (PUT _index_template,
		// PUT _component_template)
		t, ok := root["template"].(map[string]any)
		if !ok {
			return fmt.Errorf("\"template\" is not an object")
		}
		if names, ok := root["composed_of"].([]any); ok {
			for _, n := range names {
				if s, ok := n.(string); ok {
					m.composedOf = append(m.composedOf, s)
				}
			}
		}
		if t["mappings"] == nil {
			return nil // settings or aliases only
		}
		return m.merge(t)
	case root["index_templates"] != nil || root["component_templates"] != nil:
		// GET _index_template, GET _component_template
		key, inner := "index_templates", "index_template"
		if root["component_templates"] != nil {
			key, inner = "component_templates", "component_template"
		}
		list, ok := root[key].([]any)
		if !ok {
			return fmt.Errorf("%q is not an array", key)
		}
		for i, e := range list {
			o, _ := e.(map[string]any)
			t, ok := o[inner].(map[string]any)
			if !ok {
				return fmt.Errorf("%s[%d] has no %q object", key, i, inner)
			}
			if err := m.merge(t); err != nil {
				return fmt.Errorf("%s[%d] (%v): %w", key, i, o["name"], err)
			}
		}
		return nil
	}
	// GET _mapping or GET _template: {"index": {"mappings": {...}}, ...}
	names := make([]string, 0, len(root))
	for k := range root {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		o, ok := root[k].(map[string]any)
		if !ok || o["mappings"] == nil {
			return fmt.Errorf("not a mapping: want {\"properties\": ...}, {\"mappings\": ...}, an index or component template, "+
				"or the output of GET _mapping, _index_template or _component_template; got the keys %s", strings.Join(names, ", "))
		}
	}
	for _, k := range names {
		if err := m.merge(root[k].(map[string]any)); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}

// mappingKeys are the parameters of a mappings body.
var mappingKeys = map[string]bool{"properties": true, "runtime": true, "dynamic": true, "dynamic_templates": true,
	"date_detection": true, "numeric_detection": true, "dynamic_date_formats": true, "_source": true,
	"_meta": true, "_routing": true, "enabled": true, "subobjects": true, "_data_stream_timestamp": true}

// isMappingBody reports a mappings body: empty, or only mapping parameters.
func isMappingBody(root map[string]any) bool {
	for k := range root {
		if !mappingKeys[k] {
			return false
		}
	}
	return true
}

// body reads a mappings body: properties, runtime fields and the dynamic
// mapping settings.
func (m *Mapping) body(b map[string]any) {
	if d, ok := b["dynamic"]; ok {
		m.dynamic[""] = dynamicMode(d)
	}
	if v, ok := b["date_detection"].(bool); ok {
		m.noDateDetection = !v
	}
	if v, ok := b["numeric_detection"].(bool); ok {
		m.numericDetection = v
	}
	if dt, ok := b["dynamic_templates"].([]any); ok {
		for _, e := range dt {
			o, _ := e.(map[string]any)
			for name, def := range o {
				if d, ok := def.(map[string]any); ok {
					m.templates = append(m.templates, dynamicTemplate{name: name, def: d})
				}
			}
		}
	}
	if props, ok := b["properties"].(map[string]any); ok {
		m.addProps("", props)
	}
	if rt, ok := b["runtime"].(map[string]any); ok {
		for name, def := range rt {
			m.addRuntime(name, def)
		}
	}
}

// addRuntime records a runtime field. One without a script reads the
// field of the same name from _source with its type, as Elasticsearch's
// runtime fields do; one with a script cannot run here (no Painless), so
// evaluating it fails the event's index (a partial result).
func (m *Mapping) addRuntime(name string, def any) {
	d, _ := def.(map[string]any)
	if d != nil && d["script"] == nil {
		t, _ := d["type"].(string)
		if ft, ok := typeNames[t]; ok {
			m.fields[name] = ft
			m.declared[name] = t
			return
		}
	}
	m.fields[name] = ftRuntime
}

// dynamicMode normalises a "dynamic" parameter: "true", "false",
// "strict" or "runtime".
func dynamicMode(v any) string {
	switch x := v.(type) {
	case bool:
		if x {
			return "true"
		}
		return "false"
	case string:
		return strings.ToLower(x)
	}
	return "true"
}

func (m *Mapping) addProps(prefix string, props map[string]any) {
	m.addPropsIn(prefix, props, "")
}

// addPropsIn adds properties; nested names the nested field above them.
func (m *Mapping) addPropsIn(prefix string, props map[string]any, nested string) {
	for name, def := range props {
		d, ok := def.(map[string]any)
		if !ok {
			continue
		}
		full := prefix + name
		t, _ := d["type"].(string)
		if nested != "" {
			m.nested[full] = nested
		}
		if t == "nested" {
			m.fields[full] = ftObject
			m.nested[full] = full
			m.declared[full] = "nested"
			if sub, ok := d["properties"].(map[string]any); ok {
				m.addPropsIn(full+".", sub, full)
			}
			continue
		}
		if dv, ok := d["dynamic"]; ok {
			m.dynamic[full] = dynamicMode(dv)
		}
		if sub, ok := d["properties"].(map[string]any); ok || t == "object" {
			m.fields[full] = ftObject
			m.addPropsIn(full+".", sub, nested)
			continue
		}
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
		m.declared[full] = t
		if nv, ok := d["null_value"]; ok {
			m.nullVal[full] = nv
		}
		if v, ok := d["value"]; ok && t == "constant_keyword" {
			m.consts[full] = v
		}
		if f, ok := d["format"].(string); ok && (ft == ftDate || ft == ftDateNanos) {
			m.formats[full] = f
		}
		m.keywordOptions(full, t, d)
		var exact []string
		if sub, ok := d["fields"].(map[string]any); ok {
			names := make([]string, 0, len(sub))
			for sname := range sub {
				names = append(names, sname)
			}
			sort.Strings(names)
			for _, sname := range names {
				sd, ok := sub[sname].(map[string]any)
				if !ok {
					continue
				}
				st, _ := sd["type"].(string)
				sft, ok := typeNames[st]
				if !ok {
					sft = ftKeyword
				}
				sf := full + "." + sname
				m.fields[sf] = sft
				m.declared[sf] = st
				m.source[sf] = full
				if nested != "" {
					m.nested[sf] = nested
				}
				m.keywordOptions(sf, st, sd)
				if st == "text" || st == "match_only_text" {
					m.inexact[sf] = inexactField{"text", noExact(sname)}
				}
				if st == "keyword" && sd["normalizer"] == nil {
					exact = append(exact, sf)
				}
			}
		}
		if ft == ftText {
			// TextEsField.findExact: one keyword sub-field without a
			// normalizer, else an error naming the field's own name
			switch len(exact) {
			case 1:
				m.exact[full] = exact[0]
			case 0:
				m.inexact[full] = inexactField{"text", noExact(name)}
			default:
				m.inexact[full] = inexactField{"text", "Multiple exact keyword candidates available for [" + name + "]; specify which one to use"}
			}
		}
	}
}

func noExact(name string) string {
	return "No keyword/multi-field defined exact matches for [" + name + "]; define one or use MATCH/QUERY instead"
}

// keywordOptions records a keyword's ignore_above and normalizer.
func (m *Mapping) keywordOptions(full, t string, d map[string]any) {
	if t != "keyword" {
		return
	}
	if n, ok := d["ignore_above"]; ok {
		switch v := n.(type) {
		case float64:
			m.ignoreAbove[full] = int(v)
		case json.Number:
			if i, err := v.Int64(); err == nil {
				m.ignoreAbove[full] = int(i)
			}
		}
	}
	if d["normalizer"] != nil {
		m.inexact[full] = inexactField{"keyword", "Normalized keyword field cannot be used for exact match operations"}
	}
}

// AddDynamic maps the fields of doc that the mapping does not know, as
// Elasticsearch's dynamic mapping does when doc is indexed: strings become
// text with a keyword sub-field (ignore_above 256), or dates when they look
// like one (date_detection), or numbers (numeric_detection); integers long,
// other numbers float, booleans boolean, objects and arrays of objects
// objects; dynamic_templates apply first, in order. The nearest "dynamic"
// setting decides: false leaves the field unmapped (in _source, not
// queryable), strict refuses the document (the error Elasticsearch gives),
// runtime maps it as a runtime field read from _source (strings keyword).
// Call it for every document indexed into the mapping.
func (m *Mapping) AddDynamic(doc jsondoc.Document) error {
	return m.addDynamic("", map[string]any(doc))
}

func (m *Mapping) addDynamic(prefix string, obj map[string]any) error {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := obj[k]
		// dots in a field name are object paths
		parent, leaf := prefix, k
		if i := strings.LastIndexByte(k, '.'); i > 0 {
			parent, leaf = prefix+k[:i]+".", k[i+1:]
			if err := m.addObjectPath(prefix, k[:i]); err != nil {
				return err
			}
		}
		full := parent + leaf
		if _, alias := m.aliases[full]; alias {
			continue
		}
		objs := objectsOf(v)
		if o, ok := v.(map[string]any); ok {
			objs = []map[string]any{o}
		}
		if ft, known := m.fields[full]; known {
			if ft == ftObject {
				for _, o := range objs {
					if err := m.addDynamic(full+".", o); err != nil {
						return err
					}
				}
			}
			continue
		}
		if isNullValue(v) {
			continue // null and [] map nothing
		}
		switch m.dynamicAt(strings.TrimSuffix(parent, ".")) {
		case "false":
			continue
		case "strict":
			within := strings.TrimSuffix(parent, ".")
			if within == "" {
				within = "_doc"
			}
			return fmt.Errorf("mapping set to strict, dynamic introduction of [%s] within [%s] is not allowed", leaf, within)
		case "runtime":
			if objs != nil {
				break
			}
			m.mapRuntime(full, v)
			continue
		}
		if objs != nil {
			if !m.applyTemplate(parent, leaf, "object", v) {
				m.fields[full] = ftObject
			}
			for _, o := range objs {
				if err := m.addDynamic(full+".", o); err != nil {
					return err
				}
			}
			continue
		}
		kind := m.valueKind(v)
		if kind == "" || m.applyTemplate(parent, leaf, kind, v) {
			continue
		}
		switch kind {
		case "string":
			m.addProps(parent, map[string]any{leaf: map[string]any{"type": "text",
				"fields": map[string]any{"keyword": map[string]any{"type": "keyword", "ignore_above": float64(256)}}}})
		case "date":
			m.fields[full], m.declared[full] = ftDate, "date"
		case "long":
			m.fields[full], m.declared[full] = ftLong, "long"
		case "double":
			m.fields[full], m.declared[full] = ftDouble, "float"
		case "boolean":
			m.fields[full], m.declared[full] = ftBool, "boolean"
		}
	}
	return nil
}

// addObjectPath maps the intermediate objects of a dotted field name.
func (m *Mapping) addObjectPath(prefix, path string) error {
	parts := strings.Split(path, ".")
	for i := range parts {
		full := prefix + strings.Join(parts[:i+1], ".")
		if _, known := m.fields[full]; known {
			continue
		}
		parent := strings.TrimSuffix(prefix+strings.Join(parts[:i], "."), ".")
		switch m.dynamicAt(parent) {
		case "false":
			return nil
		case "strict":
			if parent == "" {
				parent = "_doc"
			}
			return fmt.Errorf("mapping set to strict, dynamic introduction of [%s] within [%s] is not allowed", parts[i], parent)
		}
		m.fields[full] = ftObject
	}
	return nil
}

func isNullValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		for _, e := range x {
			if !isNullValue(e) {
				return false
			}
		}
		return true
	}
	return false
}

// dynamicAt returns the dynamic setting that applies inside object path
// ("" for the root): the nearest one set, "true" by default.
func (m *Mapping) dynamicAt(path string) string {
	for {
		if d, ok := m.dynamic[path]; ok {
			return d
		}
		if path == "" {
			return "true"
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
	}
}

// valueKind is the match_mapping_type of a JSON value: string, date,
// long, double, boolean ("" for none).
func (m *Mapping) valueKind(v any) string {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			if k := m.valueKind(e); k != "" {
				return k
			}
		}
		return ""
	case string:
		if !m.noDateDetection && len(t) >= 10 && t[4] == '-' {
			if _, ok := parseDateString(t); ok {
				return "date"
			}
		}
		if m.numericDetection {
			if _, err := strconv.ParseInt(t, 10, 64); err == nil {
				return "long"
			}
			if _, err := strconv.ParseFloat(t, 64); err == nil {
				return "double"
			}
		}
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		if strings.ContainsAny(string(t), ".eE") {
			return "double"
		}
		return "long"
	case float64, float32:
		return "double"
	case int, int64, int32, int16, int8, uint, uint64, uint32, uint16, uint8:
		return "long"
	}
	return ""
}

// mapRuntime maps a new field under "dynamic": "runtime": a runtime field
// without a script, read from _source (strings keyword, dates date,
// integers long, other numbers double, booleans boolean).
func (m *Mapping) mapRuntime(full string, v any) {
	switch m.valueKind(v) {
	case "string":
		m.fields[full], m.declared[full] = ftKeyword, "keyword"
	case "date":
		m.fields[full], m.declared[full] = ftDate, "date"
	case "long":
		m.fields[full], m.declared[full] = ftLong, "long"
	case "double":
		m.fields[full], m.declared[full] = ftDouble, "double"
	case "boolean":
		m.fields[full], m.declared[full] = ftBool, "boolean"
	}
}

// applyTemplate maps a new field with the first dynamic template that
// matches it (match_mapping_type, match/unmatch on the name,
// path_match/path_unmatch on the full path, match_pattern simple or
// regex); it reports whether one did.
func (m *Mapping) applyTemplate(parent, leaf, kind string, v any) bool {
	full := parent + leaf
	for _, t := range m.templates {
		if !templateMatches(t.def, kind, leaf, full) {
			continue
		}
		dynType := kind
		if kind == "double" {
			dynType = "float"
		} else if kind == "string" {
			dynType = "text"
		}
		if rt, ok := t.def["runtime"].(map[string]any); ok {
			def := substituteDynamic(rt, kind, leaf, dynType).(map[string]any)
			if _, ok := def["type"]; !ok {
				def["type"] = map[string]string{"string": "keyword", "double": "double"}[kind]
				if def["type"] == "" {
					def["type"] = kind
				}
			}
			m.addRuntime(full, def)
			return true
		}
		mp, ok := t.def["mapping"].(map[string]any)
		if !ok {
			continue
		}
		def := substituteDynamic(mp, kind, leaf, dynType).(map[string]any)
		if _, ok := def["type"]; !ok && kind != "object" {
			def["type"] = dynType
		}
		if kind == "object" {
			if _, ok := def["type"]; !ok {
				def["type"] = "object"
			}
		}
		m.addProps(parent, map[string]any{leaf: def})
		return true
	}
	return false
}

func templateMatches(def map[string]any, kind, leaf, full string) bool {
	regex := def["match_pattern"] == "regex"
	if mmt, ok := def["match_mapping_type"]; ok && !anyPattern(mmt, func(p string) bool {
		return p == "*" || p == kind
	}) {
		return false
	}
	match := func(key, s string, want bool) bool {
		p, ok := def[key]
		if !ok {
			return true
		}
		return anyPattern(p, func(p string) bool { return patternMatch(p, s, regex) }) == want
	}
	return match("match", leaf, true) && match("unmatch", leaf, false) &&
		match("path_match", full, true) && match("path_unmatch", full, false)
}

// anyPattern applies f to a pattern or to each of a list of patterns.
func anyPattern(p any, f func(string) bool) bool {
	switch x := p.(type) {
	case string:
		return f(x)
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok && f(s) {
				return true
			}
		}
	}
	return false
}

// patternMatch is Elasticsearch's Regex.simpleMatch (only * is special)
// or, with match_pattern regex, a full Java regex match.
func patternMatch(p, s string, regex bool) bool {
	if regex {
		re, err := regexp.Compile("^(?:" + p + ")$")
		return err == nil && re.MatchString(s)
	}
	return simpleMatch(p, s)
}

// simpleMatch matches s against a pattern where * stands for any run.
func simpleMatch(p, s string) bool {
	i := strings.IndexByte(p, '*')
	if i < 0 {
		return p == s
	}
	if !strings.HasPrefix(s, p[:i]) {
		return false
	}
	s, p = s[i:], p[i+1:]
	for {
		if simpleMatch(p, s) {
			return true
		}
		if s == "" {
			return false
		}
		s = s[1:]
	}
}

// substituteDynamic replaces {name} and {dynamic_type} in a template.
func substituteDynamic(v any, kind, leaf, dynType string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = substituteDynamic(e, kind, leaf, dynType)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = substituteDynamic(e, kind, leaf, dynType)
		}
		return out
	case string:
		return strings.NewReplacer("{name}", leaf, "{dynamic_type}", dynType).Replace(x)
	}
	return v
}

// objectsOf returns the objects of an array whose elements are objects.
func objectsOf(v any) []map[string]any {
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return nil
	}
	var out []map[string]any
	for _, e := range arr {
		if o, ok := e.(map[string]any); ok {
			out = append(out, o)
		}
	}
	return out
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
	if !ok && m.partial {
		return name, ftUnknown, true
	}
	return name, ft, ok
}

// ReadPaths returns the _source paths a search reads for field name: the
// name itself, the field an alias points to, the field a multi-field
// sub-field indexes. ok is false for a runtime field computed by a script,
// whose inputs are not known here.
func (m *Mapping) ReadPaths(name string) (paths []string, ok bool) {
	paths = []string{name}
	if m == nil {
		return paths, true
	}
	phys, ft, known := m.resolve(name)
	if known && ft == ftRuntime {
		return nil, false
	}
	if phys != name {
		paths = append(paths, phys)
	}
	if src, has := m.source[phys]; has {
		paths = append(paths, src)
	}
	if ex, has := m.exact[phys]; has {
		paths = append(paths, ex)
		if src, has := m.source[ex]; has {
			paths = append(paths, src)
		}
	}
	return paths, true
}

// Type returns the mapped type name of a field ("keyword", "long", ...,
// "alias" targets resolved) and whether it is mapped.
func (m *Mapping) Type(name string) (string, bool) {
	phys, ft, ok := m.resolve(name)
	if !ok {
		return "", false
	}
	if ft == ftLong || ft == ftDouble {
		// numbers keep their declared width (integer, float, ...), as
		// Elasticsearch's data types and messages do
		if d := m.declared[phys]; d != "" {
			if _, known := typeNames[d]; known {
				return d, true
			}
		}
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
		out.partial = out.partial || m.partial
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
		for k, v := range m.source {
			out.source[k] = v
		}
		for k, v := range m.exact {
			out.exact[k] = v
		}
		for k, v := range m.inexact {
			out.inexact[k] = v
		}
		for k, v := range m.ignoreAbove {
			out.ignoreAbove[k] = v
		}
		for k, v := range m.nested {
			out.nested[k] = v
		}
		for k, v := range m.declared {
			out.declared[k] = v
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
