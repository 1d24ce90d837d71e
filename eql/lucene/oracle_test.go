package lucene

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// oracle decides membership straight from the syntax tree, by sets of end
// positions, without automata: an independent reading of each operator,
// against which the compiled DFA is checked.
type oracle struct {
	s    []rune
	memo map[*node]map[int][]bool
}

func (o *oracle) match(n *node) bool { return o.ends(n, 0)[len(o.s)] }

func (o *oracle) ends(n *node, i int) []bool {
	if m, ok := o.memo[n][i]; ok {
		return m
	}
	out := make([]bool, len(o.s)+1)
	switch n.kind {
	case kUnion, kInter:
		a, b := o.ends(n.a, i), o.ends(n.b, i)
		for j := range out {
			if n.kind == kUnion {
				out[j] = a[j] || b[j]
			} else {
				out[j] = a[j] && b[j]
			}
		}
	case kConcat:
		for k, ok := range o.ends(n.a, i) {
			if ok {
				for j, ok := range o.ends(n.b, k) {
					out[j] = out[j] || ok
				}
			}
		}
	case kCompl:
		a := o.ends(n.a, i)
		for j := i; j <= len(o.s); j++ {
			out[j] = !a[j]
		}
	case kClass:
		if i < len(o.s) {
			for _, r := range n.ranges {
				if r.lo <= o.s[i] && o.s[i] <= r.hi {
					out[i+1] = true
				}
			}
		}
	case kString:
		j := i
		for _, c := range n.s {
			if j >= len(o.s) || !sameFold(c, o.s[j], n.fold) {
				j = -1
				break
			}
			j++
		}
		if j >= 0 {
			out[j] = true
		}
	case kAnyChar:
		if i < len(o.s) {
			out[i+1] = true
		}
	case kEmpty:
	case kAnyString:
		for j := i; j <= len(o.s); j++ {
			out[j] = true
		}
	case kInterval:
		for j := i + 1; j <= len(o.s); j++ {
			out[j] = inInterval(string(o.s[i:j]), n.min, n.max, n.digits)
		}
	case kRepeat:
		if n.max != -1 && n.min > n.max {
			break
		}
		cur := make([]bool, len(o.s)+1)
		cur[i] = true
		for k := 0; ; k++ {
			if k >= n.min {
				for j, ok := range cur {
					out[j] = out[j] || ok
				}
			}
			if n.max != -1 && k == n.max {
				break
			}
			if n.max == -1 && k > n.min+len(o.s)+1 {
				break // every reachable end has been seen
			}
			next := make([]bool, len(o.s)+1)
			for p, ok := range cur {
				if ok {
					for j, ok := range o.ends(n.a, p) {
						next[j] = next[j] || ok
					}
				}
			}
			cur = next
		}
	}
	if o.memo[n] == nil {
		o.memo[n] = map[int][]bool{}
	}
	o.memo[n][i] = out
	return out
}

func sameFold(p, c rune, fold bool) bool {
	if p == c {
		return true
	}
	lower := func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	letter := lower(p) >= 'a' && lower(p) <= 'z'
	return fold && letter && lower(p) == lower(c)
}

// inInterval: only ASCII digits; width digits when digits > 0, otherwise
// any number of leading zeros; the value in [min, max].
func inInterval(s string, min, max, digits int) bool {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return false
	}
	if digits > 0 && len(s) != digits {
		return false
	}
	t := strings.TrimLeft(s, "0")
	if len(t) > 10 {
		return false
	}
	v := 0
	if t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			return false
		}
		v = n
	}
	return v >= min && v <= max
}

// oracleCheck compiles pattern and, when it compiles, compares the DFA
// with the oracle on s. It returns the compile error, if any.
func oracleCheck(t *testing.T, pattern string, flags Flags, s string) error {
	t.Helper()
	re, err := Compile(pattern, flags)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Compile(%q) error %T is not *Error", pattern, err)
		}
		if e.Offset < 0 || e.Offset > len(pattern) {
			t.Fatalf("Compile(%q) error offset %d outside the pattern: %v", pattern, e.Offset, e)
		}
		return err
	}
	if !utf8.ValidString(s) {
		return nil
	}
	o := &oracle{s: []rune(s), memo: map[*node]map[int][]bool{}}
	want := o.match(parse(pattern, flags))
	if got := re.MatchString(s); got != want {
		t.Fatalf("Compile(%q, %#x).MatchString(%q) = %v, the syntax tree says %v", pattern, flags, s, got, want)
	}
	return nil
}

var pieces = []string{
	"a", "b", "A", "0", "1", "9", ".", "@", "#", "~", "&", "|", "(", ")", "[", "]", "^", "-",
	"*", "+", "?", "{2}", "{1,2}", "{0,}", "{2,1}", "\\", "\\d", "\\s", "\\w", "\\W", "\\-",
	"\"", "<1-12>", "<01-12>", "<0-5>", "()", "é", " ",
}

func randomPattern(r *rand.Rand) string {
	var b strings.Builder
	for range 1 + r.IntN(8) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func randomInput(r *rand.Rand) string {
	const alphabet = "abAB019-. é"
	rs := []rune(alphabet)
	var b strings.Builder
	for range r.IntN(6) {
		b.WriteRune(rs[r.IntN(len(rs))])
	}
	return b.String()
}

// TestOracle runs many generated patterns over generated inputs and asks
// the DFA and the syntax tree the same question.
func TestOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	compiled := 0
	for range 1500 {
		p := randomPattern(r)
		for _, flags := range []Flags{All, ci} {
			for range 8 {
				if oracleCheck(t, p, flags, randomInput(r)) != nil {
					break
				}
				compiled++
			}
		}
	}
	t.Logf("%d pattern-input pairs compared", compiled)
	if compiled < 2500 {
		t.Errorf("only %d pattern-input pairs compiled; the generator is too hostile to check much", compiled)
	}
}

// FuzzCompile: no panic; an error is an *Error inside the pattern; a
// compiled pattern answers as the syntax tree does.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`[_\-\.]x`, `[a\-z]`, `~(a|b)c&.*`, `<1-10>x`, `"a|b"@#`, `\d{2,3}\s\W`, `(|a)||b`, `[^a-c]`, `a{3,1}`,
	} {
		f.Add(s, "a-x", false)
	}
	f.Fuzz(func(t *testing.T, pattern, input string, fold bool) {
		if len(pattern) > 64 || len(input) > 32 {
			return
		}
		flags := All
		if fold {
			flags |= ASCIICaseInsensitive
		}
		oracleCheck(t, pattern, flags, input)
	})
}
