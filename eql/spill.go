package eql

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/purpleharness/purpleharness/jsondoc"
)

// Spill bounds the memory Search uses to order unsorted input. The
// events it holds (those some filter matches) are kept in memory up to
// Budget; past it they are sorted, written to a temporary file as a run,
// and dropped from memory. The runs and the last events in memory are
// then merged in order, each event decoded again as it is read back. The
// answer is the same as without spilling: the order is the same total
// order (timestamp, tiebreaker, input order).
type Spill struct {
	// Dir holds the temporary file ("" for os.TempDir()). The file is
	// removed as soon as it is created, so nothing is left behind even
	// when the process is killed.
	Dir string
	// Budget is in bytes of held events, each counted as its encoded
	// size plus heldOverhead (its decoded fields and bookkeeping).
	Budget int64
	// Encode turns a held document into bytes that Decode turns back
	// into an equal document (a projected event's raw JSON, say).
	Encode func(Fields) ([]byte, error)
	Decode func([]byte) (Fields, error)
}

// heldOverhead estimates what a held event costs besides its encoded
// bytes: the event record, its document's map and values.
const heldOverhead = 768

// WithSpill makes Search spill the events it holds for the sort past a
// memory budget (see Spill). It has no effect with Sorted().
func WithSpill(s Spill) Option { return func(c *config) { c.spill = &s } }

// spiller writes sorted runs of events to one temporary file and merges
// them back.
type spiller struct {
	s    Spill
	f    *os.File
	w    *bufio.Writer
	size int64 // bytes written
	runs []run // the runs not yet merged into another
	buf  []byte
	// marks is the key of the marks a Prefilter's test left on the
	// events (config.marks): they are spilled with the events, so that
	// the filters they name are not evaluated again.
	marks *marksKey
}

// run is a sorted stretch of the file. Runs written from memory are of
// level 0; mergeRuns' output is one level above its inputs.
type run struct {
	start, end int64
	level      int
}

// maxRunsPerLevel bounds the runs merged at once: when a level holds
// this many, they become one run of the next level, so that the final
// merge reads at most this many per level, whatever the budget. Each open
// run costs a 16 KiB read buffer and its head event; a level merge costs a
// second write and read (and projection) of every event in it, so the
// bound is high: 10 M events spilled at 64 MiB make about 55 runs, one
// merge.
var maxRunsPerLevel = 256

func newSpiller(s Spill) (*spiller, error) {
	f, err := os.CreateTemp(s.Dir, "purpleharness-eql-spill-*")
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	// Unlinked at once: the open file lives until it is closed, and no
	// name is left to clean up after a crash.
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("spill: %w", err)
	}
	return &spiller{s: s, f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (sp *spiller) close() { sp.f.Close() }

// writeRun writes evs, already sorted, as one run of level 0.
func (sp *spiller) writeRun(evs []*event, sourceOf map[string]int) error {
	start := sp.size
	for _, e := range evs {
		if err := sp.writeEvent(e, sourceOf); err != nil {
			return err
		}
	}
	if err := sp.w.Flush(); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	sp.runs = append(sp.runs, run{start: start, end: sp.size})
	return nil
}

// writeEvent appends one event's record.
func (sp *spiller) writeEvent(e *event, sourceOf map[string]int) error {
	raw, err := sp.s.Encode(e.doc)
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	b := sp.buf[:0]
	b = binary.AppendUvarint(b, uint64(len(raw)))
	b = binary.AppendVarint(b, e.ts)
	if e.hasTS {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendVarint(b, e.ord)
	b = binary.AppendUvarint(b, uint64(e.pos))
	b = binary.AppendUvarint(b, uint64(sourceOf[e.index]))
	var bits uint64
	if m, ok := e.doc.(jsondoc.Marked); ok && sp.marks != nil {
		bits = m.Marks(sp.marks)
	}
	b = binary.AppendUvarint(b, bits)
	sp.buf = b
	if _, err := sp.w.Write(b); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	if _, err := sp.w.Write(raw); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	sp.size += int64(len(b) + len(raw))
	return nil
}

// mergeLevels merges the runs of any level that holds maxRunsPerLevel
// of them into one run of the next level, written at the end of the
// file, until no level is full.
func (r *runner) mergeLevels(sp *spiller, sourceOf map[string]int) error {
	for {
		count := map[int]int{}
		full := -1
		for _, rn := range sp.runs {
			if count[rn.level]++; count[rn.level] >= maxRunsPerLevel {
				full = rn.level
				break
			}
		}
		if full < 0 {
			return nil
		}
		var merge, keep []run
		for _, rn := range sp.runs {
			if rn.level == full {
				merge = append(merge, rn)
			} else {
				keep = append(keep, rn)
			}
		}
		start := sp.size
		var werr error
		r.mergeRuns(sp, merge, nil, func(e *event, err error) bool {
			if werr = err; werr == nil {
				werr = sp.writeEvent(e, sourceOf)
			}
			return werr == nil
		})
		if werr == nil {
			werr = sp.w.Flush()
		}
		if werr != nil {
			return fmt.Errorf("spill: %w", werr)
		}
		sp.runs = append(keep, run{start: start, end: sp.size, level: full + 1})
	}
}

// runReader reads one run back.
type runReader struct {
	r *bufio.Reader
}

func (r *runner) readSpilled(rr *runReader, sp *spiller) (*event, error) {
	n, err := binary.ReadUvarint(rr.r)
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	e := &event{}
	var hasTS byte
	var pos, src, bits uint64
	if e.ts, err = binary.ReadVarint(rr.r); err == nil {
		if hasTS, err = rr.r.ReadByte(); err == nil {
			if e.ord, err = binary.ReadVarint(rr.r); err == nil {
				if pos, err = binary.ReadUvarint(rr.r); err == nil {
					if src, err = binary.ReadUvarint(rr.r); err == nil {
						bits, err = binary.ReadUvarint(rr.r)
					}
				}
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(rr.r, raw); err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	doc, err := sp.s.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("spill: event read back: %w", err)
	}
	if m, ok := doc.(jsondoc.Marked); ok && bits != 0 {
		m.Mark(sp.marks, bits)
	}
	e.doc, e.hasTS, e.pos, e.index = doc, hasTS == 1, int(pos), r.sources[src].Index
	if r.tbField != nil {
		e.tb = tiebreaker(first(r.tbField.eval(&evalCtx{doc: doc})))
	}
	return e, nil
}

// mergeRuns yields the events of runs and the sorted events still in
// memory (tail) as one ordered stream.
func (r *runner) mergeRuns(sp *spiller, runs []run, tail []*event, yield func(*event, error) bool) {
	var h eventHeap
	readers := make([]*runReader, len(runs))
	for i, rn := range runs {
		rr := &runReader{r: bufio.NewReaderSize(io.NewSectionReader(sp.f, rn.start, rn.end-rn.start), 16<<10)}
		readers[i] = rr
		e, err := r.readSpilled(rr, sp)
		if err != nil {
			yield(nil, err)
			return
		}
		if e != nil {
			h = append(h, heapItem{e: e, run: i})
		}
	}
	next := 0 // tail is run -1
	if next < len(tail) {
		h = append(h, heapItem{e: tail[0], run: -1})
		next = 1
	}
	heap.Init(&h)
	for count := 0; len(h) > 0; count++ {
		top := h[0]
		if !yield(top.e, nil) {
			return
		}
		if count%4096 == 0 {
			if err := r.ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
		}
		var e *event
		if top.run < 0 {
			if next < len(tail) {
				e = tail[next]
				next++
			}
		} else {
			var err error
			if e, err = r.readSpilled(readers[top.run], sp); err != nil {
				yield(nil, err)
				return
			}
		}
		if e == nil {
			heap.Pop(&h)
			continue
		}
		h[0].e = e
		heap.Fix(&h, 0)
	}
}

type heapItem struct {
	e   *event
	run int
}

type eventHeap []heapItem

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].e.cmp(h[j].e) < 0 }
func (h eventHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)        { *h = append(*h, x.(heapItem)) }
func (h *eventHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// sortHeld orders the held events, spilling past the budget when one is
// set; it yields them in order.
func (r *runner) sortHeld(collect func(hold func(*event) error) error, yield func(*event, error) bool) {
	h, err := r.holdEvents(collect, nil, 0)
	defer h.close()
	if err != nil {
		yield(nil, err)
		return
	}
	r.yieldHeld(h, yield)
}

// held is what the sort holds once the input is read: the events still in
// memory, in input order, and the runs spilled before them.
type held struct {
	all []*event
	sp  *spiller
	// parts are all's events by shard (holdEvents' route), nil once an
	// event belongs to several shards (shared) or the sort spills.
	parts  [][]*event
	shared bool
}

func (h *held) close() {
	if h.sp != nil {
		h.sp.close()
	}
}

// holdEvents holds what collect gives, spilling past the budget. With a
// route (see router), it also parts the events among shards.
func (r *runner) holdEvents(collect func(hold func(*event) error) error, route func(*event) (int, bool), shards int) (*held, error) {
	h := &held{}
	var held int64
	if route != nil {
		h.parts = make([][]*event, shards)
	}
	sourceOf := r.sourceOf()
	err := collect(func(e *event) error {
		h.all = append(h.all, e)
		if h.parts != nil {
			if s, ok := route(e); ok {
				h.parts[s] = append(h.parts[s], e)
			} else {
				h.parts, h.shared = nil, true
			}
		}
		if r.cfg.spill == nil {
			return nil
		}
		raw, err := r.cfg.spill.Encode(e.doc)
		if err != nil {
			return fmt.Errorf("spill: %w", err)
		}
		held += int64(len(raw)) + heldOverhead
		if held <= r.cfg.spill.Budget {
			return nil
		}
		if h.sp == nil {
			if h.sp, err = newSpiller(*r.cfg.spill); err != nil {
				return err
			}
			h.sp.marks = r.cfg.marks
		}
		h.parts = nil
		slices.SortFunc(h.all, (*event).cmp)
		if err := h.sp.writeRun(h.all, sourceOf); err != nil {
			return err
		}
		if err := r.mergeLevels(h.sp, sourceOf); err != nil {
			return err
		}
		clear(h.all)
		h.all, held = h.all[:0], 0
		return nil
	})
	return h, err
}

// sourceOf numbers the sources' indices, as the spill file names them.
func (r *runner) sourceOf() map[string]int {
	sourceOf := map[string]int{}
	for i, s := range r.sources {
		if _, ok := sourceOf[s.Index]; !ok {
			sourceOf[s.Index] = i
		}
	}
	return sourceOf
}

// yieldHeld yields the held events in order: those in memory sorted,
// merged with the spilled runs.
func (r *runner) yieldHeld(h *held, yield func(*event, error) bool) {
	// Every event's order is distinct (input order breaks the last
	// ties), so an unstable sort gives the one order.
	slices.SortFunc(h.all, (*event).cmp)
	if h.sp == nil {
		for _, e := range h.all {
			if !yield(e, nil) {
				return
			}
		}
		return
	}
	r.mergeRuns(h.sp, h.sp.runs, h.all, yield)
}
