package atomics

import (
	"testing"
)

// TestShippedTechniqueIsClean keeps atomics/T1071.003 fit to contribute
// upstream: it loads and has no lint finding at all.
func TestShippedTechniqueIsClean(t *testing.T) {
	c, err := LoadDir(".")
	if err != nil {
		t.Fatalf("LoadDir(.): %v", err)
	}
	tech := c.Technique("T1071.003")
	if tech == nil {
		t.Fatalf("LoadDir(.): no T1071.003 among %d techniques", len(c.Techniques))
	}
	for _, f := range c.Lint() {
		t.Errorf("lint: %s", f)
	}
	if len(tech.Tests) < 6 {
		t.Errorf("T1071.003 has %d tests, want the 3 upstream-style ones and 3 Linux-native variants", len(tech.Tests))
	}
}
