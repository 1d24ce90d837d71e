package eql

import (
	"slices"
	"strings"
)

// Samples follow Elasticsearch's sample command: events are grouped by
// their join keys (the global keys then each stage's own keys, fanned out
// over multi-valued fields, null allowed only for optional keys); a key
// that has events in every stage yields up to max_samples_per_key
// samples, one event per stage, no event twice in a sample. Samples come
// ordered by key as a composite aggregation orders buckets (null first,
// then ascending), events in stage order. Timestamps play no role.

type sampleKey struct {
	kt    keyTuple
	perSt [][]*event
}

func (r *runner) runSample() (*Response, error) {
	stages := r.p.stages
	groups := map[string]*sampleKey{}
	// Samples ignore time: events are taken in index order.
	for e, err := range r.inputOrder() {
		if err != nil {
			return nil, err
		}
		for si, s := range stages {
			ok, failed := r.matches(s, e)
			if failed {
				r.failed[si] = true
				continue
			}
			if !ok {
				continue
			}
			tuples, ok := r.keyTuples(s, e)
			if !ok {
				continue
			}
			for _, kt := range tuples {
				g := groups[kt.id]
				if g == nil {
					g = &sampleKey{kt: kt.owned(), perSt: make([][]*event, len(stages))}
					groups[g.kt.id] = g
				}
				g.perSt[si] = append(g.perSt[si], e)
			}
		}
	}
	var keys []*sampleKey
	for _, g := range groups {
		full := true
		for _, evs := range g.perSt {
			if len(evs) == 0 {
				full = false
				break
			}
		}
		if full {
			keys = append(keys, g)
		}
	}
	slices.SortFunc(keys, func(a, b *sampleKey) int { return compareKeyTuples(a.kt.vals, b.kt.vals) })
	per := r.req.MaxSamplesPerKey
	if per <= 0 {
		per = DefaultMaxSamplesPerKey
	}
	var done []completed
	for _, g := range keys {
		n := 0
		cur := make([]*event, len(stages))
		var walk func(i int) bool
		walk = func(i int) bool {
			if i == len(stages) {
				done = append(done, completed{key: g.kt, events: slices.Clone(cur)})
				n++
				return n < per
			}
			for _, e := range g.perSt[i] {
				if slices.Contains(cur[:i], e) {
					continue
				}
				cur[i] = e
				if !walk(i + 1) {
					return false
				}
			}
			return true
		}
		walk(0)
	}
	if len(r.failed) > 0 {
		r.partial = true
	}
	lo, hi := r.window(len(done))
	done = done[lo:hi]
	resp := &Response{IsPartial: r.partial, ShardFailures: r.failures}
	resp.Hits.Sequences = make([]Sequence, 0, len(done))
	for _, d := range done {
		sq := Sequence{Events: make([]Hit, 0, len(d.events))}
		if len(d.key.vals) > 0 {
			sq.JoinKeys = make([]any, len(d.key.vals))
			for i, v := range d.key.vals {
				if v.k == vInt && v.date {
					// composite aggregations key dates by epoch millis
					sq.JoinKeys[i] = v.i / 1e6
					continue
				}
				sq.JoinKeys[i] = jsonValue(v)
			}
		}
		for _, e := range d.events {
			sq.Events = append(sq.Events, r.hit(e))
		}
		resp.Hits.Sequences = append(resp.Hits.Sequences, sq)
	}
	resp.Hits.Total = Total{Value: len(resp.Hits.Sequences), Relation: "eq"}
	return resp, nil
}

func compareKeyTuples(a, b []val) int {
	for i := range a {
		x, y := a[i], b[i]
		switch {
		case x.k == vNull && y.k == vNull:
			continue
		case x.k == vNull:
			return -1
		case y.k == vNull:
			return 1
		}
		if c, ok := compareVals(x, y); ok && c != 0 {
			return c
		}
		if c := strings.Compare(x.s, y.s); c != 0 {
			return c
		}
	}
	return 0
}
