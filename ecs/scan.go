package ecs

import (
	"bytes"
	"encoding/json"
	"math"
	"unicode/utf8"
)

// flatScan is the fast path of Projection.Project: one pass over raw that
// checks its syntax as encoding/json does and fills spans (a Record's, by
// slot, all absent) with where the values of the paths read lie, building
// no value at all. It reports false, leaving spans partly filled, whenever
// the event needs more than that: JSON that encoding/json refuses (the
// slow path gives its positioned error), a top level that is not an
// object, a key with an escape, a dot or invalid UTF-8, an array or a
// repeated key along a path read, or nesting deeper than maxScanDepth.
func (p *Projection) flatScan(raw []byte, spans []span) bool {
	if len(raw) > math.MaxUint32 {
		return false // beyond a span's offsets
	}
	s := scanner{b: raw}
	p.epoch++
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false
	}
	if !p.scanObject(&s, p.root, spans, 1) {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}

// maxScanDepth bounds the fast path's recursion; deeper events take the
// slow path, which applies encoding/json's own limit.
const maxScanDepth = 200

// scanObject reads the object at s.i, whose keys read or descended into
// are node's (nil: none).
func (p *Projection) scanObject(s *scanner, node *pathNode, spans []span, depth int) bool {
	if depth > maxScanDepth {
		return false
	}
	s.i++ // '{'
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for {
		s.ws()
		key, ok := s.plainKey()
		if !ok {
			return false
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.ws()
		k := node.find(key)
		switch {
		case k == nil:
			if !s.skipValue(depth) {
				return false
			}
		case k.kept:
			if spans[k.slot].kind != spanAbsent {
				return false // a repeated key: the last one wins whole
			}
			sp, ok := s.valueSpan(depth)
			if !ok {
				return false
			}
			spans[k.slot] = sp
		default:
			if p.seenAt[k.n] == p.epoch {
				return false // a repeated key: the last one wins whole
			}
			p.seenAt[k.n] = p.epoch
			if s.i < len(s.b) && s.b[s.i] == '{' {
				if !p.scanObject(s, k.next, spans, depth+1) {
					return false
				}
			} else if s.i < len(s.b) && s.b[s.i] == '[' {
				return false
			} else if !s.skipValue(depth) {
				return false
			}
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// pathNode is one level of the paths a Projection reads: the keys of an
// object at that level that are read (kept) or descended into.
type pathNode struct {
	prefix string // the level's path, with its trailing dot; empty at the top
	keys   []pathKey
}

// pathKey is a key of a pathNode.
type pathKey struct {
	key  string
	kept bool      // a path read: its value is kept, at slot of a Record
	slot int       // kept: its slot in a Record
	n    int       // descended into: its number (Projection.seenAt)
	next *pathNode // descended into: the keys below it
}

// find returns the key k of node, or nil; a nil node has no keys.
func (node *pathNode) find(k []byte) *pathKey {
	if node == nil {
		return nil
	}
	for i := range node.keys {
		if pk := &node.keys[i]; len(pk.key) == len(k) && pk.key == string(k) {
			return pk
		}
	}
	return nil
}

// goValueOf converts one checked JSON value as Decode does: scalars and
// arrays of scalars directly, anything else through encoding/json itself.
func goValueOf(b []byte) (any, bool) {
	if v, ok := scalarOf(b); ok {
		return v, true
	}
	if b[0] == '[' {
		if v, ok := scalarArrayOf(b); ok {
			return v, true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

// scalarArrayOf converts a checked array whose elements scalarOf takes.
func scalarArrayOf(b []byte) ([]any, bool) {
	s := scanner{b: b, i: 1}
	out := []any{}
	s.ws()
	if s.b[s.i] == ']' {
		return out, true
	}
	for {
		s.ws()
		start := s.i
		if !s.skipValue(0) {
			return nil, false
		}
		v, ok := scalarOf(b[start:s.i])
		if !ok {
			return nil, false
		}
		out = append(out, v)
		s.ws()
		if s.b[s.i] == ']' {
			return out, true
		}
		s.i++ // ','
	}
}

// scalarOf converts a checked scalar that needs no unescaping.
func scalarOf(b []byte) (any, bool) {
	switch b[0] {
	case '"':
		inner := b[1 : len(b)-1]
		if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			return string(inner), true
		}
	case 't':
		return true, true
	case 'f':
		return false, true
	case 'n':
		return nil, true
	case '{', '[':
	default:
		return json.Number(b), true
	}
	return nil, false
}

// valueSpan reads and checks the value at s.i and tells where it lies and
// what it is.
func (s *scanner) valueSpan(depth int) (span, bool) {
	start := s.i
	if start >= len(s.b) {
		return span{}, false
	}
	switch s.b[start] {
	case '"':
		plain, ok := s.plainString()
		if !ok {
			return span{}, false
		}
		if plain {
			return span{off: uint32(start + 1), end: uint32(s.i - 1), kind: spanString}, true
		}
	case '[':
		if !s.skipComposite(']', depth) {
			return span{}, false
		}
		if off, end, ok := oneString(s.b[start:s.i]); ok {
			return span{off: uint32(start + off), end: uint32(start + end), kind: spanString1}, true
		}
	case 't':
		return span{kind: spanTrue}, s.literal("true")
	case 'f':
		return span{kind: spanFalse}, s.literal("false")
	case 'n':
		return span{kind: spanNull}, s.literal("null")
	case '{':
		if !s.skipValue(depth) {
			return span{}, false
		}
	default:
		if !s.number() {
			return span{}, false
		}
		return span{off: uint32(start), end: uint32(s.i), kind: spanNumber}, true
	}
	return span{off: uint32(start), end: uint32(s.i), kind: spanJSON}, true
}

// plainString reads the string at s.i and reports whether it needs no
// unescaping and is valid UTF-8 (plain), and whether it is valid JSON.
func (s *scanner) plainString() (plain, ok bool) {
	var high byte
	for j := s.i + 1; j < len(s.b); j++ {
		c := s.b[j]
		if plainByte[c] {
			high |= c
			continue
		}
		if c != '"' {
			return false, s.skipString() // an escape, or a control character
		}
		inner := s.b[s.i+1 : j]
		s.i = j + 1
		return high < utf8.RuneSelf || utf8.Valid(inner), true
	}
	return false, false
}

// oneString reports whether the checked array v holds one string that
// needs no unescaping and is valid UTF-8, and where its text lies in v.
func oneString(v []byte) (off, end int, ok bool) {
	s := scanner{b: v, i: 1}
	s.ws()
	if v[s.i] != '"' {
		return 0, 0, false
	}
	start := s.i
	if plain, _ := s.plainString(); !plain {
		return 0, 0, false
	}
	off, end = start+1, s.i-1
	s.ws()
	return off, end, s.i == len(v)-1 // then v[s.i] is ']'
}

// scanner checks JSON syntax exactly as encoding/json's scanner does
// (strings may hold any byte from 0x20 up, valid UTF-8 or not).
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) && s.b[s.i] <= ' ' && space[s.b[s.i]] {
		s.i++
	}
}

// space marks JSON's white space.
var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

// plainKey reads an object key that needs no unescaping, holds no dot and
// is valid UTF-8, and returns its bytes; any other key reports false.
func (s *scanner) plainKey() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	var high byte
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		if keyByte[c] {
			high |= c
			continue
		}
		if c != '"' {
			return nil, false // an escape, a dot or a control character
		}
		s.i = j + 1
		key := s.b[start:j]
		return key, high < utf8.RuneSelf || utf8.Valid(key)
	}
	return nil, false
}

// keyByte marks the bytes plainKey takes as they are: plainByte's, but
// not '.'.
var keyByte = func() (t [256]bool) {
	t = plainByte
	t['.'] = false
	return t
}()

func (s *scanner) skipValue(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.skipString()
	case c == '{':
		return s.skipComposite('}', depth)
	case c == '[':
		return s.skipComposite(']', depth)
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return false
}

func (s *scanner) literal(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// plainByte marks the bytes a JSON string holds as they are: not '"',
// not '\\', not a control character.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (s *scanner) skipString() bool {
	j := s.i + 1
	for j < len(s.b) {
		c := s.b[j]
		if plainByte[c] {
			j++
			continue
		}
		switch {
		case c == '"':
			s.i = j + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if j+1 >= len(s.b) {
				return false
			}
			switch s.b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(s.b) {
					return false
				}
				for _, h := range s.b[j+2 : j+6] {
					if !isHex(h) {
						return false
					}
				}
				j += 6
			default:
				return false
			}
		default:
			j++
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// number follows RFC 8259's grammar, as encoding/json does:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	s.i = i
	return true
}

// skipComposite checks an object (close '}') or array (close ']').
func (s *scanner) skipComposite(close byte, depth int) bool {
	if depth+1 > maxScanDepth {
		return false
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == close {
		s.i++
		return true
	}
	for {
		s.ws()
		if close == '}' {
			if s.i >= len(s.b) || s.b[s.i] != '"' || !s.skipString() {
				return false
			}
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return false
			}
			s.i++
			s.ws()
		}
		if !s.skipValue(depth + 1) {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case close:
			s.i++
			return true
		default:
			return false
		}
	}
}
