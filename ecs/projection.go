package ecs

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// RawKey is the key under which a projected Document keeps the event's
// whole JSON object, so that a hit can be shown as it was (FullSource).
// No field path can name it.
const RawKey = "\x00raw"

// Projection decodes only the fields a query reads: each event becomes a
// Document holding the values on the given paths (nested objects and
// flattened "a.b" keys alike, arrays of objects along a path kept with
// their elements projected) and, under RawKey, its raw JSON. A lookup of
// any of the paths answers as on the fully decoded document; what else
// the event holds costs neither a map nor a string.
type Projection struct {
	keep    map[string]bool // a path read: its whole value is kept
	through map[string]bool // a proper prefix of a path read: descended into
	parser  fastjson.Parser
	path    []byte // the flat walk's current path, reused
}

// NewProjection projects onto paths (dotted field names).
func NewProjection(paths []string) *Projection {
	p := &Projection{keep: map[string]bool{}, through: map[string]bool{}}
	for _, path := range paths {
		if path == "" {
			continue
		}
		p.keep[path] = true
		for i := strings.IndexByte(path, '.'); i >= 0; i = next(path, i) {
			p.through[path[:i]] = true
		}
	}
	return p
}

func next(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '.')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// Decode projects one JSON object. Input that is not a JSON object gets
// Decode's own error (with its offset). A Projection is not safe for
// concurrent use.
func (p *Projection) Decode(raw []byte) (Document, error) {
	// fastjson is more lenient than JSON (it takes 00, for one): what
	// encoding/json refuses gets its positioned error, as without
	// projection.
	if !json.Valid(raw) {
		return Decode(raw)
	}
	v, err := p.parser.ParseBytes(raw)
	if err != nil {
		return Decode(raw)
	}
	o, err := v.Object()
	if err != nil {
		return nil, errors.New("decode document: not a JSON object")
	}
	d := Document{}
	if !p.flat(o, "", d) {
		// A dotted key or an array along a path: Lookup's resolution
		// rules apply, so the projection keeps the document's shape.
		clear(d)
		p.project(o, "", d)
	}
	d[RawKey] = append([]byte(nil), raw...)
	return d, nil
}

// flat projects an event made of plain nested objects into one map keyed
// by full paths ("process.name"), which Lookup answers directly: one map
// per event instead of one per object along the paths. It reports false,
// leaving into partly filled, when a key holds a dot or a path crosses an
// array, where the nested shape must stay.
func (p *Projection) flat(o *fastjson.Object, prefix string, into map[string]any) bool {
	ok := true
	p.path = append(p.path[:0], prefix...)
	p.flatAt(o, &ok, into)
	return ok
}

// flatAt walks o, whose path (with its trailing dot) is p.path. Keys are
// looked up without building a string; only a kept or descended key
// becomes one.
func (p *Projection) flatAt(o *fastjson.Object, ok *bool, into map[string]any) {
	base := len(p.path)
	o.Visit(func(kb []byte, v *fastjson.Value) {
		if !*ok {
			return
		}
		if bytes.IndexByte(kb, '.') >= 0 || !utf8.Valid(kb) {
			// A dotted key, or one encoding/json would alter (its
			// replacement characters could spell a path read).
			*ok = false
			return
		}
		p.path = append(p.path[:base], kb...)
		switch {
		case p.keep[string(p.path)]:
			into[string(p.path)] = goValue(v)
		case p.through[string(p.path)]:
			switch v.Type() {
			case fastjson.TypeObject:
				sub, _ := v.Object()
				p.path = append(p.path, '.')
				p.flatAt(sub, ok, into)
			case fastjson.TypeArray:
				*ok = false
			}
		}
	})
	p.path = p.path[:base]
}

func (p *Projection) project(o *fastjson.Object, prefix string, into map[string]any) {
	o.Visit(func(kb []byte, v *fastjson.Value) {
		k := jsonString(kb)
		full := prefix + k
		switch {
		case p.keep[full] || p.underKept(full):
			into[k] = goValue(v)
		case p.through[full]:
			into[k] = p.descend(v, full)
		}
	})
}

// descend projects the value at a prefix of a path read.
func (p *Projection) descend(v *fastjson.Value, full string) any {
	switch v.Type() {
	case fastjson.TypeObject:
		sub := map[string]any{}
		o, _ := v.Object()
		p.project(o, full+".", sub)
		return sub
	case fastjson.TypeArray:
		arr, _ := v.Array()
		out := make([]any, len(arr))
		for i, el := range arr {
			out[i] = p.descend(el, full)
		}
		return out
	}
	return goValue(v)
}

// underKept reports whether a flattened key lies below a path read
// ("process.name.text" under "process.name").
func (p *Projection) underKept(full string) bool {
	for i := strings.IndexByte(full, '.'); i >= 0; i = next(full, i) {
		if p.keep[full[:i]] {
			return true
		}
	}
	return false
}

// goValue converts as Decode does: numbers as json.Number, objects as
// map[string]any, arrays as []any.
func goValue(v *fastjson.Value) any {
	switch v.Type() {
	case fastjson.TypeNull:
		return nil
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	case fastjson.TypeNumber:
		return json.Number(v.MarshalTo(nil))
	case fastjson.TypeString:
		return jsonString(v.GetStringBytes())
	case fastjson.TypeArray:
		arr, _ := v.Array()
		out := make([]any, len(arr))
		for i, el := range arr {
			out[i] = goValue(el)
		}
		return out
	case fastjson.TypeObject:
		o, _ := v.Object()
		m := make(map[string]any, o.Len())
		o.Visit(func(k []byte, el *fastjson.Value) { m[jsonString(k)] = goValue(el) })
		return m
	}
	return nil
}

// jsonString is an unescaped JSON string as encoding/json makes it: each
// byte that is not valid UTF-8 becomes U+FFFD.
func jsonString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.Write(b[:size])
		}
		b = b[size:]
	}
	return sb.String()
}

// FullSource returns the event a projected Document was made from, fully
// decoded; any other Document is returned as it is.
func FullSource(d Document) Document {
	raw, ok := d[RawKey].([]byte)
	if !ok {
		return d
	}
	full, err := Decode(raw)
	if err != nil {
		return d
	}
	return full
}
