// Package editdist measures how far apart two names are, for the "did you
// mean" hints of the rule, query and telemetry checks.
package editdist

import "sort"

// Levenshtein is the edit distance between a and b, in bytes.
func Levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Nearest returns the candidate closest to name by dist, when it is
// fewer than limit edits away; "" when none is. Of equally close ones,
// the first in sorted order wins.
func Nearest(name string, candidates []string, limit int, dist func(a, b string) int) string {
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	best, bestD := "", limit
	for _, c := range sorted {
		if d := dist(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}
