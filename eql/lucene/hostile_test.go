package lucene

import (
	"strings"
	"testing"
)

// TestHostile: patterns within Elasticsearch's 1000-character limit that
// make automata explode either compile or are refused as too complex,
// without the run taking more than a moment (BenchmarkHostile measures
// how long a moment is).
func TestHostile(t *testing.T) {
	tests := []struct {
		pattern string
		refused bool
	}{
		{`(~(a{900})){900}`, true},
		{`(.*a.*&.*b.*&.*c.*&.*d.*&.*e.*&.*f.*&.*g.*&.*h.*&.*i.*&.*j.*&.*k.*&.*l.*&.*m.*&.*n.*)`, true},
		{`<0-2147483647><0-2147483647><0-2147483647>`, true},
		{`(((.{30}){30}){30})`, true},
		{`(a?){999}(b?){999}(c?){999}`, true},
		{`(.?){999}x`, true},
		{`((a|b|c)*&(a|b)*){999}`, false},
		{strings.Repeat("(", 300) + "a" + strings.Repeat(")*", 300), false},
		{strings.Repeat("~", 900) + "a", false},
		{`[^a]{999}`, false},
		{`(a?){999}a{999}`, false},
		{`((a|b)?){999}`, false},
		{strings.Repeat("a|", 499) + "b", false},
	}
	for _, tc := range tests {
		_, err := Compile(tc.pattern, All|ASCIICaseInsensitive)
		if tc.refused != (err != nil) {
			t.Errorf("Compile(%.40q) error = %v, want refused %v", tc.pattern, err, tc.refused)
		}
		if err != nil && !strings.Contains(err.Error(), "too complex") {
			t.Errorf("Compile(%.40q) error = %v, want too complex", tc.pattern, err)
		}
	}
}

func BenchmarkHostile(b *testing.B) {
	for _, p := range []string{`(a?){999}(b?){999}(c?){999}`, `(~(a{900})){900}`, `(a?){999}a{999}`} {
		b.Run(p[:10], func(b *testing.B) {
			for b.Loop() {
				Compile(p, All)
			}
		})
	}
}
