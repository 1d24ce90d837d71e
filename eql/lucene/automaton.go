package lucene

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The automata: a Thompson NFA with epsilon moves and code point ranges
// on its transitions, built fragment by fragment from the syntax tree,
// and the DFA the subset construction makes of it. Complement and
// intersection determinize their operands first, as Lucene's
// Operations.complement and Operations.intersection do.

type trans struct {
	lo, hi rune
	to     int
}

type nstate struct {
	eps []int
	tr  []trans
}

type builder struct {
	states []nstate
	subs   map[*node]*dfa // determinized operands of ~ and &, built once
	mark   []uint32
	gen    uint32
	stack  []int
	final  int // the state determinize accepts in
}

func (b *builder) add() int {
	if len(b.states) >= maxNFAStates {
		panic(&Error{Msg: "Determinizing automaton would require more than " + strconv.Itoa(maxNFAStates) + " states: the pattern is too complex"})
	}
	b.states = append(b.states, nstate{})
	return len(b.states) - 1
}

func (b *builder) eps(from, to int) { b.states[from].eps = append(b.states[from].eps, to) }

func (b *builder) edge(from, to int, lo, hi rune) {
	b.states[from].tr = append(b.states[from].tr, trans{lo, hi, to})
}

// frag builds n as a fragment: its language is the strings that lead
// from s to e.
func (b *builder) frag(n *node) (s, e int) {
	switch n.kind {
	case kUnion:
		s, e = b.add(), b.add()
		for _, m := range []*node{n.a, n.b} {
			ms, me := b.frag(m)
			b.eps(s, ms)
			b.eps(me, e)
		}
	case kConcat:
		s, e1 := b.frag(n.a)
		s2, e := b.frag(n.b)
		b.eps(e1, s2)
		return s, e
	case kRepeat:
		return b.repeat(n)
	case kInter:
		d := intersect(b.sub(n.a), b.sub(n.b))
		return b.embed(d)
	case kCompl:
		return b.embed(b.sub(n.a).complement())
	case kClass:
		s, e = b.add(), b.add()
		for _, r := range n.ranges {
			b.edge(s, e, r.lo, r.hi)
		}
	case kString:
		s = b.add()
		e = s
		for _, c := range n.s {
			next := b.add()
			for _, f := range foldSet(c, n.fold) {
				b.edge(e, next, f, f)
			}
			e = next
		}
	case kAnyChar:
		s, e = b.add(), b.add()
		b.edge(s, e, 0, maxRune)
	case kEmpty:
		s, e = b.add(), b.add()
	case kAnyString:
		s, e = b.add(), b.add()
		b.edge(s, s, 0, maxRune)
		b.eps(s, e)
	case kInterval:
		return b.embed(decimalInterval(n.min, n.max, n.digits))
	case kNamed:
		// RegexpQuery.DEFAULT_PROVIDER knows no automaton by name.
		panic(&Error{Offset: n.pos, Msg: "'" + n.name + "' not found"})
	}
	return s, e
}

// foldSet is RegExp.toCaseInsensitiveChar in Lucene 9: code points up to
// 128 gain their other case; all others match only themselves.
func foldSet(c rune, fold bool) []rune {
	if !fold || c > 128 {
		return []rune{c}
	}
	switch {
	case c >= 'a' && c <= 'z':
		return []rune{c, c - 'a' + 'A'}
	case c >= 'A' && c <= 'Z':
		return []rune{c, c - 'A' + 'a'}
	}
	return []rune{c}
}

// repeat is Operations.repeat: min copies, then either a loop (max -1) or
// max-min optional copies. (The parser refuses min > max, as RegExp does
// since Lucene 9.7; Operations.repeat would make it the empty language.)
func (b *builder) repeat(n *node) (s, e int) {
	if n.max != -1 && n.min > n.max {
		s, e = b.add(), b.add()
		return s, e
	}
	s = b.add()
	e = s
	for i := 0; i < n.min; i++ {
		cs, ce := b.frag(n.a)
		b.eps(e, cs)
		e = ce
	}
	if n.max == -1 {
		cs, ce := b.frag(n.a)
		loop := b.add()
		b.eps(e, loop)
		b.eps(loop, cs)
		b.eps(ce, loop)
		return s, loop
	}
	end := b.add()
	b.eps(e, end)
	for i := n.min; i < n.max; i++ {
		cs, ce := b.frag(n.a)
		b.eps(e, cs)
		b.eps(ce, end)
		e = ce
	}
	return s, end
}

// sub determinizes the language of n on its own, once per node however
// often a repetition copies it.
func (b *builder) sub(n *node) *dfa {
	if d, ok := b.subs[n]; ok {
		return d
	}
	sb := &builder{subs: b.subs}
	s, e := sb.frag(n)
	d := sb.determinize(s, e)
	if b.subs == nil {
		b.subs = map[*node]*dfa{}
	}
	b.subs[n] = d
	return d
}

// embed copies a DFA into the builder as a fragment.
func (b *builder) embed(d *dfa) (s, e int) {
	base := len(b.states)
	for range d.accept {
		b.add()
	}
	e = b.add()
	for i := range d.accept {
		for _, t := range d.tr[i] {
			b.edge(base+i, base+t.to, t.lo, t.hi)
		}
		if d.accept[i] {
			b.eps(base+i, e)
		}
	}
	return base, e
}

// dfa is deterministic: state 0 is the start; each state's transitions
// are sorted and disjoint; a code point without a transition rejects.
type dfa struct {
	accept []bool
	tr     [][]trans
}

func (d *dfa) match(s string) bool {
	st := 0
	for _, c := range s {
		ts := d.tr[st]
		i := sort.Search(len(ts), func(i int) bool { return ts[i].hi >= c })
		if i == len(ts) || ts[i].lo > c {
			return false
		}
		st = ts[i].to
	}
	return d.accept[st]
}

// maxWork bounds the subset construction: the sizes of all the subsets it
// builds, added up. It keeps a hostile pattern of a few dozen characters
// (like (a?){999}(b?){999}(c?){999}) from costing more than a second or two.
const maxWork = 3_000_000

func tooComplex() *Error {
	return &Error{Msg: "Determinizing automaton would require more than " + strconv.Itoa(MaxStates) + " states: the pattern is too complex"}
}

// closure returns the epsilon closure of set, sorted. mark and gen make
// the visited set free to reset between calls.
func (b *builder) closure(set []int) []int {
	if len(b.mark) < len(b.states) {
		b.mark = make([]uint32, len(b.states))
		b.gen = 0
	}
	b.gen++
	stack := append(b.stack[:0], set...)
	var out []int
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if b.mark[s] == b.gen {
			continue
		}
		b.mark[s] = b.gen
		// Only states that read input, and the final state, tell two
		// subsets apart; the rest would only make them bigger.
		if len(b.states[s].tr) > 0 || s == b.final {
			out = append(out, s)
		}
		stack = append(stack, b.states[s].eps...)
	}
	b.stack = stack
	slices.Sort(out)
	return out
}

func setKey(set []int) string {
	buf := make([]byte, 0, 4*len(set))
	for _, s := range set {
		buf = append(buf, byte(s), byte(s>>8), byte(s>>16), byte(s>>24))
	}
	return string(buf)
}

// determinize is the subset construction from s, accepting where a subset
// holds e. Each subset's outgoing ranges are split at every range bound
// so the DFA's transitions are disjoint.
func (b *builder) determinize(s, e int) *dfa {
	b.final = e
	d := &dfa{}
	index := map[string]int{}
	var sets [][]int
	work := 0
	addSet := func(set []int) int {
		// Each subset costs its size in closure, sort and hashing work.
		if work += len(set); work > maxWork {
			panic(tooComplex())
		}
		k := setKey(set)
		if i, ok := index[k]; ok {
			return i
		}
		if len(sets) >= MaxStates {
			panic(tooComplex())
		}
		index[k] = len(sets)
		sets = append(sets, set)
		d.accept = append(d.accept, slices.Contains(set, e))
		d.tr = append(d.tr, nil)
		return len(sets) - 1
	}
	addSet(b.closure([]int{s}))
	var all []trans
	var bounds []rune
	var targets []int
	for i := 0; i < len(sets); i++ {
		all = all[:0]
		for _, st := range sets[i] {
			all = append(all, b.states[st].tr...)
		}
		if len(all) == 0 {
			continue
		}
		// Elementary intervals between consecutive bounds.
		bounds = bounds[:0]
		for _, t := range all {
			bounds = append(bounds, t.lo, t.hi+1)
		}
		slices.Sort(bounds)
		bounds = slices.Compact(bounds)
		var out []trans
		for j := 0; j+1 < len(bounds); j++ {
			lo, hi := bounds[j], bounds[j+1]-1
			targets = targets[:0]
			for _, t := range all {
				if t.lo <= lo && hi <= t.hi {
					targets = append(targets, t.to)
				}
			}
			if len(targets) == 0 {
				continue
			}
			to := addSet(b.closure(targets))
			if n := len(out); n > 0 && out[n-1].to == to && out[n-1].hi+1 == lo {
				out[n-1].hi = hi
				continue
			}
			out = append(out, trans{lo, hi, to})
		}
		d.tr[i] = out
	}
	return d
}

// complement is Operations.complement: totalize, then flip acceptance.
func (d *dfa) complement() *dfa {
	n := len(d.accept)
	c := &dfa{accept: make([]bool, n+1), tr: make([][]trans, n+1)}
	sink := n
	for i := 0; i <= n; i++ {
		var ts []trans
		if i < n {
			ts = d.tr[i]
			c.accept[i] = !d.accept[i]
		} else {
			c.accept[i] = true
		}
		var out []trans
		var next rune
		for _, t := range ts {
			if t.lo > next {
				out = append(out, trans{next, t.lo - 1, sink})
			}
			out = append(out, t)
			next = t.hi + 1
		}
		if next <= maxRune {
			out = append(out, trans{next, maxRune, sink})
		}
		c.tr[i] = out
	}
	return c
}

// intersect is the product automaton (Operations.intersection).
func intersect(a, b *dfa) *dfa {
	d := &dfa{}
	type pair struct{ x, y int }
	index := map[pair]int{}
	var pairs []pair
	addPair := func(p pair) int {
		if i, ok := index[p]; ok {
			return i
		}
		if len(pairs) >= MaxStates {
			panic(tooComplex())
		}
		index[p] = len(pairs)
		pairs = append(pairs, p)
		d.accept = append(d.accept, a.accept[p.x] && b.accept[p.y])
		d.tr = append(d.tr, nil)
		return len(pairs) - 1
	}
	addPair(pair{0, 0})
	for i := 0; i < len(pairs); i++ {
		p := pairs[i]
		var out []trans
		for _, t1 := range a.tr[p.x] {
			for _, t2 := range b.tr[p.y] {
				lo, hi := max(t1.lo, t2.lo), min(t1.hi, t2.hi)
				if lo <= hi {
					out = append(out, trans{lo, hi, addPair(pair{t1.to, t2.to})})
				}
			}
		}
		slices.SortFunc(out, func(x, y trans) int { return int(x.lo - y.lo) })
		d.tr[i] = out
	}
	return d
}

// decimalInterval is Automata.makeDecimalInterval: the decimal strings of
// the numbers min..max, exactly digits long (zero-padded) when digits > 0,
// otherwise with any number of leading zeros.
func decimalInterval(min, max, digits int) *dfa {
	b := &builder{}
	s, e := b.add(), b.add()
	if digits > 0 {
		lo, hi := pad(min, digits), pad(max, digits)
		fs, fe := b.fixedRange(lo, hi)
		b.eps(s, fs)
		b.eps(fe, e)
		return b.determinize(s, e)
	}
	// 0* followed by the number written without leading zeros.
	b.edge(s, s, '0', '0')
	for l := len(strconv.Itoa(min)); l <= len(strconv.Itoa(max)); l++ {
		lo, hi := 0, 9
		if l > 1 {
			lo = pow10(l - 1)
			hi = pow10(l) - 1
		}
		lo, hi = maxInt(lo, min), minInt(hi, max)
		if lo > hi {
			continue
		}
		fs, fe := b.fixedRange(pad(lo, l), pad(hi, l))
		b.eps(s, fs)
		b.eps(fe, e)
	}
	return b.determinize(s, e)
}

func pad(n, width int) string {
	s := strconv.Itoa(n)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}

func pow10(n int) int {
	v := 1
	for range n {
		v *= 10
	}
	return v
}

func maxInt(a, b int) int { return max(a, b) }
func minInt(a, b int) int { return min(a, b) }

// fixedRange accepts the digit strings of len(lo) that lie between lo and
// hi (equal lengths, so string order is numeric order).
func (b *builder) fixedRange(lo, hi string) (s, e int) {
	s = b.add()
	if lo == "" {
		return s, s
	}
	if strings.Trim(lo, "0") == "" && strings.Trim(hi, "9") == "" {
		e = s
		for range lo {
			next := b.add()
			b.edge(e, next, '0', '9')
			e = next
		}
		return s, e
	}
	if lo[0] == hi[0] {
		rs, re := b.fixedRange(lo[1:], hi[1:])
		b.edge(s, rs, rune(lo[0]), rune(lo[0]))
		return s, re
	}
	e = b.add()
	n := len(lo) - 1
	ls, le := b.fixedRange(lo[1:], strings.Repeat("9", n))
	b.edge(s, ls, rune(lo[0]), rune(lo[0]))
	b.eps(le, e)
	if lo[0]+1 <= hi[0]-1 {
		ms, me := b.fixedRange(strings.Repeat("0", n), strings.Repeat("9", n))
		b.edge(s, ms, rune(lo[0]+1), rune(hi[0]-1))
		b.eps(me, e)
	}
	hs, he := b.fixedRange(strings.Repeat("0", n), hi[1:])
	b.edge(s, hs, rune(hi[0]), rune(hi[0]))
	b.eps(he, e)
	return s, e
}

// live reports the states from which an accepting state can be reached.
func (d *dfa) live() []bool {
	live := slices.Clone(d.accept)
	for changed := true; changed; {
		changed = false
		for i, ts := range d.tr {
			if live[i] {
				continue
			}
			for _, t := range ts {
				if live[t.to] {
					live[i], changed = true, true
					break
				}
			}
		}
	}
	return live
}
