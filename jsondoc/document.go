// Package jsondoc is an event as a search engine reads it: a decoded JSON
// object whose fields are named by dotted paths. Renderers build nested
// objects ({"process": {"name": "nc"}}), exported data may use flattened
// keys ({"process.name": "nc"}); Lookup accepts both, as Elasticsearch's
// field resolution does for _source. The EQL engine reads events through
// this package only, not through the telemetry package (ecs) that renders
// them.
package jsondoc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Fields is how a search reads an event: a dotted-path lookup returning
// the raw value (nil, bool, string, any Go number type or json.Number,
// []any, map[string]any) and whether the field is present. A Document is
// one; so is an event projected on the fields a search reads.
type Fields interface {
	Lookup(path string) (any, bool)
}

var _ Fields = Document(nil)

// TextFields is a field source that can give a field's value as text,
// without building it, when that value is one JSON string or number.
// The text may share memory with the event: it is valid while the event
// is, and a caller that keeps it must copy it.
type TextFields interface {
	Fields
	// LookupText reports the value at path when Lookup would give a
	// string (TextString: the string itself), a one-element array of a
	// string (TextString too: the element) or a json.Number (TextNumber:
	// its JSON text). ok is false otherwise, absent fields included: ask
	// Lookup then.
	LookupText(path string) (text string, kind TextKind, ok bool)
}

// SlottedText is a TextFields whose fields are numbered alike for all the
// events of one layout (the records of projections on the same paths): a
// reader looks a path's number up once per layout and reads each event by
// number.
type SlottedText interface {
	TextFields
	// Layout identifies the numbering (comparable).
	Layout() any
	// Slot is path's number in the layout, or -1.
	Slot(path string) int
	// TextAt answers LookupText for the path numbered slot.
	TextAt(slot int) (text string, kind TextKind, ok bool)
}

// TextKind is what LookupText's text is.
type TextKind uint8

// The kinds of LookupText.
const (
	TextString TextKind = iota + 1
	TextNumber
)

// Marked is a field source that carries marks a test left on it where it
// was read, for a later reader to find: bits under a key, so that a
// reader with another key never takes them for its own.
type Marked interface {
	Fields
	Mark(key any, bits uint64)
	// Marks gives the bits left under key (none under another key).
	Marks(key any) uint64
}

// Sourced is a field source that can give its whole event, for a search
// hit's _source.
type Sourced interface {
	Fields
	Source() Document
}

// Document is one event: a JSON object decoded into Go values. Numbers keep
// whatever Go type the producer used (int, int64, uint16, float64 or
// json.Number); consumers normalise them.
type Document map[string]any

// Lookup returns the value at a dotted field path such as "process.name".
// It resolves nested objects and flattened keys alike, preferring the longest
// literal key at each level, and reports ok=false when the path is absent.
// A present JSON null returns (nil, true).
func (d Document) Lookup(path string) (any, bool) {
	return lookup(map[string]any(d), path)
}

func lookup(m map[string]any, path string) (any, bool) {
	if v, ok := m[path]; ok {
		return v, true
	}
	// Try each dot from the right: "a.b.c" -> key "a.b" then "c", key "a" then "b.c".
	for i := strings.LastIndexByte(path, '.'); i > 0; i = strings.LastIndexByte(path[:i], '.') {
		v, ok := m[path[:i]]
		if !ok {
			continue
		}
		if arr, isArr := v.([]any); isArr {
			// An array of objects: Elasticsearch indexes each object's
			// leaves under the same path, so the field holds every
			// element's value ("process.previous.executable").
			if got, ok := lookupArray(arr, path[i+1:]); ok {
				return got, true
			}
			continue
		}
		child, isObj := asObject(v)
		if !isObj {
			continue
		}
		if got, ok := lookup(child, path[i+1:]); ok {
			return got, true
		}
	}
	return nil, false
}

// lookupArray collects rest from every object in arr, flattening array
// values; ok is false when no element has it.
func lookupArray(arr []any, rest string) (any, bool) {
	var out []any
	found := false
	for _, el := range arr {
		obj, isObj := asObject(el)
		if !isObj {
			continue
		}
		got, ok := lookup(obj, rest)
		if !ok {
			continue
		}
		found = true
		if a, isArr := got.([]any); isArr {
			out = append(out, a...)
		} else {
			out = append(out, got)
		}
	}
	if !found {
		return nil, false
	}
	return out, true
}

func asObject(v any) (map[string]any, bool) {
	switch o := v.(type) {
	case map[string]any:
		return o, true
	case Document:
		return map[string]any(o), true
	}
	return nil, false
}

// Set stores v at a dotted path, creating nested objects as needed.
func (d Document) Set(path string, v any) {
	m := map[string]any(d)
	for {
		i := strings.IndexByte(path, '.')
		if i < 0 {
			m[path] = v
			return
		}
		child, ok := asObject(m[path[:i]])
		if !ok {
			child = map[string]any{}
			m[path[:i]] = child
		}
		m, path = child, path[i+1:]
	}
}

// Decode reads one JSON object into a Document, keeping numbers as
// json.Number so that integers beyond 2^53 survive.
func Decode(data []byte) (Document, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var d Document
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("decode document: %w", err)
	}
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		// More after the object ({"a":1} {"b":2} on one line): refused
		// with encoding/json's own positioned error, not read in part.
		var v any
		return nil, fmt.Errorf("decode document: %w", json.Unmarshal(data, &v))
	}
	if d == nil {
		return nil, fmt.Errorf("decode document: not a JSON object")
	}
	return d, nil
}
