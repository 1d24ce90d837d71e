package yamlerr

import (
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestLocate(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"unclosed { (yaml.v3 says line 5)", "scenarios:\n  - name: a\n    command: [true]\n    tags: [attack]\n    inputs:\n      x: {a: 1, b: 2\n    expect: {r: fires}\n",
			"6:10: did not find expected ',' or '}' (this { is not closed)"},
		{"unclosed [ on the first line", "a: [1, 2\n", "1:4: did not find expected ',' or ']' (this [ is not closed)"},
		{"mismatched bracket (yaml.v3 gives no line)", "a: [1, 2}\n", "1:4: did not find expected ',' or ']' (this [ is not closed)"},
		{"quoted brackets and comments do not count", "a: \"{\" # [\nb: {x: '}', y: [1]\n", "2:4: did not find expected ',' or '}' (this { is not closed)"},
		{"block scalar brackets do not count", "a: |\n  {[\nb: [1\n", "3:4: did not find expected ',' or ']' (this [ is not closed)"},
		{"dedented key", "a:\n  b: 1\n c: 2\n", "3:2: did not find expected key"},
		{"dedented key after a sequence", "a:\n  - x\n  - y\n z: 1\n", "4:2: did not find expected key"},
		{"key among sequence items", "a: 1\nb:\n  - c\n  d: 1\n", "4:3: did not find expected '-' indicator"},
		{"reserved character", "a: 1\nb: @x\n", "2:4: found character that cannot start any token"},
		{"unclosed quote", "a: 1\nb: \"abc\nc: 2\n", "2:4: found unexpected end of stream"},
		{"tab indentation", "a: 1\n\tb: 2\n", "2:1: found a tab character that violates indentation"},
		{"value indicator under a plain scalar (goccy says 1:4)", "a: b\n  c: d\n", "2:4: mapping values are not allowed in this context"},
		{"second value indicator", "a: 1\nb: x: y\n", "2:5: mapping values are not allowed in this context"},
		{"over-indented key", "atomic_tests:\n- name: x\n   description: too far\n", "3:15: mapping values are not allowed in this context"},
		{"unclosed flow at the end", "users: [\n", "1:8: did not find expected node content"},
		{"key without colon", "a: 1\nb\nc: 2\n", "2:1: could not find expected ':'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n yaml.Node
			err := yaml.Unmarshal([]byte(tc.src), &n)
			if err == nil {
				t.Fatalf("yaml.Unmarshal(%q) = nil, want a syntax error", tc.src)
			}
			l, c, msg := Locate([]byte(tc.src), err)
			if got := fmt.Sprintf("%d:%d: %s", l, c, msg); got != tc.want {
				t.Errorf("Locate(%q, %q) = %q, want %q", tc.src, err, got, tc.want)
			}
		})
	}
}

// FuzzLocate: for any input yaml.v3 refuses, the position lies inside the
// input and Locate does not panic.
func FuzzLocate(f *testing.F) {
	for _, s := range []string{"a: {b: 1\n", "a: [1, 2}", "a:\n  b: 1\n c: 2\n", "\"", "a: |\n  {\nb: [", "- [\n  - {", "\xff: ["} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var n yaml.Node
		err := yaml.Unmarshal([]byte(src), &n)
		if err == nil || !strings.HasPrefix(err.Error(), "yaml: ") {
			return
		}
		l, c, _ := Locate([]byte(src), err)
		lines := strings.SplitAfter(src, "\n")
		if l < 1 || l > len(lines) {
			t.Fatalf("line %d outside 1..%d", l, len(lines))
		}
		if n := len([]rune(strings.TrimRight(lines[l-1], "\r\n"))); c < 1 || c > n+1 {
			t.Fatalf("%d:%d: column outside 1..%d", l, c, n+1)
		}
	})
}
