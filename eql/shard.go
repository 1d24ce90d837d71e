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
// core of its own (or, when the sort spilled, fed in order by the merge
// of the runs). Each part's completed sequences carry the event that
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
			var keyed bool
			if b, keyed = appendKeyPart(b, v, r.p.keyOpt[i]); !keyed {
				return 0, true
			}
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
// matched on its own goroutine: parted as they are held when they all fit
// in memory, else as the spilled runs merge back.
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
	if h.shared {
		return whole()
	}
	var parts []part
	if h.sp == nil {
		parts = r.matchParts(h.parts)
	} else {
		var ok bool
		if parts, ok, err = r.matchMergedParts(h, n); err != nil {
			return nil, err
		}
		if !ok {
			return whole()
		}
	}
	var done []completed
	for _, pt := range parts {
		if pt.err != nil {
			return nil, pt.err
		}
		if len(pt.r.failed) > 0 || len(pt.r.failures) > 0 || pt.r.partial {
			// Which failures count depends on where one matcher would
			// have stopped (a full head window): it decides.
			return whole()
		}
		done = append(done, pt.done...)
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

// part is what the matcher of one part found, with its runner's failures.
type part struct {
	r    *runner
	done []completed
	err  error
}

// matchParts sorts and matches each part of the events on its own
// goroutine.
func (r *runner) matchParts(evs [][]*event) []part {
	parts := make([]part, len(evs))
	var wg sync.WaitGroup
	for i, es := range evs {
		parts[i].r = r.shardRunner()
		wg.Go(func() {
			slices.SortFunc(es, (*event).cmp)
			parts[i].done, _, parts[i].err = parts[i].r.matchSequences(eventsOf(r.ctx, es))
		})
	}
	wg.Wait()
	return parts
}

// mergedBatch is how many events the merge hands a part at once.
const mergedBatch = 256

// matchMergedParts merges the spilled runs and the events still in memory
// on this goroutine and hands each event to its part's matcher, in order.
// ok=false when an event turns out to belong to several parts: the parts'
// work is then dropped, and the caller matches the whole stream again.
func (r *runner) matchMergedParts(h *held, n int) (parts []part, ok bool, err error) {
	slices.SortFunc(h.all, (*event).cmp)
	route := r.router(n)
	parts = make([]part, n)
	feeds := make([]chan []*event, n)
	var wg sync.WaitGroup
	for i := range parts {
		parts[i].r = r.shardRunner()
		feeds[i] = make(chan []*event, 4)
		wg.Go(func() {
			parts[i].done, _, parts[i].err = parts[i].r.matchSequences(eventsFrom(r.ctx, feeds[i]))
			for range feeds[i] {
				// a full head window stops the matcher early: the rest
				// of its part is not needed
			}
		})
	}
	batches := make([][]*event, n)
	ok = true
	r.mergeRuns(h.sp, h.sp.runs, h.all, func(e *event, merr error) bool {
		if merr != nil {
			err = merr
			return false
		}
		s, routed := route(e)
		if !routed {
			ok = false
			return false
		}
		batches[s] = append(batches[s], e)
		if len(batches[s]) == mergedBatch {
			feeds[s] <- batches[s]
			batches[s] = make([]*event, 0, mergedBatch)
		}
		return true
	})
	for i, b := range batches {
		if len(b) > 0 && ok && err == nil {
			feeds[i] <- b
		}
		close(feeds[i])
	}
	wg.Wait()
	return parts, ok, err
}

// eventsFrom yields the batches of feed in turn, checking ctx between them.
func eventsFrom(ctx context.Context, feed <-chan []*event) iter.Seq2[*event, error] {
	return func(yield func(*event, error) bool) {
		for batch := range feed {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			for _, e := range batch {
				if !yield(e, nil) {
					return
				}
			}
		}
	}
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
