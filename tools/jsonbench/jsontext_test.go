//go:build goexperiment.jsonv2

package jsonbench

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"encoding/json/jsontext"
)

// encoding/json/jsontext exists only with GOEXPERIMENT=jsonv2 (Go 1.25,
// 1.26); its options here take JSON as encoding/json (v1) does.
func init() {
	projectors = append(projectors, projector{"encoding/json/jsontext (GOEXPERIMENT=jsonv2), tokens", true, jsontextProjector})
}

func jsontextProjector(fields []string) func([]byte) (map[string]any, error) {
	keep, through := map[string]bool{}, map[string]bool{}
	for _, f := range fields {
		keep[f] = true
		for i := strings.IndexByte(f, '.'); i >= 0; i = next(f, i) {
			through[f[:i]] = true
		}
	}
	opts := []jsontext.Options{jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true)}
	dec := jsontext.NewDecoder(bytes.NewReader(nil), opts...)
	var walk func(prefix string, out map[string]any) error
	walk = func(prefix string, out map[string]any) error {
		for dec.PeekKind() != '}' {
			name, err := dec.ReadToken()
			if err != nil {
				return err
			}
			full := prefix + name.String()
			switch {
			case keep[full]:
				v, err := dec.ReadValue()
				if err != nil {
					return err
				}
				out[full] = fromJSON(v)
			case through[full] && dec.PeekKind() == '{':
				if _, err := dec.ReadToken(); err != nil {
					return err
				}
				if err := walk(full+".", out); err != nil {
					return err
				}
			default:
				if err := dec.SkipValue(); err != nil {
					return err
				}
			}
		}
		_, err := dec.ReadToken()
		return err
	}
	return func(line []byte) (map[string]any, error) {
		dec.Reset(bytes.NewReader(line), opts...)
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		if tok.Kind() != '{' {
			return nil, errors.New("not an object")
		}
		out := map[string]any{}
		if err := walk("", out); err != nil {
			return nil, err
		}
		if _, err := dec.ReadToken(); err != io.EOF {
			return nil, errors.New("data after the object")
		}
		return out, nil
	}
}

func next(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '.')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}
