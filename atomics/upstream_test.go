package atomics

import (
	"os"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/prereq"
)

// TestLoadUpstreamCheckout loads a whole Atomic Red Team checkout, as users
// do: ART_ATOMICS_DIR names its atomics folder (or the checkout). Every file
// must load; lint findings are fine (upstream has its own conventions) but
// each must point inside its file.
func TestLoadUpstreamCheckout(t *testing.T) {
	dir := os.Getenv("ART_ATOMICS_DIR")
	if dir == "" {
		prereq.Skip(t, prereq.Upstream, "ART_ATOMICS_DIR not set (point it at an atomic-red-team checkout's atomics folder)")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("ART_ATOMICS_DIR=%s: %v", dir, err) // named but not there: a configuration error, not a skip
	}
	c, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir(%s): %v", dir, err)
	}
	tests := c.Tests()
	if len(c.Techniques) < 100 {
		t.Errorf("LoadDir(%s): %d techniques, want the hundreds of a checkout", dir, len(c.Techniques))
	}
	lines := map[string]int{}
	for _, tech := range c.Techniques {
		b, err := os.ReadFile(tech.File)
		if err != nil {
			t.Fatal(err)
		}
		lines[tech.File] = strings.Count(string(b), "\n") + 1
	}
	byRule := map[Rule]int{}
	findings := c.Lint()
	for _, f := range findings {
		byRule[f.Rule]++
		if n, ok := lines[f.Pos.File]; !ok || f.Pos.Line < 1 || f.Pos.Line > n || f.Pos.Col < 1 {
			t.Errorf("finding outside its file (%d lines): %s", n, f)
		}
	}
	t.Logf("%d techniques, %d tests, %d findings by rule: %v", len(c.Techniques), len(tests), len(findings), byRule)
	// Every test's commands substitute with the defaults, as Invoke-AtomicRedTeam would.
	for _, test := range tests {
		in, err := test.Resolve(nil)
		if err != nil {
			t.Errorf("%s: Resolve: %v", test.ID(), err)
			continue
		}
		if test.Executor != nil && test.Executor.Name != Manual {
			if _, err := Substitute(test.Executor.Command, in, c.Dir); err != nil && byRule[RuleUndeclared] == 0 {
				t.Errorf("%s: %v", test.ID(), err)
			}
		}
	}
}
