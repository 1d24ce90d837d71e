package atomics

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// TestGolden loads each testdata/golden/*.yaml and compares the load errors,
// or else the lint findings, with the .golden file beside it. Every case is
// a mistake (or a quirk) written on purpose; the golden file shows each
// rendered message whole, with its file:line:col.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			got := render(file)
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("Load(%s) then Lint():\ngot:\n%s\nwant:\n%s", file, got, want)
			}
		})
	}
}

func render(file string) string {
	tech, err := Load(file)
	if err != nil {
		return "load error:\n" + err.Error() + "\n"
	}
	var b strings.Builder
	b.WriteString("findings:\n")
	for _, f := range tech.Lint() {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}
