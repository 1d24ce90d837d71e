package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var atomicsUpdate = flag.Bool("update-atomics", false, "rewrite testdata/atomics/*.golden")

// TestAtomicsGolden compares the text and JSON renderings of "validate
// atomics" with golden files (rewrite them with -update-atomics).
func TestAtomicsGolden(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
	}{
		{"list.golden", []string{"list"}},
		{"list-json.golden", []string{"list", "--format", "json"}},
		{"show.golden", []string{"show", "T1071.003-2", "T1071.003-4"}},
		{"lint.golden", []string{"lint"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append(append([]string{}, tt.args...), "--path", "../../atomics")
			if err := runAtomics(context.Background(), args, &stdout, &stderr); err != nil {
				t.Fatalf("runAtomics(%q): %v\n%s", args, err, stderr.String())
			}
			file := filepath.Join("testdata", "atomics", tt.golden)
			if *atomicsUpdate {
				if err := os.WriteFile(file, stdout.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update-atomics)", err)
			}
			if stdout.String() != string(want) {
				t.Errorf("validate atomics %q:\ngot:\n%s\nwant:\n%s", args, stdout.String(), want)
			}
		})
	}
}
