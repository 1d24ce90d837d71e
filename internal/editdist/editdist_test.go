package editdist

import "testing"

func TestLevenshtein(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"", "abc", 3}, {"kitten", "sitting", 3},
		{"destination.prot", "destination.port", 2}, {"process.name", "process.name", 0},
	} {
		if got := Levenshtein(tc.a, tc.b); got != tc.want {
			t.Errorf("Levenshtein(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestNearest(t *testing.T) {
	names := []string{"process.pid", "destination.port", "destination.ip", "process.name"}
	if got := Nearest("destination.prot", names, 3, Levenshtein); got != "destination.port" {
		t.Errorf("nearest = %q", got)
	}
	if got := Nearest("user.id", names, 3, Levenshtein); got != "" {
		t.Errorf("nothing within 2 edits, got %q", got)
	}
	// A tie goes to the first in sorted order, whatever the input order.
	if got := Nearest("ab", []string{"ac", "aa"}, 3, Levenshtein); got != "aa" {
		t.Errorf("tie = %q, want aa", got)
	}
}
