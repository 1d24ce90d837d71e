package eql

import (
	"iter"
	"slices"
	"strings"
	"time"
	"unsafe"
)

// Sequence matching follows Elasticsearch's SequenceMatcher: events are
// consumed in order; for a join key, a hit of stage N continues the latest
// pending sequence of stage N-1 that ended before it and drops the older
// ones (so one pending sequence per key and stage is all that matters);
// maxspan is measured from the sequence's first event and a span equal to
// maxspan still matches; an until hit for the key discards the key's
// pending sequences. Stages of one event are tried from the last to the
// first so that an event never continues a sequence it just started.

type keyTuple struct {
	id   string // grouping identity
	vals []val
}

// owned is k sharing no memory with an event or the runner's buffers
// (simpleKey), to be kept.
func (k keyTuple) owned() keyTuple {
	vals := make([]val, len(k.vals))
	for i, v := range k.vals {
		vals[i] = v.owned()
	}
	return keyTuple{id: strings.Clone(k.id), vals: vals}
}

// pending is a sequence that has matched some stages; the zero pending
// is none.
type pending struct {
	events  []*event // per positive stage matched so far
	startTS int64    // the first event's timestamp, for maxspan
	live    bool
}

type seqState struct {
	// key is the join key, kept once for every sequence of the state: its
	// id, and its values only for a SequenceReport (a completed sequence
	// reports the values of the tuple that completed it, which render
	// alike: the same id is the same values).
	key keyTuple
	// per stage, the latest pending sequence that completed that stage,
	// held in place: the matcher reads them for every event of the key
	stages []pending
}

type completed struct {
	key    keyTuple
	events []*event // per stage; nil for a missing-event stage
	// at is the event that completed it and tuple the key's place among
	// that event's key tuples: the order sequences complete in, by which
	// the shards' results merge (at is the runner's scratch event when
	// the input is streamed).
	at    *event
	tuple int
}

// keyValues returns the join-key values of e for a stage: the global keys
// then the stage keys, each fanned out over a multi-valued field (sorted
// and de-duplicated, as doc values are). ok=false when a required key is
// null: Elasticsearch only joins events that have the key.
func (r *runner) keyTuples(s *stage, e *event) ([]keyTuple, bool) {
	nk := len(r.p.keys) + len(s.keys)
	if nk == 0 {
		return []keyTuple{{}}, true
	}
	if t, ok, simple := r.simpleKey(s, e, nk); simple {
		if !ok {
			return nil, false
		}
		// one reused slot: callers range over the result at once
		r.tuple1[0] = t
		return r.tuple1[:], true
	}
	per := make([][]val, 0, nk)
	add := func(fn *fieldNode, opt bool) bool {
		c := &r.keyCtx
		*c = evalCtx{doc: e.doc}
		v := fn.eval(c)
		vs := distinctSorted(v)
		if len(vs) == 0 {
			if !opt {
				return false
			}
			vs = []val{nullVal}
		}
		per = append(per, vs)
		return true
	}
	for i, fn := range r.p.keys {
		if !add(fn, r.p.keyOpt[i]) {
			return nil, false
		}
	}
	for i, fn := range s.keys {
		if !add(fn, s.keyOpt[i]) {
			return nil, false
		}
	}
	// cartesian product, first key outermost
	out := []keyTuple{{}}
	for _, vs := range per {
		next := make([]keyTuple, 0, len(out)*len(vs))
		for _, t := range out {
			for _, v := range vs {
				vals := append(slices.Clip(t.vals), v)
				next = append(next, keyTuple{vals: vals})
			}
		}
		out = next
	}
	for i := range out {
		var b strings.Builder
		for _, v := range out[i].vals {
			k, ok := v.key()
			if !ok {
				k = "\x00null"
			}
			b.WriteString(k)
			b.WriteByte(keySep)
		}
		out[i].id = b.String()
	}
	return out, true
}

// simpleKey builds the key tuple without fan-out when every key is
// single-valued (the common case); simple=false sends the caller to the
// general path.
func (r *runner) simpleKey(s *stage, e *event, nk int) (t keyTuple, ok, simple bool) {
	vals := r.keyVals[:0]
	b := r.keyBuf[:0]
	defer func() { r.keyBuf, r.keyVals = b, vals }()
	one := func(fn *fieldNode, opt bool) bool {
		c := &r.keyCtx
		*c = evalCtx{doc: e.doc}
		v := fn.eval(c)
		if v.k == vList || v.k == vObj {
			simple = false
			return false
		}
		if b, ok = appendKeyPart(b, v, opt); !ok {
			return false
		}
		vals = append(vals, v)
		return true
	}
	simple, ok = true, true
	for i, fn := range r.p.keys {
		if !one(fn, r.p.keyOpt[i]) {
			return t, ok, simple
		}
	}
	for i, fn := range s.keys {
		if !one(fn, s.keyOpt[i]) {
			return t, ok, simple
		}
	}
	// The tuple shares the runner's buffers (and its strings the event's
	// memory) until the next call: a caller that keeps it keeps its
	// owned copy.
	return keyTuple{id: unsafe.String(unsafe.SliceData(b), len(b)), vals: vals}, true, true
}

// appendKeyPart appends one single-valued key's part of a tuple's id: its
// grouping identity, or the null of an optional key (ok=false for the null
// of a required one: the event is not joined), then keySep.
func appendKeyPart(b []byte, v val, opt bool) (out []byte, ok bool) {
	if v.k == vNull {
		if !opt {
			return b, false
		}
		b = append(b, "\x00null"...)
	} else {
		b, _ = v.appendKey(b)
	}
	return append(b, keySep), true
}

func distinctSorted(v val) []val {
	switch v.k {
	case vNull, vObj:
		return nil
	case vList:
		var out []val
		for _, e := range v.l {
			if e.k != vNull && e.k != vObj {
				out = append(out, e)
			}
		}
		slices.SortStableFunc(out, func(a, b val) int {
			c, _ := compareVals(a, b)
			return c
		})
		out = slices.CompactFunc(out, func(a, b val) bool {
			c, ok := compareVals(a, b)
			return ok && c == 0
		})
		return out
	}
	return []val{v}
}

func (r *runner) runSequence() (*Response, error) {
	if n := r.shardCount(); n > 1 {
		return r.runSequenceSharded(n)
	}
	r.parts = 1
	done, missing, err := r.matchSequences(r.events())
	if err != nil {
		return nil, err
	}
	return r.sequenceResponse(done, missing), nil
}

// matchSequences runs the matcher over events, in order, and returns the
// completed sequences that can reach the response, in the order they
// completed (all of them when missing-event stages or failing fields are
// checked afterwards), and the events that match a missing-event stage.
func (r *runner) matchSequences(events iter.Seq2[*event, error]) (done []completed, missing []*event, err error) {
	stages := r.p.stages
	n := len(stages)
	// positive stages carry the matching; missing stages are checked later
	var pos []int
	for i, s := range stages {
		if !s.missing {
			pos = append(pos, i)
		}
	}
	maxspan := int64(r.p.q.MaxSpan / time.Nanosecond)
	state := map[string]*seqState{}
	// hot is the state last looked up: the stages of a "with runs"
	// expansion look up the same key for each event, and a key's events
	// often come together.
	var hot *seqState
	lookup := func(id string) *seqState {
		if hot != nil && hot.key.id == id {
			return hot
		}
		st := state[id]
		if st != nil {
			hot = st
		}
		return st
	}
	// Without missing-event stages (checked at the end) and without
	// failures (which may discard everything), only the result window
	// needs to be kept, so memory does not grow with the stream.
	ev := r.keeper()
	keep := &bounded[completed]{head: ev.head, k: ev.k}
	emit := func(c completed) bool {
		if len(pos) != n || r.cfg.badField != nil {
			done = append(done, c)
			return true
		}
		return keep.add(c)
	}
	stop := false
	anyMissing := len(pos) != n
	// Expired sequences are swept once the stream has moved on by a
	// maxspan since the last sweep, and no more often than once per
	// len(state) events, so the sweep costs O(1) amortised per event.
	rep := r.cfg.report
	if rep != nil {
		*rep = SequenceReport{StageHits: make([]int, len(pos))}
		r.furthest = map[string]*KeyProgress{}
	}
	// With no sequence to return (size 0) and nothing that reads a kept
	// event again (missing-event stages, failing fields, a report), an
	// open sequence keeps no event, nor a slice for them.
	noHits := keep.k == 0 && !anyMissing && r.cfg.badField == nil && rep == nil
	// keyOf is the key a sequence of st completed by tuple kt reports.
	keyOf := func(st *seqState, kt keyTuple) keyTuple {
		if noHits || st.key.vals != nil || len(kt.vals) == 0 {
			return st.key
		}
		vals := make([]val, len(kt.vals))
		for i, v := range kt.vals {
			vals[i] = v.owned()
		}
		return keyTuple{id: st.key.id, vals: vals}
	}
	count, nextSweep := 0, 4096
	var lastSweepTS int64
	sweptOnce := false
	// The expanded copies of a "with runs=N" stage share one term: the
	// filter and the key of an event are computed once per term.
	var memo struct {
		t      *term
		ord    int64
		ok     bool
		failed bool
		tuples []keyTuple
		keyed  bool
	}
	eval := func(s *stage, e *event) (bool, bool, []keyTuple, bool) {
		if memo.t != s.t || memo.ord != e.ord {
			memo.t, memo.ord = s.t, e.ord
			memo.ok, memo.failed = r.matches(s, e)
			memo.tuples, memo.keyed = nil, false
			if memo.ok {
				memo.tuples, memo.keyed = r.keyTuples(s, e)
			}
		}
		return memo.ok, memo.failed, memo.tuples, memo.keyed
	}
	for e, err := range events {
		if err != nil {
			return nil, nil, err
		}
		if stop {
			break
		}
		if !e.hasTS {
			continue
		}
		count++
		if maxspan > 0 && count >= nextSweep && (!sweptOnce || e.ts-lastSweepTS >= maxspan) {
			nextSweep = count + max(4096, len(state))
			lastSweepTS, sweptOnce = e.ts, true
			for k, st := range state {
				alive := false
				for i, p := range st.stages {
					if p.live && e.ts-p.startTS > maxspan {
						st.stages[i] = pending{}
					} else if p.live {
						alive = true
					}
				}
				if !alive {
					delete(state, k)
				}
			}
			hot = nil
			if err := r.ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		if anyMissing {
			for _, s := range stages {
				if s.missing {
					if ok, _ := r.matches(s, e); ok {
						missing = append(missing, r.retain(e))
						break
					}
				}
			}
		}
		for pi := len(pos) - 1; pi >= 0; pi-- {
			s := stages[pos[pi]]
			ok, failed, tuples, keyed := eval(s, e)
			if rep != nil && ok {
				rep.StageHits[pi]++
			}
			if failed {
				r.failed[pos[pi]] = true
				continue
			}
			if !ok || !keyed {
				continue
			}
			for ti, kt := range tuples {
				st := lookup(kt.id)
				if pi == 0 {
					if st == nil {
						st = &seqState{key: keyTuple{id: strings.Clone(kt.id)}, stages: make([]pending, len(pos))}
						if rep != nil {
							st.key = kt.owned()
						}
						state[st.key.id] = st
						hot = st
					}
					var evs []*event
					if !noHits {
						evs = make([]*event, 1, len(pos))
						evs[0] = r.keepForHit(e)
					}
					st.stages[0] = pending{events: evs, startTS: e.ts, live: true}
					r.progress(st.key, &st.stages[0])
					if len(pos) == 1 {
						if !noHits {
							evs = r.withPlaceholders(evs)
						}
						stop = !emit(completed{key: keyOf(st, kt), events: evs, at: e, tuple: ti}) || stop
						st.stages[0] = pending{}
					}
					continue
				}
				if st == nil || !st.stages[pi-1].live {
					continue
				}
				p := st.stages[pi-1]
				st.stages[pi-1] = pending{}
				if maxspan > 0 && e.ts-p.startTS > maxspan {
					if rep != nil {
						rep.MaxspanRejections++
					}
					continue
				}
				// p left stage pi-1 for good: it advances in place
				if !noHits {
					p.events = append(p.events, r.keepForHit(e))
				}
				r.progress(st.key, &p)
				if pi == len(pos)-1 {
					evs := p.events
					if !noHits {
						evs = r.withPlaceholders(p.events)
					}
					stop = !emit(completed{key: keyOf(st, kt), events: evs, at: e, tuple: ti}) || stop
					continue
				}
				st.stages[pi] = p
			}
		}
		if u := r.p.until; u != nil {
			ok, failed := r.matches(u, e)
			if failed {
				r.failed[n] = true
			}
			if ok {
				if tuples, ok := r.keyTuples(u, e); ok {
					for _, kt := range tuples {
						if st := lookup(kt.id); st != nil {
							// Elasticsearch rejects a sequence when an until
							// hit lies between its last match and the next
							// one, both ends included (Ordinal.between):
							// sequences that e itself started or advanced
							// are dropped too.
							if rep != nil {
								for _, p := range st.stages {
									if p.live {
										rep.UntilRejections++
									}
								}
							}
							clear(st.stages)
						}
					}
				}
			}
		}
	}
	if len(pos) == n && r.cfg.badField == nil {
		done = keep.items()
	}
	return done, missing, nil
}

// sequenceResponse renders the completed sequences of matchSequences,
// after the checks that need the whole stream: missing-event stages and
// failures.
func (r *runner) sequenceResponse(done []completed, missing []*event) *Response {
	rep := r.cfg.report
	if rep != nil {
		for _, kp := range r.furthest {
			rep.Keys = append(rep.Keys, *kp)
		}
		slices.SortStableFunc(rep.Keys, func(a, b KeyProgress) int {
			if a.Stages != b.Stages {
				return b.Stages - a.Stages
			}
			return strings.Compare(a.id, b.id)
		})
		if len(rep.Keys) > maxReportKeys {
			rep.Keys = rep.Keys[:maxReportKeys]
		}
	}
	if slices.ContainsFunc(r.p.stages, func(s *stage) bool { return s.missing }) {
		done = r.checkMissing(done, missing, int64(r.p.q.MaxSpan/time.Nanosecond))
	}
	if len(r.failed) > 0 {
		r.partial = true
		if r.req.AllowPartialSequenceResults == nil || !*r.req.AllowPartialSequenceResults {
			done = nil
		}
	}
	lo, hi := r.window(len(done))
	done = done[lo:hi]
	resp := &Response{IsPartial: r.partial, ShardFailures: r.failures}
	resp.Hits.Sequences = make([]Sequence, 0, len(done))
	for _, d := range done {
		sq := Sequence{Events: make([]Hit, 0, len(d.events))}
		if len(d.key.vals) > 0 {
			sq.JoinKeys = r.joinKeyValues(d.key)
		}
		for _, e := range d.events {
			if e == nil {
				sq.Events = append(sq.Events, Hit{Missing: true})
				continue
			}
			sq.Events = append(sq.Events, r.hit(e))
		}
		resp.Hits.Sequences = append(resp.Hits.Sequences, sq)
	}
	resp.Hits.Total = Total{Value: len(resp.Hits.Sequences), Relation: "eq"}
	return resp
}

// withPlaceholders spreads the positive-stage events over all stages,
// leaving nil at missing-event stages.
func (r *runner) withPlaceholders(posEvents []*event) []*event {
	if len(posEvents) == len(r.p.stages) {
		return posEvents
	}
	out := make([]*event, len(r.p.stages))
	j := 0
	for i, s := range r.p.stages {
		if !s.missing {
			out[i] = posEvents[j]
			j++
		}
	}
	return out
}

// joinKeyValues renders a key tuple as Elasticsearch returns join_keys:
// strings for keyword/ip/version fields, numbers for numeric fields,
// formatted dates, booleans, null.
func (r *runner) joinKeyValues(k keyTuple) []any {
	out := make([]any, len(k.vals))
	for i, v := range k.vals {
		out[i] = jsonValue(v)
	}
	return out
}

func jsonValue(v val) any {
	switch v.k {
	case vBool:
		return v.b
	case vInt:
		if v.date {
			return formatDate(v.i, v.i%1e6 != 0)
		}
		return v.i
	case vFloat:
		return v.fl()
	case vStr:
		return v.s
	}
	return nil
}

// checkMissing keeps the candidate sequences for which no event of a
// missing stage (same join key) lies in the stage's window: between the
// neighbouring positive events, or within maxspan of the sequence for a
// leading or trailing missing stage.
func (r *runner) checkMissing(done []completed, missing []*event, maxspan int64) []completed {
	var out []completed
	for _, d := range done {
		if r.missingOK(d, missing, maxspan) {
			out = append(out, d)
		}
	}
	return out
}

func (r *runner) missingOK(d completed, missing []*event, maxspan int64) bool {
	stages := r.p.stages
	var firstPos, lastPos *event
	for _, e := range d.events {
		if e != nil {
			if firstPos == nil {
				firstPos = e
			}
			lastPos = e
		}
	}
	// found reports whether stage i has a same-key event inside (lo, hi),
	// optionally bounded by timestamps.
	found := func(i int, accept func(m *event) bool) []*event {
		var out []*event
		for _, m := range missing {
			if ok, _ := r.matches(stages[i], m); !ok || !r.sameKey(stages[i], m, d.key) {
				continue
			}
			if accept(m) {
				out = append(out, m)
			}
		}
		return out
	}
	var leading, trailing []*event
	hasLeading, hasTrailing := false, false
	for i, s := range stages {
		if !s.missing {
			continue
		}
		var prev, next *event
		for j := i - 1; j >= 0; j-- {
			if d.events[j] != nil {
				prev = d.events[j]
				break
			}
		}
		for j := i + 1; j < len(stages); j++ {
			if d.events[j] != nil {
				next = d.events[j]
				break
			}
		}
		switch {
		case prev != nil && next != nil:
			// a gap between two positive events: any event rejects
			if len(found(i, func(m *event) bool { return prev.before(m) && m.before(next) })) > 0 {
				return false
			}
		case prev == nil:
			hasLeading = true
			leading = append(leading, found(i, func(m *event) bool {
				return m.before(next) && lastPos.ts-m.ts <= maxspan
			})...)
		default:
			hasTrailing = true
			trailing = append(trailing, found(i, func(m *event) bool {
				return prev.before(m) && m.ts-firstPos.ts <= maxspan
			})...)
		}
	}
	// Leading and trailing missing stages bound each other: the sequence
	// is rejected only if the events found at both ends fit in maxspan
	// together (Elasticsearch's leadingAndTrailing spec cases).
	switch {
	case hasLeading && hasTrailing:
		for _, l := range leading {
			for _, t := range trailing {
				if t.ts-l.ts <= maxspan {
					return false
				}
			}
		}
	case hasLeading:
		return len(leading) == 0
	case hasTrailing:
		return len(trailing) == 0
	}
	return true
}

func (r *runner) sameKey(s *stage, e *event, k keyTuple) bool {
	tuples, ok := r.keyTuples(s, e)
	if !ok {
		return false
	}
	for _, t := range tuples {
		if t.id == k.id {
			return true
		}
	}
	return false
}

// SequenceReport tells how far a sequence query got, for explaining a
// rule that did not fire: per join key the furthest stage reached and the
// events that reached it, how many candidates maxspan and until rejected,
// and how many events matched each positive stage's filter. It is filled
// by a Search given WithSequenceReport; the response itself keeps
// Elasticsearch's exact shape.
type SequenceReport struct {
	// StageHits counts the events matching the filter of each positive
	// stage, after runs expansion (the copies of a runs stage count alike).
	StageHits []int
	// Keys lists the join keys by progress, furthest first (at most 100).
	Keys              []KeyProgress
	MaxspanRejections int
	UntilRejections   int
}

// KeyProgress is the furthest progress of one join key: Stages positive
// stages matched (runs expanded) by Events.
type KeyProgress struct {
	JoinKeys []any
	Stages   int
	Events   []Hit
	id       string
}

const maxReportKeys = 100

// WithSequenceReport fills rep while a sequence query runs.
func WithSequenceReport(rep *SequenceReport) Option {
	return func(c *config) { c.report = rep }
}

// progress records a pending sequence's length for its key.
func (r *runner) progress(key keyTuple, p *pending) {
	if r.furthest == nil {
		return
	}
	kp := r.furthest[key.id]
	if kp != nil && kp.Stages >= len(p.events) {
		return
	}
	if kp == nil {
		kp = &KeyProgress{JoinKeys: r.joinKeyValues(key), id: key.id}
		r.furthest[key.id] = kp
	}
	kp.Stages = len(p.events)
	kp.Events = kp.Events[:0]
	for _, e := range p.events {
		kp.Events = append(kp.Events, r.hit(e))
	}
}
