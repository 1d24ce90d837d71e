package atomics

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadAtomics feeds arbitrary bytes to Parse. Invariants: no panic;
// an error is an ErrorList whose every position lies inside the input; a
// technique lints without panic and every finding lies inside the input.
func FuzzLoadAtomics(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/golden/*.yaml")
	seeds = append(seeds, "T1071.003/T1071.003.yaml")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("atomic_tests: [{executor: {command: 'x #{'}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := strings.Split(string(data), "\n")
		inside := func(p Pos) bool {
			return p.File == "fuzz.yaml" && p.Line >= 1 && p.Line <= len(lines) && p.Col >= 1 && p.Col <= len(lines[p.Line-1])+1
		}
		tech, err := Parse("fuzz.yaml", data)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("Parse: error %T %v, want a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if !inside(e.Pos) {
					t.Fatalf("Parse: error position %s outside the input (%d lines): %v", e.Pos, len(lines), e)
				}
			}
			return
		}
		for _, f := range tech.Lint() {
			if !inside(f.Pos) {
				t.Fatalf("Lint: finding position %s outside the input (%d lines): %v", f.Pos, len(lines), f)
			}
		}
	})
}

// FuzzSubstitute: substitution never panics, replaces every placeholder it
// has a value for, and fails exactly when a placeholder has none.
func FuzzSubstitute(f *testing.F) {
	f.Add("echo #{a} #{b} #{a}", "x", "PathToAtomicsFolder/T1/#{b}")
	f.Add("#{#{a}}", "#{a}", "")
	f.Add("#{unknown} $PathToAtomicsFolder", "", "y")
	f.Fuzz(func(t *testing.T, s, a, b string) {
		in := Inputs{"a": a, "b": b}
		out, err := Substitute(s, in, "/atomics")
		var unknown bool
		for _, name := range Placeholders(s) {
			if _, ok := in[name]; !ok {
				unknown = true
			}
		}
		if unknown != (err != nil) {
			t.Fatalf("Substitute(%q): err %v, placeholders %q", s, err, Placeholders(s))
		}
		if err == nil && !strings.Contains(a+b, "#{") && !strings.Contains(a+b, "PathTo") &&
			(strings.Contains(out, "#{a}") || strings.Contains(out, "#{b}")) && !strings.Contains(s, "#{#{") {
			t.Fatalf("Substitute(%q) = %q: a placeholder is left", s, out)
		}
	})
}
