package rules

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/BurntSushi/toml"
)

func seedFiles(f *testing.F, glob ...string) {
	for _, g := range glob {
		for _, p := range mustGlob(g) {
			data, err := os.ReadFile(p)
			if err == nil {
				f.Add(data)
			}
		}
	}
}

func mustGlob(pattern string) []string {
	m, _ := filepath.Glob(pattern)
	return m
}

// checkRules asserts the loader invariants: errors are *Error values whose
// position lies inside the file, and every query position maps into it.
func checkRules(t *testing.T, data []byte, rs []Rule, err error) {
	t.Helper()
	nlines := len(lineStarts(data))
	for _, e := range unjoin(err) {
		var re *Error
		if !errors.As(e, &re) {
			t.Fatalf("error %v is not a *rules.Error", e)
		}
		if re.Pos.Line < 1 || re.Pos.Line > nlines || re.Pos.Col < 1 {
			t.Fatalf("error %v: position outside the %d-line input", e, nlines)
		}
	}
	for _, r := range rs {
		for _, off := range []int{0, len(r.Query) / 2, len(r.Query)} {
			p := r.PosAt(off)
			if p.Line < 1 || p.Line > nlines || p.Col < 1 {
				t.Fatalf("rule %q: PosAt(%d) = %v outside the %d-line input", r.Name, off, p, nlines)
			}
		}
	}
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func FuzzParseTOML(f *testing.F) {
	seedFiles(f, "testdata/*.toml", "*.toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseTOML("f.toml", data)
		var rs []Rule
		if r != nil {
			rs = []Rule{*r}
		}
		checkRules(t, data, rs, err)
	})
}

func FuzzParseNDJSON(f *testing.F) {
	seedFiles(f, "testdata/*.ndjson")
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := parseNDJSON("f.ndjson", data)
		checkRules(t, data, rs, err)
	})
}

func FuzzParseJSON(f *testing.F) {
	seedFiles(f, "testdata/*.json", "testdata/*.ndjson")
	f.Add([]byte("[\n {\"rule_id\": }\n]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := parseJSON("f.json", data)
		checkRules(t, data, rs, err)
	})
}

// FuzzDecodeTOMLString holds the position decoder to the real TOML
// decoder: whenever both accept a string token, they agree on its value.
func FuzzDecodeTOMLString(f *testing.F) {
	for _, s := range []string{`"a\"b"`, `'''x'''`, `"""a""""`, `'''''a'''''`, "\"\"\"\n  a \\\n  b\"\"\"", `"\u00e9\U0001F600"`, `"\e\x41"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		doc := "q = " + tok + "\n"
		sm, ok := decodeTOMLString([]byte(doc), 4)
		if ok && len(sm.src) != len(sm.val)+1 {
			t.Fatalf("%d offsets for %d bytes", len(sm.src), len(sm.val))
		}
		var v struct{ Q string }
		if _, err := toml.Decode(doc, &v); err != nil || !ok {
			return
		}
		if string(sm.val) != v.Q {
			t.Fatalf("decodeTOMLString(%q) = %q, toml.Decode = %q", tok, sm.val, v.Q)
		}
	})
}

// FuzzDecodeJSONString does the same against encoding/json.
func FuzzDecodeJSONString(f *testing.F) {
	for _, s := range []string{`"a\"b"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\/\b\f\n\r\t"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		sm, ok := decodeJSONString([]byte(tok), 0)
		if ok && len(sm.src) != len(sm.val)+1 {
			t.Fatalf("%d offsets for %d bytes", len(sm.src), len(sm.val))
		}
		var v string
		if err := json.Unmarshal([]byte(tok), &v); err != nil || !ok || sm.src[len(sm.val)] != len(tok)-1 {
			return
		}
		if string(sm.val) != v {
			t.Fatalf("decodeJSONString(%q) = %q, json.Unmarshal = %q", tok, sm.val, v)
		}
	})
}
