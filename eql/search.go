package eql

import (
	"context"
	"fmt"
	"iter"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/purpleharness/purpleharness/jsondoc"
)

// Source is one index of a search: its name, its mapping (may be nil)
// and its events in ingest order.
type Source struct {
	Index   string
	Mapping *Mapping
	Events  iter.Seq2[Fields, error]
}

// Events is a stream of any field source as the stream Search reads.
func Events[E Fields](events iter.Seq2[E, error]) iter.Seq2[Fields, error] {
	if fs, ok := any(events).(iter.Seq2[Fields, error]); ok {
		return fs
	}
	return func(yield func(Fields, error) bool) {
		for e, err := range events {
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// Search runs req.Query over events and answers in the exact shape of
// Elasticsearch's _eql/search response. Events are read through Lookup only.
// Unless Sorted() is given, all events are read and ordered by timestamp,
// tiebreaker and input order first; with Sorted() memory is bounded by the
// open sequences (and, for samples, by the matching events).
func Search[E Fields](ctx context.Context, req Request, events iter.Seq2[E, error], opts ...Option) (*Response, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	return searchSources(ctx, req, []Source{{Index: cfg.index, Mapping: cfg.mapping, Events: Events(events)}}, cfg)
}

// SearchSources runs req over several indices at once, like a search on
// "index1,index2": their mappings are merged, their events interleaved in
// order, and each hit names its index.
func SearchSources(ctx context.Context, req Request, sources []Source, opts ...Option) (*Response, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	return searchSources(ctx, req, sources, cfg)
}

func searchSources(ctx context.Context, req Request, sources []Source, cfg config) (*Response, error) {
	start := time.Now()
	var ms []*Mapping
	anyMapping := false
	for _, s := range sources {
		if s.Mapping != nil {
			anyMapping = true
			ms = append(ms, s.Mapping)
		}
	}
	if cfg.mapping != nil && len(sources) > 1 {
		anyMapping = true
		ms = append(ms, cfg.mapping)
	}
	if anyMapping {
		cfg.mapping = Merge(ms...)
	}
	req, prog, err := prepare(req, &cfg)
	if err != nil {
		return nil, err
	}
	r := newRunner(ctx, prog, req, cfg, sources)
	resp, err := r.run()
	if err != nil {
		return nil, err
	}
	resp.Took = time.Since(start).Milliseconds()
	return resp, nil
}

// prepare checks req and compiles its query against cfg's mapping: what a
// search does before it reads any event.
func prepare(req Request, cfg *config) (Request, *Program, error) {
	req, err := checkRequest(req)
	if err != nil {
		return req, nil, err
	}
	q, perr := parse(req.Query)
	if perr != nil {
		return req, nil, perr
	}
	prog, cerr := compile(q, cfg)
	if cerr != nil {
		return req, nil, cerr
	}
	if err := checkCategoryField(q, req.EventCategoryField, cfg.mapping); err != nil {
		return req, nil, err
	}
	return req, prog, nil
}

// checkRequest applies Elasticsearch's defaults and rejects what it
// rejects.
func checkRequest(req Request) (Request, error) {
	req = req.WithDefaults()
	if req.ResultPosition != "head" && req.ResultPosition != "tail" {
		return req, fmt.Errorf("invalid result_position [%s], expecting [head] or [tail]", req.ResultPosition)
	}
	if req.Size < 0 {
		req.Size = 0 // NoHits
	}
	if req.FetchSize < 2 {
		// EqlSearchRequest.validate
		return req, fmt.Errorf("fetch size must be greater than 1")
	}
	if req.MaxSamplesPerKey < 0 {
		return req, fmt.Errorf("max_samples_per_key must be greater than 0, got [%d]", req.MaxSamplesPerKey)
	}
	return req, nil
}

// Sort returns docs in the order Search consumes events: timestamp (read
// as req.TimestampField with m's type and format), then req's tiebreaker,
// then input order. Sorted input lets Search stream with Sorted().
func Sort[E Fields](req Request, m *Mapping, docs []E) []E {
	req = req.WithDefaults()
	r := newRunner(context.Background(), nil, req, config{mapping: m}, nil)
	evs := make([]*event, len(docs))
	for i, d := range docs {
		evs[i] = r.makeEvent(d, "", i)
	}
	slices.SortStableFunc(evs, func(a, b *event) int { return a.cmp(b) })
	out := make([]E, len(evs))
	for i, e := range evs {
		out[i] = docs[e.pos]
	}
	return out
}

// Run executes a compiled program over events, so that a rule checked
// once runs over many scenarios. req supplies the parameters (size, fields,
// ...); its Query is ignored. The mapping is the one given to Compile.
func (p *Program) Run(ctx context.Context, req Request, events iter.Seq2[Fields, error], opts ...Option) (*Response, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	cfg.mapping = p.mapping
	start := time.Now()
	req, err := checkRequest(req)
	if err != nil {
		return nil, err
	}
	r := newRunner(ctx, p, req, cfg, []Source{{Index: cfg.index, Mapping: p.mapping, Events: events}})
	resp, err := r.run()
	if err != nil {
		return nil, err
	}
	resp.Took = time.Since(start).Milliseconds()
	return resp, nil
}

// event is one input event with its sort key.
type event struct {
	doc   Fields
	index string
	pos   int // position in its source, the default _id
	ts    int64
	hasTS bool
	tb    *val  // the tiebreaker, nil when null or none
	ord   int64 // ingest order across all sources
	// slim: kept only for a hit, with doc's Slim stand-in (keepForHit)
	slim *slimHit
}

// slimHit is what a hit needs of an event kept only for it.
type slimHit struct {
	index, id string
	src       Sourced
}

// before orders events by timestamp, tiebreaker, ingest order.
func (a *event) before(b *event) bool { return a.cmp(b) < 0 }

func (a *event) cmp(b *event) int {
	if a.hasTS != b.hasTS {
		if a.hasTS {
			return -1
		}
		return 1
	}
	if a.ts != b.ts {
		return cmpInt(a.ts, b.ts)
	}
	if a.tb != nil || b.tb != nil {
		if a.tb == nil {
			return 1
		}
		if b.tb == nil {
			return -1
		}
		if c, ok := compareVals(*a.tb, *b.tb); ok {
			if c != 0 {
				return c
			}
		} else if c := cmpInt(tiebreakerRank(*a.tb), tiebreakerRank(*b.tb)); c != 0 {
			return c
		}
	}
	return cmpInt(a.ord, b.ord)
}

// tiebreakerRank orders tiebreakers that do not compare (values of
// different types, NaN), which one mapped field never holds in
// Elasticsearch: numbers and dates, then NaN, strings, booleans, the rest.
// Within a rank values compare (NaN with NaN do not: input order decides),
// so that the order of events is total and does not depend on how they
// are sorted.
func tiebreakerRank(v val) int64 {
	switch {
	case v.k == vFloat && math.IsNaN(v.fl()):
		return 1
	case v.isNum():
		return 0
	case v.k == vStr:
		return 2
	case v.k == vBool:
		return 3
	}
	return 4
}

type runner struct {
	ctx       context.Context
	p         *Program
	req       Request
	cfg       config
	sources   []Source
	tsField   *fieldNode
	tbField   *fieldNode
	catFld    *fieldNode
	ord       int64
	partial   bool
	failures  []ShardFailure
	failed    map[int]bool // stage index (len(stages) = until) whose search failed on some index
	ectx      evalCtx
	filterBit map[*term]uint64 // marked: each filter's bit in a Prefilter's marks
	// Streaming reuses one event struct; retain copies the current event
	// when a sequence or result keeps it (most events are dropped).
	scratch event
	kept    *event
	slimmed *event // keepForHit's copy of the current event
	fillCtx evalCtx
	keyCtx  evalCtx
	keyBuf  []byte
	keyVals []val
	tuple1  [1]keyTuple
	// furthest tracks per-key progress for a SequenceReport.
	furthest map[string]*KeyProgress
	// parts is how many parts a sequence search was matched in (shard.go).
	parts int
}

// retain returns an event value that may be kept beyond the current
// iteration step.
func (r *runner) retain(e *event) *event {
	if e != &r.scratch {
		return e
	}
	if r.kept != nil && r.kept.ord == e.ord {
		return r.kept
	}
	c := *e
	r.kept = &c
	return r.kept
}

// keepForHit is retain for an event kept only to be a hit (in an open
// sequence or a result, never evaluated again): when its document is a
// Slimmer, a copy holding the hit's _index and _id and the document's
// smaller stand-in. The event itself is left as it is: it may also wait
// in the missing-event list, which evaluates it again.
func (r *runner) keepForHit(e *event) *event {
	ke := r.retain(e)
	sl, ok := ke.doc.(Slimmer)
	if !ok || ke.slim != nil {
		return ke
	}
	if r.slimmed != nil && r.slimmed.ord == ke.ord {
		return r.slimmed
	}
	h := r.hitIdentity(ke)
	c := &keptEvent{event: *ke}
	if c.tb != nil {
		tb := c.tb.owned() // the document it may share memory with goes
		c.tb = &tb
	}
	c.hit = slimHit{index: h.Index, id: h.ID, src: sl.Slim()}
	c.slim, c.doc = &c.hit, c.hit.src
	r.slimmed = &c.event
	return r.slimmed
}

// keptEvent is an event kept only for a hit with what the hit needs, in
// one allocation: open sequences hold one per event they have matched.
type keptEvent struct {
	event
	hit slimHit
}

func newRunner(ctx context.Context, p *Program, req Request, cfg config, sources []Source) *runner {
	r := &runner{ctx: ctx, p: p, req: req, cfg: cfg, sources: sources, failed: map[int]bool{}}
	res := func(name string) *fieldNode {
		n, ft, _ := cfg.mapping.resolve(name)
		fn := &fieldNode{name: n, ft: ft}
		if cfg.mapping != nil {
			if ex, ok := cfg.mapping.exact[n]; ok {
				fn.ft, fn.ignoreAbove = cfg.mapping.fields[ex], cfg.mapping.ignoreAbove[ex]
			} else {
				fn.ignoreAbove = cfg.mapping.ignoreAbove[n]
			}
			if src, ok := cfg.mapping.source[n]; ok {
				fn.name = src
			}
			if f, ok := cfg.mapping.formats[n]; ok {
				fn.layouts = javaDateLayouts(f)
			}
		}
		return fn
	}
	r.tsField = res(req.TimestampField)
	if r.tsField.ft == ftUnknown {
		r.tsField.ft = ftDate
	}
	if req.TiebreakerField != "" {
		r.tbField = res(req.TiebreakerField)
	}
	r.catFld = res(req.EventCategoryField)
	return r
}

func (r *runner) makeEvent(doc Fields, index string, pos int) *event {
	e := &event{}
	r.fill(e, doc, index, pos)
	return e
}

func (r *runner) fill(e *event, doc Fields, index string, pos int) {
	*e = event{doc: doc, index: index, ord: r.ord}
	r.ord++
	e.pos = pos
	c := &r.fillCtx // reused: a local would escape through the interface call
	*c = evalCtx{doc: doc}
	tv := first(r.tsField.eval(c))
	if ns, ok := asDate(tv); ok && tv.k != vNull {
		e.ts, e.hasTS = ns, true
	}
	if r.tbField != nil {
		e.tb = tiebreaker(first(r.tbField.eval(c)))
	}
}

// tiebreaker is an event's tiebreaker value (nil: null).
func tiebreaker(v val) *val {
	if v.k == vNull {
		return nil
	}
	return &v
}

// events yields the input in order: streamed when cfg.streaming, sorted
// otherwise.
func (r *runner) events() iter.Seq2[*event, error] {
	return func(yield func(*event, error) bool) {
		if r.cfg.streaming && len(r.sources) == 1 {
			var prev event // the last event not dropped, if any (havePrev)
			havePrev := false
			pos := 0
			e := &r.scratch
			for doc, err := range r.sources[0].Events {
				if err != nil {
					yield(nil, err)
					return
				}
				if doc == Dropped {
					pos++
					r.ord++
					continue
				}
				r.fill(e, doc, r.sources[0].Index, pos)
				pos++
				if pos%4096 == 0 {
					if err := r.ctx.Err(); err != nil {
						yield(nil, err)
						return
					}
				}
				if havePrev && e.before(&prev) {
					yield(nil, fmt.Errorf("event %d is out of order (timestamp/tiebreaker before event %d's) and Sorted() was given", pos, pos-1))
					return
				}
				prev, havePrev = event{ts: e.ts, hasTS: e.hasTS, tb: e.tb, ord: e.ord}, true
				if !yield(e, nil) {
					return
				}
			}
			return
		}
		r.sortHeld(r.collect, yield)
	}
}

// collect reads every source and holds the events the sort must order
// (prefilter).
func (r *runner) collect(hold func(*event) error) error {
	wanted := r.prefilter()
	for _, s := range r.sources {
		pos := 0
		for doc, err := range s.Events {
			if err != nil {
				return err
			}
			if doc == Dropped {
				pos++
				r.ord++
				continue
			}
			e := r.makeEvent(doc, s.Index, pos)
			pos++
			if wanted == nil || wanted(e) {
				if err := hold(e); err != nil {
					return err
				}
			}
			if r.ord%4096 == 0 {
				if err := r.ctx.Err(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// prefilter returns the test that decides which events the sort must
// hold: those that match, or cannot be evaluated against, some stage, the
// until clause or a missing stage. An event that matches none of them
// cannot start, advance, end or break a sequence, nor be an event query's
// hit; Elasticsearch never fetches it either, since it searches each
// stage by its own filter (TumblingWindow in x-pack/plugin/eql's
// execution/sequence package). Sequences also skip events without a
// timestamp. nil means every event is held: for a SequenceReport, which
// counts them all, and for the reference path (holdAll).
func (r *runner) prefilter() func(*event) bool {
	if r.cfg.report != nil || r.cfg.holdAll {
		return nil
	}
	wanted := r.wantedTest(nil)
	sequence := r.p.q.Kind == SequenceQuery
	return func(e *event) bool {
		if sequence && !e.hasTS {
			return false
		}
		if r.cfg.marks != nil {
			if m, ok := e.doc.(jsondoc.Marked); ok && m.Marks(r.cfg.marks) != 0 {
				return true // a Prefilter's test found a filter matching
			}
		}
		return wanted(e.doc, e.index)
	}
}

// wantedTest is prefilter's test of an event's fields. Each test has its
// own evaluation state; the runner's it only reads. With a key, it marks
// the first filter it finds matching an event that keeps marks.
func (r *runner) wantedTest(key *marksKey) func(doc Fields, index string) bool {
	filters := r.filters()
	c := &evalCtx{}
	e := &event{}
	return func(doc Fields, index string) bool {
		e.doc, e.index = doc, index
		for i, s := range filters {
			if s.category != "" && !r.categoryIs(e, s.category) {
				continue
			}
			*c = evalCtx{doc: doc}
			if bf := r.cfg.badField; bf != nil {
				c.bad = func(f string) bool { return bf(index, f) }
			}
			v := s.cond.eval(c)
			if c.failed {
				return true
			}
			if v.k == vBool && v.b {
				if m, ok := doc.(jsondoc.Marked); ok && key != nil && i < 64 {
					m.Mark(key, 1<<i)
				}
				return true
			}
		}
		return false
	}
}

// filters are the distinct filters of the query's stages, then its until
// filter: the order in which a Prefilter numbers them in its marks.
func (r *runner) filters() []*stage {
	var filters []*stage
	seen := map[*term]bool{}
	for _, s := range r.p.stages {
		if !seen[s.t] {
			seen[s.t] = true
			filters = append(filters, s)
		}
	}
	if r.p.until != nil {
		filters = append(filters, r.p.until)
	}
	return filters
}

// marked reports whether a Prefilter's test marked s as matching e.
func (r *runner) marked(s *stage, e *event) bool {
	if r.cfg.marks == nil {
		return false
	}
	m, ok := e.doc.(jsondoc.Marked)
	if !ok {
		return false
	}
	bits := m.Marks(r.cfg.marks)
	if bits == 0 {
		return false
	}
	if r.filterBit == nil {
		r.filterBit = map[*term]uint64{}
		for i, f := range r.filters() {
			if i < 64 && f.t != nil {
				r.filterBit[f.t] = 1 << i
			}
		}
	}
	return bits&r.filterBit[s.t] != 0
}

// Dropped stands, in the stream given to Search, for an event that a
// test from Wanted refused: Search counts it (its position gives the
// default _id of later events, and input order breaks ties) and reads
// nothing of it. With Sorted(), a dropped event's order is not checked.
var Dropped Fields = dropped{}

type dropped struct{}

func (dropped) Lookup(string) (any, bool) { return nil, false }

// Prefilter gives tests of whether an event of unsorted input can take
// part in a request's answer, for the goroutines that read the input (see
// Wanted).
type Prefilter struct {
	r   *runner
	cfg config
	key *marksKey
}

// marksKey is the key under which a Prefilter's tests mark events.
type marksKey struct{}

// Wanted gives tests of whether an event of unsorted input can take part
// in req's answer, for the goroutines that read the input: an event a
// test refuses matches no filter of the query (stage, until or missing
// stage) and cannot fail one, so it may be given to Search as Dropped,
// which neither holds nor evaluates it (Search would drop it too, on its
// own goroutine). opts are the search's own (mapping, index, failing
// fields).
func Wanted(req Request, opts ...Option) (*Prefilter, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	req, prog, err := prepare(req, &cfg)
	if err != nil {
		return nil, err
	}
	return &Prefilter{r: newRunner(context.Background(), prog, req, cfg, nil), cfg: cfg, key: &marksKey{}}, nil
}

// Test gives a test for one goroutine. On an event that can keep marks
// (jsondoc.Marked), the test marks the filters it found matching, so that
// a search given Marks() does not evaluate them again.
func (p *Prefilter) Test() func(Fields) bool {
	r := p.r
	if r.cfg.report != nil || r.cfg.holdAll {
		return func(Fields) bool { return true }
	}
	test := r.wantedTest(p.key)
	return func(f Fields) bool { return test(f, p.cfg.index) }
}

// Marks is the option that makes Search take the marks of p's tests: a
// filter marked as matching an event is not evaluated on it again.
func (p *Prefilter) Marks() Option { return func(c *config) { c.marks = p.key } }

// categoryIs tests the event category (a term query on
// event_category_field: exact, any value of an array).
func (r *runner) categoryIs(e *event, cat string) bool {
	if text, kind, ok := r.catFld.lookupText(e.doc); ok && kind == jsondoc.TextString {
		return text == cat
	}
	raw, ok := e.doc.Lookup(r.catFld.name)
	if !ok {
		return false
	}
	switch v := raw.(type) {
	case string:
		return v == cat
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok && s == cat {
				return true
			}
		}
		return false
	case []string:
		for _, s := range v {
			if s == cat {
				return true
			}
		}
		return false
	}
	cv := r.catFld.eval(&evalCtx{doc: e.doc})
	return anyOf(cv, func(v val) Tri { return triOf(v.k == vStr && v.s == cat) }) == True
}

// inputOrder yields the events of all sources in ingest order, unsorted.
func (r *runner) inputOrder() iter.Seq2[*event, error] {
	return func(yield func(*event, error) bool) {
		for _, s := range r.sources {
			pos := 0
			for doc, err := range s.Events {
				if err != nil {
					yield(nil, err)
					return
				}
				if doc == Dropped {
					pos++
					r.ord++
					continue
				}
				if !yield(r.makeEvent(doc, s.Index, pos), nil) {
					return
				}
				pos++
			}
		}
	}
}

// matches evaluates a stage filter (category and condition) on e.
// failed reports a field that could not be evaluated on e's index.
func (r *runner) matches(s *stage, e *event) (ok, failed bool) {
	if r.marked(s, e) {
		return true, false
	}
	c := &r.ectx
	*c = evalCtx{doc: e.doc}
	if r.cfg.badField != nil {
		idx := e.index
		bf := r.cfg.badField
		c.bad = func(f string) bool { return bf(idx, f) }
	}
	if s.category != "" && !r.categoryIs(e, s.category) {
		return false, false
	}
	v := s.cond.eval(c)
	if c.failed {
		r.noteFailure(e.index, c.failure)
		return false, true
	}
	return v.k == vBool && v.b, false
}

// noteFailure records why an index could not be searched, once.
func (r *runner) noteFailure(index, reason string) {
	for _, f := range r.failures {
		if f.Index == index && f.Reason.Reason == reason {
			return
		}
	}
	r.failures = append(r.failures, ShardFailure{Index: index, Reason: FailureReason{Type: "embedded_engine_exception", Reason: reason}})
}

// hit renders a result event. _id and _index come from the document when
// it carries them (an export of search hits), else from the input position
// and the configured index; computed here, for results only.
func (r *runner) hit(e *event) Hit {
	if e.slim != nil {
		return Hit{Index: e.slim.index, ID: e.slim.id, Source: e.slim.src.Source()}
	}
	h := r.hitIdentity(e)
	h.Source = sourceOf(e.doc)
	return h
}

// hitIdentity is a hit's _index and _id.
func (r *runner) hitIdentity(e *event) Hit {
	h := Hit{Index: e.index, ID: strconv.Itoa(e.pos)}
	if v, ok := e.doc.Lookup("_id"); ok {
		if id, ok := v.(string); ok {
			h.ID = id
		}
	}
	if h.Index == "" {
		if v, ok := e.doc.Lookup("_index"); ok {
			if ix, ok := v.(string); ok {
				h.Index = ix
			}
		}
	}
	return h
}

func (r *runner) run() (*Response, error) {
	switch r.p.q.Kind {
	case SequenceQuery:
		return r.runSequence()
	case SampleQuery:
		return r.runSample()
	}
	return r.runEvents()
}

// window returns the slice [lo, hi) of n ordered results that the
// request keeps. As Elasticsearch's LogicalPlanBuilder plans it: the size
// limit goes first, in the direction of the first head/tail pipe (or of
// the result position when there is no pipe; samples keep the head), then
// each pipe in order.
func (r *runner) window(n int) (lo, hi int) {
	lo, hi = 0, n
	apply := func(head bool, k int) {
		if cnt := hi - lo; k < cnt {
			if head {
				hi = lo + k
			} else {
				lo = hi - k
			}
		}
	}
	head, _ := r.sizeLimit()
	apply(head, r.req.Size)
	for _, p := range r.p.q.Pipes {
		apply(p.Name == "head", p.N)
	}
	return lo, hi
}

// sizeLimit tells which end of the results the size limit keeps and how
// many results can matter at most.
func (r *runner) sizeLimit() (head bool, k int) {
	k = r.req.Size
	switch {
	case len(r.p.q.Pipes) > 0:
		head = r.p.q.Pipes[0].Name == "head"
		k = min(k, r.p.q.Pipes[0].N)
	case r.p.q.Kind == SampleQuery:
		head = true
	default:
		head = r.req.ResultPosition == "head"
	}
	return head, k
}

func (r *runner) runEvents() (*Response, error) {
	s := r.p.stages[0]
	keep := r.keeper()
	for e, err := range r.events() {
		if err != nil {
			return nil, err
		}
		ok, failed := r.matches(s, e)
		if failed {
			r.partial = true
			continue
		}
		if !ok {
			continue
		}
		if !keep.add(r.keepForHit(e)) {
			break // a head window is full: the rest of the stream cannot change the answer
		}
	}
	evs := keep.items()
	lo, hi := r.window(len(evs))
	resp := &Response{IsPartial: r.partial, ShardFailures: r.failures}
	resp.Hits.Events = make([]Hit, 0, hi-lo)
	for _, e := range evs[lo:hi] {
		resp.Hits.Events = append(resp.Hits.Events, r.hit(e))
	}
	resp.Hits.Total = Total{Value: len(resp.Hits.Events), Relation: "eq"}
	return resp, nil
}

// keeper bounds the results held while streaming to the ones that can
// reach the response (see window).
func (r *runner) keeper() *bounded[*event] {
	head, k := r.sizeLimit()
	return &bounded[*event]{head: head, k: k}
}

// bounded keeps the first k (head) or the last k (tail) values added.
type bounded[T any] struct {
	head bool
	k    int
	buf  []T
	n    int // values seen, for the tail ring
}

// add stores v and reports whether more values can still matter.
func (b *bounded[T]) add(v T) bool {
	if b.head {
		if len(b.buf) < b.k {
			b.buf = append(b.buf, v)
		}
		return len(b.buf) < b.k
	}
	if b.k == 0 {
		return true
	}
	if len(b.buf) < b.k {
		b.buf = append(b.buf, v)
	} else {
		b.buf[b.n%b.k] = v
	}
	b.n++
	return true
}

func (b *bounded[T]) items() []T {
	if b.head || b.n <= b.k {
		return b.buf
	}
	i := b.n % b.k
	return append(append([]T{}, b.buf[i:]...), b.buf[:i]...)
}

// checkCategoryField rejects a query whose stages name an event category
// when the mapping has no category field: Elasticsearch resolves the field
// at the query's start (x-pack/plugin/eql/src/test/java/org/elasticsearch/
// xpack/eql/analysis/VerifierTests.java testMissingEventCategory:
// "1:1: Unknown column [event.category]" for "foo where true" on
// mapping-missing-event-category.json). Without a mapping nothing is known.
func checkCategoryField(q *Query, field string, m *Mapping) error {
	if m == nil {
		return nil
	}
	if field == "" {
		field = DefaultEventCategoryField
	}
	if _, _, ok := m.resolve(field); ok {
		return nil
	}
	for _, st := range q.Stages() {
		if st.Category != "" && st.Category != "any" {
			return &Error{Line: 1, Col: 1, Msg: fmt.Sprintf("Unknown column [%s]", field), Query: q.Src}
		}
	}
	return nil
}

// CheckCategoryField is Search's check that the mapping given in opts
// (none: nothing to check) has the field holding event categories
// (field; "" is event.category) when the query names a category, for a
// linter that compiles rules without searching.
func CheckCategoryField(q *Query, field string, opts ...Option) error {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	return checkCategoryField(q, field, cfg.mapping)
}
