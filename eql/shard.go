package eql

import (
	"context"
	"iter"
	"runtime"
	"slices"
	"sync"
)

// A sequence's join keys part the matching: the pending sequences of one
// key never meet the events of another. When every stage joins on the
// sequence's own "by" keys, the events held for the sort are parted by a
// hash of those keys' values, and each part is sorted and matched on a
// core of its own. Each part's completed sequences carry the event that
// completed them and the key's place among that event's key tuples, so
// the parts' results merge into the one order a single matcher completes
// them in, and the head or tail window is cut from that. The answer is
// the same as one matcher's: the order of a key's events is the same
// within its part as in the whole stream, and what a key's pending
// sequences become depends on those events only.

// maxShards bounds the cores one sequence search matches on.
var maxShards = 8

// shardCount is how many parts an unsorted sequence search is matched in;
// 1 runs one matcher over the whole stream. It does so when the input is
// streamed in order (nothing is held to part), when the answer depends on
// the whole stream at once (a SequenceReport, missing-event stages, the
// failures of fields that cannot be searched), without keys common to
// every stage, and for the reference path (HoldAll).
func (r *runner) shardCount() int {
	n := min(runtime.GOMAXPROCS(0), maxShards)
	switch {
	case n < 2,
		r.cfg.streaming && len(r.sources) == 1,
		r.cfg.report != nil,
		r.cfg.holdAll,
		r.cfg.badField != nil,
		len(r.p.keys) == 0,
		slices.ContainsFunc(r.p.stages, func(s *stage) bool { return s.missing }):
		return 1
	}
	return n
}

// router returns the part of an event among n: a hash of the values of
// the sequence's keys, made as the key tuples make them (keyTuples), so
// that every tuple of a key falls in one part. An event that no stage
// can join (a required key is null) goes to part 0, where it is still
// evaluated. ok=false for an event whose keys are multi-valued: its tuples
// may fall in several parts, and the search then runs as one.
func (r *runner) router(n int) func(*event) (int, bool) {
	var buf []byte
	c := &evalCtx{}
	return func(e *event) (int, bool) {
		b := buf[:0]
		for i, fn := range r.p.keys {
			*c = evalCtx{doc: e.doc}
			v := fn.eval(c)
			if v.k == vList || v.k == vObj {
				vs := distinctSorted(v)
				switch len(vs) {
				case 0:
					v = nullVal
				case 1:
					v = vs[0]
				default:
					return 0, false
				}
				if v.k == vList {
					return 0, false
				}
			}
			if v.k == vNull {
				if !r.p.keyOpt[i] {
					return 0, true
				}
				b = append(b, "\x00null"...)
			} else {
				b, _ = v.appendKey(b)
			}
			b = append(b, keySep)
		}
		buf = b
		// FNV-1a: the same parts in every run
		h := uint64(14695981039346656037)
		for _, c := range b {
			h = (h ^ uint64(c)) * 1099511628211
		}
		return int(h % uint64(n)), true
	}
}

// runSequenceSharded is runSequence over n parts of the held events, each
// matched on its own goroutine.
func (r *runner) runSequenceSharded(n int) (*Response, error) {
	h, err := r.holdEvents(r.collect, r.router(n), n)
	defer h.close()
	if err != nil {
		return nil, err
	}
	whole := func() (*Response, error) {
		r.parts = 1
		done, missing, err := r.matchSequences(func(yield func(*event, error) bool) { r.yieldHeld(h, yield) })
		if err != nil {
			return nil, err
		}
		return r.sequenceResponse(done, missing), nil
	}
	if h.parts == nil {
		return whole()
	}
	type result struct {
		r    *runner
		done []completed
		err  error
	}
	res := make([]result, n)
	var wg sync.WaitGroup
	for i, part := range h.parts {
		res[i].r = r.shardRunner()
		wg.Go(func() {
			slices.SortFunc(part, (*event).cmp)
			res[i].done, _, res[i].err = res[i].r.matchSequences(eventsOf(r.ctx, part))
		})
	}
	wg.Wait()
	var done []completed
	for _, x := range res {
		if x.err != nil {
			return nil, x.err
		}
		if len(x.r.failed) > 0 || len(x.r.failures) > 0 || x.r.partial {
			// Which failures count depends on where one matcher would
			// have stopped (a full head window): it decides.
			return whole()
		}
		done = append(done, x.done...)
	}
	slices.SortFunc(done, func(a, b completed) int {
		if c := a.at.cmp(b.at); c != 0 {
			return c
		}
		return a.tuple - b.tuple
	})
	r.parts = n
	head, k := r.sizeLimit()
	keep := &bounded[completed]{head: head, k: k}
	for _, d := range done {
		if !keep.add(d) {
			break
		}
	}
	return r.sequenceResponse(keep.items(), nil), nil
}

// shardRunner is a runner for one part: the same search, with its own
// evaluation state and failures.
func (r *runner) shardRunner() *runner {
	return &runner{ctx: r.ctx, p: r.p, req: r.req, cfg: r.cfg, sources: r.sources,
		tsField: r.tsField, tbField: r.tbField, catFld: r.catFld, failed: map[int]bool{}}
}

// eventsOf yields evs, checking ctx now and then.
func eventsOf(ctx context.Context, evs []*event) iter.Seq2[*event, error] {
	return func(yield func(*event, error) bool) {
		for i, e := range evs {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					yield(nil, err)
					return
				}
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}
