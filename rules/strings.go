package rules

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The TOML and JSON decoders give a rule's query but not where each of its
// characters came from. These small decoders re-read the one string token
// holding the query and record, for every decoded byte, the file offset of
// the source character (or escape sequence) that produced it. The caller
// checks that the result equals what the real decoder produced, so a
// divergence here can only cost position precision, never correctness.

// stringMap is a decoded string and its source offsets: src[i] is the file
// offset of decoded byte i, and src[len(val)] the offset just after the
// last source character (the closing delimiter).
type stringMap struct {
	val []byte
	src []int
}

func (m *stringMap) add(from int, s ...byte) {
	for _, b := range s {
		m.val = append(m.val, b)
		m.src = append(m.src, from)
	}
}

func (m *stringMap) addRune(from int, r rune) {
	m.add(from, utf8.AppendRune(nil, r)...)
}

// decodeTOMLString decodes the TOML string token starting at data[at]
// (basic, literal, and their multi-line forms, TOML 1.0 and 1.1 escapes).
func decodeTOMLString(data []byte, at int) (stringMap, bool) {
	var m stringMap
	if at >= len(data) {
		return m, false
	}
	q := data[at]
	if q != '"' && q != '\'' {
		return m, false
	}
	multi := at+2 < len(data) && data[at+1] == q && data[at+2] == q
	i := at + 1
	if multi {
		i = at + 3
		// A newline immediately after the opening delimiter is trimmed.
		if i < len(data) && data[i] == '\n' {
			i++
		} else if i+1 < len(data) && data[i] == '\r' && data[i+1] == '\n' {
			i += 2
		}
	}
	for i < len(data) {
		c := data[i]
		if c == q {
			if !multi {
				m.src = append(m.src, i)
				return m, true
			}
			n := 0
			for i+n < len(data) && data[i+n] == q {
				n++
			}
			if n >= 3 {
				// Up to two quotes right before the closing delimiter
				// belong to the content.
				extra := min(n-3, 2)
				for k := range extra {
					m.add(i+k, q)
				}
				m.src = append(m.src, i+extra)
				return m, true
			}
			for k := range n {
				m.add(i+k, q)
			}
			i += n
			continue
		}
		if c == '\n' && !multi {
			return m, false
		}
		if c != '\\' || q == '\'' {
			m.add(i, c)
			i++
			continue
		}
		// Escape in a basic string.
		if i+1 >= len(data) {
			return m, false
		}
		e := data[i+1]
		switch e {
		case 'b':
			m.add(i, '\b')
		case 't':
			m.add(i, '\t')
		case 'n':
			m.add(i, '\n')
		case 'f':
			m.add(i, '\f')
		case 'r':
			m.add(i, '\r')
		case 'e':
			m.add(i, 0x1b)
		case '"':
			m.add(i, '"')
		case '\\':
			m.add(i, '\\')
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if i+2+n > len(data) {
				return m, false
			}
			v, err := strconv.ParseUint(string(data[i+2:i+2+n]), 16, 32)
			if err != nil || !utf8.ValidRune(rune(v)) {
				return m, false
			}
			m.addRune(i, rune(v))
			i += 2 + n
			continue
		default:
			if !multi {
				return m, false
			}
			// Line-ending backslash: trim whitespace and newlines up to
			// the next non-blank character.
			j := i + 1
			for j < len(data) && (data[j] == ' ' || data[j] == '\t') {
				j++
			}
			if j < len(data) && data[j] == '\r' {
				j++
			}
			if j >= len(data) || data[j] != '\n' {
				return m, false
			}
			for j < len(data) && (data[j] == ' ' || data[j] == '\t' || data[j] == '\n' || data[j] == '\r') {
				j++
			}
			i = j
			continue
		}
		i += 2
	}
	return m, false
}

// decodeJSONString decodes the JSON string token starting at data[at]
// (RFC 8259 §7, with encoding/json's handling of lone surrogates).
func decodeJSONString(data []byte, at int) (stringMap, bool) {
	var m stringMap
	if at >= len(data) || data[at] != '"' {
		return m, false
	}
	i := at + 1
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			m.src = append(m.src, i)
			return m, true
		case c < 0x20:
			return m, false
		case c >= utf8.RuneSelf:
			// encoding/json turns each invalid UTF-8 byte into U+FFFD.
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n == 1 {
				m.addRune(i, r)
			} else {
				m.add(i, data[i:i+n]...)
			}
			i += n
			continue
		case c != '\\':
			m.add(i, c)
			i++
			continue
		}
		if i+1 >= len(data) {
			return m, false
		}
		switch e := data[i+1]; e {
		case '"', '\\', '/':
			m.add(i, e)
		case 'b':
			m.add(i, '\b')
		case 'f':
			m.add(i, '\f')
		case 'n':
			m.add(i, '\n')
		case 'r':
			m.add(i, '\r')
		case 't':
			m.add(i, '\t')
		case 'u':
			r, ok := hex4(data, i+2)
			if !ok {
				return m, false
			}
			n := 6
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(0), false
				if i+12 <= len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
					r2, ok2 = hex4(data, i+8)
				}
				if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
					r, n = dec, 12
				} else {
					r = utf8.RuneError
				}
			}
			m.addRune(i, r)
			i += n
			continue
		default:
			return m, false
		}
		i += 2
	}
	return m, false
}

func hex4(data []byte, at int) (rune, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(data[at:at+4]), 16, 32)
	return rune(v), err == nil
}
