package ecs

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/purpleharness/purpleharness/jsondoc"
)

// RawKey is the key under which a projected Document keeps the event's
// whole JSON object, so that a hit can be shown as it was (FullSource).
// No field path can name it.
const RawKey = "\x00raw"

// Projection decodes only the fields a query reads: each event becomes a
// Document holding the values on the given paths (nested objects and
// flattened "a.b" keys alike, arrays of objects along a path kept with
// their elements projected) and, under RawKey, its raw JSON. A lookup of
// any of the paths answers as on the fully decoded document; what else
// the event holds costs neither a map nor a string.
type Projection struct {
	keep     map[string]bool // a path read: its whole value is kept
	through  map[string]int  // a proper prefix of a path read (descended into): its number
	parser   fastjson.Parser
	root     *pathNode // keep and through as a tree of keys, for flatScan
	seenAt   []uint64  // flatScan: the event (epoch) in which each prefix was last met
	epoch    uint64
	shape    *recordShape // the kept paths' slots in a Record, shared by its records
	scratch  Record       // ProjectWanted's record for the event at hand
	spillBuf []byte       // EncodeSpilled's, reused
	input    int          // ReadsFrom's file, 0 for none
}

// layout stands for one numbering of paths (Record.Layout): one per set
// of paths, for the life of the process.
type layout struct{ _ byte }

var layouts sync.Map // the paths, joined by NUL: *layout

// recordShape numbers a Projection's kept paths: a Record holds the value
// of path p at slot[p].
type recordShape struct {
	slot       map[string]int
	paths      []string
	layout     *layout      // shared by the shapes on the same paths
	valuesOnly bool         // KeepValuesOnly
	stash      bool         // StashSources
	store      *SourceStore // where Slim puts the JSON, if anywhere
}

// NewProjection projects onto paths (dotted field names).
func NewProjection(paths []string) *Projection {
	p := &Projection{keep: map[string]bool{}, through: map[string]int{}}
	for _, path := range paths {
		if path == "" {
			continue
		}
		p.keep[path] = true
		for i := strings.IndexByte(path, '.'); i >= 0; i = next(path, i) {
			if _, ok := p.through[path[:i]]; !ok {
				p.through[path[:i]] = len(p.through)
			}
		}
	}
	p.seenAt = make([]uint64, len(p.through))
	p.shape = &recordShape{slot: map[string]int{}}
	// Slots in path order: two Projections on the same paths number them
	// alike (FromBinary).
	for _, path := range slices.Sorted(maps.Keys(p.keep)) {
		p.shape.slot[path] = len(p.shape.paths)
		p.shape.paths = append(p.shape.paths, path)
	}
	l, _ := layouts.LoadOrStore(strings.Join(p.shape.paths, "\x00"), &layout{})
	p.shape.layout = l.(*layout)
	p.root = &pathNode{}
	for path := range p.keep {
		node := p.root
		for prefix := range strings.SplitSeq(path, ".") {
			if node == nil {
				break // below a kept path, which is not descended into
			}
			full := path[:len(node.prefix)+len(prefix)]
			k := node.find([]byte(prefix))
			if k == nil {
				node.keys = append(node.keys, pathKey{key: prefix})
				k = &node.keys[len(node.keys)-1]
			}
			switch slot, kept := p.shape.slot[full]; {
			case kept:
				k.kept, k.slot, k.next = true, slot, nil
			case k.next == nil && !k.kept:
				k.n = p.through[full]
				k.next = &pathNode{prefix: full + "."}
			}
			node = k.next
		}
	}
	return p
}

// Record is an event projected on a Projection's paths: where each of
// their values lies in the event's raw JSON (a span per path, through a
// path index common to all the Projection's records), and that JSON. It
// answers Lookup on those paths as the decoded event does, building the
// value when asked, and gives the whole event back (Source). Records are
// what Project makes of an event made of plain nested objects; they cost
// two slices instead of a map per event, and no value is built for a
// field nobody reads. raw is never written once the Record holds it:
// LookupText hands out strings that share its memory.
type Record struct {
	shape   *recordShape
	spans   []span
	raw     []byte
	markKey any // jsondoc.Marked
	marks   uint64
	// src is where the event's JSON is when raw holds only the values of
	// the fields read (StashSources).
	src storedEvent
}

// Mark leaves bits under key (jsondoc.Marked), in place of any others.
func (r *Record) Mark(key any, bits uint64) { r.markKey, r.marks = key, bits }

// Marks gives the bits Mark left under key.
func (r *Record) Marks(key any) uint64 {
	if r.markKey != key || key == nil {
		return 0
	}
	return r.marks
}

// span is where a kept path's value lies in a Record's raw JSON, and what
// it is.
type span struct {
	off, end uint32
	kind     spanKind
}

type spanKind uint8

const (
	spanAbsent  spanKind = iota // the event does not have the path (a JSON null is present)
	spanString                  // a string needing no unescaping, valid UTF-8: raw[off:end] is its text
	spanString1                 // a one-element array of such a string: raw[off:end] is the element's text
	spanNumber                  // raw[off:end] is the number
	spanTrue
	spanFalse
	spanNull
	spanJSON // anything else: raw[off:end] is its JSON, converted as Decode does
)

// value builds the value of sp as Decode gives it. Strings are copies.
func (r *Record) value(sp span) any {
	b := r.raw[sp.off:sp.end]
	switch sp.kind {
	case spanString:
		return string(b)
	case spanString1:
		return []any{string(b)}
	case spanNumber:
		return json.Number(b)
	case spanTrue:
		return true
	case spanFalse:
		return false
	case spanNull:
		return nil
	}
	v, _ := goValueOf(b) // checked JSON: it converts
	return v
}

// Lookup answers as on the decoded event: a path read directly, or a path
// below one read whose value is an object or an array of objects
// ("user.keyword" in {"user": {"keyword": ...}} when "user" is read).
func (r *Record) Lookup(path string) (any, bool) {
	if i, ok := r.shape.slot[path]; ok {
		if sp := r.spans[i]; sp.kind != spanAbsent {
			return r.value(sp), true
		}
	}
	for i := strings.LastIndexByte(path, '.'); i > 0; i = strings.LastIndexByte(path[:i], '.') {
		j, ok := r.shape.slot[path[:i]]
		if !ok || r.spans[j].kind != spanJSON {
			continue // only an object or an array holds paths below it
		}
		if v, ok := (Document{path[:i]: r.value(r.spans[j])}).Lookup(path); ok {
			return v, true
		}
	}
	return nil, false
}

// LookupText gives a path read whose value is a plain string (or a
// one-element array of one) or a number as its text, sharing raw's
// memory (jsondoc.TextFields).
func (r *Record) LookupText(path string) (string, jsondoc.TextKind, bool) {
	i, ok := r.shape.slot[path]
	if !ok {
		return "", 0, false
	}
	return r.TextAt(i)
}

// Layout is the numbering of r's fields, the same for the records of all
// projections on the same paths (jsondoc.SlottedText).
func (r *Record) Layout() any { return r.shape.layout }

// Slot is path's number in r's layout, or -1.
func (r *Record) Slot(path string) int {
	if i, ok := r.shape.slot[path]; ok {
		return i
	}
	return -1
}

// TextAt is LookupText of the path numbered slot.
func (r *Record) TextAt(slot int) (string, jsondoc.TextKind, bool) {
	sp := r.spans[slot]
	var kind jsondoc.TextKind
	switch sp.kind {
	case spanString, spanString1:
		kind = jsondoc.TextString
	case spanNumber:
		kind = jsondoc.TextNumber
	default:
		return "", 0, false
	}
	if sp.end == sp.off {
		return "", kind, true
	}
	return unsafe.String(&r.raw[sp.off], sp.end-sp.off), kind, true
}

// Source is the whole event, decoded.
func (r *Record) Source() Document {
	if r.src.s != nil {
		return r.src.Source()
	}
	if r.shape.valuesOnly {
		return nil // only the values of the fields read were kept
	}
	d, err := Decode(r.raw)
	if err != nil {
		return nil // not reached: the JSON was checked when it was read
	}
	return d
}

// Raw is the JSON the record was read from (nil when only its values
// were kept, or when its JSON cannot be read back from its store).
func (r *Record) Raw() []byte {
	if r.src.s != nil {
		raw, _ := r.src.Raw()
		return raw
	}
	if r.shape.valuesOnly {
		return nil
	}
	return r.raw
}

// Slim is the record reduced to its JSON: all a search needs of an event
// it keeps only to return it (eql.Slimmer).
func (r *Record) Slim() jsondoc.Sourced {
	if r.src.s != nil {
		return r.src
	}
	if r.shape.valuesOnly {
		return rawEvent(nil) // no JSON to give back: its Source is nil
	}
	if st := r.shape.store; st != nil {
		if e, ok := st.put(r.raw); ok {
			return e
		}
	}
	return rawEvent(r.raw)
}

// KeepValuesOnly makes p's records keep only the bytes of the values of
// the fields read, not the event's JSON: a quarter of the memory for a
// typical event, for a search that returns no event (size 0). Their
// Source is then nil, and a hit made of one has no _source.
func (p *Projection) KeepValuesOnly() { p.shape.valuesOnly = true }

// StashSources makes p's records put their JSON in the store of
// StoreSources as soon as they are made, keeping in memory only the values
// of the fields read and where the JSON is: for events held to be sorted,
// few of which become hits. Without a store it does nothing.
func (p *Projection) StashSources() { p.shape.stash = true }

// newRecord is a Record of p with spans into raw, owning copies of both
// (of the values alone, with KeepValuesOnly or StashSources).
func (p *Projection) newRecord(spans []span, raw []byte, off int64) *Record {
	if st := p.shape.store; st != nil && p.input > 0 && off >= 0 && !p.shape.valuesOnly {
		r := p.valuesRecord(spans, raw)
		r.src = storedEvent{s: st, file: int32(p.input), off: off, n: int32(len(raw))}
		return r
	}
	if st := p.shape.store; p.shape.stash && !p.shape.valuesOnly && st != nil {
		if src, ok := st.put(raw); ok {
			r := p.valuesRecord(spans, raw)
			r.src = src
			return r
		}
	}
	if !p.shape.valuesOnly {
		return &Record{shape: p.shape, spans: slices.Clone(spans), raw: bytes.Clone(raw)}
	}
	return p.valuesRecord(spans, raw)
}

// valuesRecord is a Record of p holding a copy of the values of raw at
// spans alone.
func (p *Projection) valuesRecord(spans []span, raw []byte) *Record {
	n := 0
	for _, sp := range spans {
		n += int(sp.end - sp.off)
	}
	vals := make([]byte, 0, n)
	own := make([]span, len(spans))
	for i, sp := range spans {
		own[i] = span{kind: sp.kind}
		if sp.end > sp.off {
			own[i].off = uint32(len(vals))
			vals = append(vals, raw[sp.off:sp.end]...)
			own[i].end = uint32(len(vals))
		}
	}
	return &Record{shape: p.shape, spans: own, raw: vals}
}

// StoreSources makes the Slim stand-ins of p's records keep their JSON in
// s instead of memory.
func (p *Projection) StoreSources(s *SourceStore) { p.shape.store = s }

// ReadsFrom tells p that the events it is given with an offset
// (ProjectWantedAt) are read from input file n of its store
// (SourceStore.AddInput, StoreSources): their records keep that offset
// for their JSON, and in memory only the values of the fields read,
// whether they are held, kept for a hit or stashed.
func (p *Projection) ReadsFrom(n int) { p.input = n }

// rawEvent is an event held as its JSON alone, decoded when asked.
type rawEvent []byte

func (e rawEvent) Lookup(path string) (any, bool) { return e.Source().Lookup(path) }

func (e rawEvent) Source() Document {
	d, err := Decode(e)
	if err != nil {
		return nil // not reached: the JSON was checked when it was read
	}
	return d
}

// ProjectWanted is Project for the events wanted accepts, with the marks
// it left on them (jsondoc.Marked): an event it refuses gives ok false,
// and when it is a plain one nothing of it is kept (its fields are read
// into a record reused for the next event), so that an event no filter
// can match costs no allocation of its own. wanted must not keep the
// Fields it is given.
func (p *Projection) ProjectWanted(raw []byte, wanted func(jsondoc.Fields) bool) (f jsondoc.Fields, ok bool, err error) {
	return p.ProjectWantedAt(raw, -1, wanted)
}

// ProjectWantedAt is ProjectWanted for an event whose JSON lies at off in
// the input file of ReadsFrom (-1: unknown).
func (p *Projection) ProjectWantedAt(raw []byte, off int64, wanted func(jsondoc.Fields) bool) (f jsondoc.Fields, ok bool, err error) {
	spans := p.scratchSpans()
	if p.flatScan(raw, spans) {
		p.scratch.raw, p.scratch.markKey, p.scratch.marks = raw, nil, 0
		keep := wanted(&p.scratch)
		p.scratch.raw = nil
		if !keep {
			return nil, false, nil
		}
		r := p.newRecord(spans, raw, off)
		r.markKey, r.marks = p.scratch.markKey, p.scratch.marks
		return r, true, nil
	}
	d, err := p.decodeNested(raw)
	if err != nil {
		return nil, false, err
	}
	return d, wanted(d), nil
}

// scratchSpans are the spans of p's scratch record, all absent.
func (p *Projection) scratchSpans() []span {
	if n := len(p.shape.paths); len(p.scratch.spans) != n {
		p.scratch = Record{shape: p.shape, spans: make([]span, n)}
	}
	clear(p.scratch.spans)
	return p.scratch.spans
}

// Project reads one JSON object as a *Record when it is made of plain
// nested objects, else as Decode does (a Document keeping the event's
// shape). Input that is not a JSON object gets Decode's own error.
func (p *Projection) Project(raw []byte) (jsondoc.Fields, error) {
	spans := p.scratchSpans() // newRecord copies them
	if p.flatScan(raw, spans) {
		return p.newRecord(spans, raw, -1), nil
	}
	return p.decodeNested(raw)
}

func next(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '.')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// Decode projects one JSON object. Input that is not a JSON object gets
// Decode's own error (with its offset). A Projection is not safe for
// concurrent use.
func (p *Projection) Decode(raw []byte) (Document, error) {
	f, err := p.Project(raw)
	if err != nil {
		return nil, err
	}
	r, ok := f.(*Record)
	if !ok {
		return f.(Document), nil
	}
	d := Document{RawKey: r.raw}
	for i, path := range r.shape.paths {
		if sp := r.spans[i]; sp.kind != spanAbsent {
			d[path] = r.value(sp)
		}
	}
	return d, nil
}

// decodeNested projects an event that needs its shape kept.
func (p *Projection) decodeNested(raw []byte) (Document, error) {
	d := Document{}
	// fastjson is more lenient than JSON (it takes 00, for one): what
	// encoding/json refuses gets its positioned error, as without
	// projection.
	if !json.Valid(raw) {
		return Decode(raw)
	}
	v, err := p.parser.ParseBytes(raw)
	if err != nil {
		return Decode(raw)
	}
	o, err := v.Object()
	if err != nil {
		return nil, errors.New("decode document: not a JSON object")
	}
	// A dotted key, an array or a repeated key along a path: Lookup's
	// resolution rules apply, so the projection keeps the document's shape.
	p.project(o, "", d)
	d[RawKey] = append([]byte(nil), raw...)
	return d, nil
}

func (p *Projection) project(o *fastjson.Object, prefix string, into map[string]any) {
	o.Visit(func(kb []byte, v *fastjson.Value) {
		k := jsonString(kb)
		full := prefix + k
		switch {
		case p.keep[full] || p.underKept(full):
			into[k] = goValue(v)
		case p.descends(full):
			into[k] = p.descend(v, full)
		}
	})
}

func (p *Projection) descends(full string) bool {
	_, ok := p.through[full]
	return ok
}

// descend projects the value at a prefix of a path read.
func (p *Projection) descend(v *fastjson.Value, full string) any {
	switch v.Type() {
	case fastjson.TypeObject:
		sub := map[string]any{}
		o, _ := v.Object()
		p.project(o, full+".", sub)
		return sub
	case fastjson.TypeArray:
		arr, _ := v.Array()
		out := make([]any, len(arr))
		for i, el := range arr {
			out[i] = p.descend(el, full)
		}
		return out
	}
	return goValue(v)
}

// underKept reports whether a flattened key lies below a path read
// ("process.name.text" under "process.name").
func (p *Projection) underKept(full string) bool {
	for i := strings.IndexByte(full, '.'); i >= 0; i = next(full, i) {
		if p.keep[full[:i]] {
			return true
		}
	}
	return false
}

// goValue converts as Decode does: numbers as json.Number, objects as
// map[string]any, arrays as []any.
func goValue(v *fastjson.Value) any {
	switch v.Type() {
	case fastjson.TypeNull:
		return nil
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	case fastjson.TypeNumber:
		return json.Number(v.MarshalTo(nil))
	case fastjson.TypeString:
		return jsonString(v.GetStringBytes())
	case fastjson.TypeArray:
		arr, _ := v.Array()
		out := make([]any, len(arr))
		for i, el := range arr {
			out[i] = goValue(el)
		}
		return out
	case fastjson.TypeObject:
		o, _ := v.Object()
		m := make(map[string]any, o.Len())
		o.Visit(func(k []byte, el *fastjson.Value) { m[jsonString(k)] = goValue(el) })
		return m
	}
	return nil
}

// jsonString is an unescaped JSON string as encoding/json makes it: each
// byte that is not valid UTF-8 becomes U+FFFD.
func jsonString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.Write(b[:size])
		}
		b = b[size:]
	}
	return sb.String()
}

// FullSource returns the event a projected Document was made from, fully
// decoded; any other Document is returned as it is.
func FullSource(d Document) Document {
	raw, ok := d[RawKey].([]byte)
	if !ok {
		return d
	}
	full, err := Decode(raw)
	if err != nil {
		return d
	}
	return full
}

// AppendBinary appends r in the form a Projection on the same paths (and
// the same store) reads back with FromBinary, without scanning its JSON
// again: where each field lies, where its JSON is when that is in a store,
// then its bytes. Marks are not kept.
func (r *Record) AppendBinary(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(r.spans)))
	for _, sp := range r.spans {
		b = append(b, byte(sp.kind))
		if sp.kind != spanAbsent {
			b = binary.AppendUvarint(b, uint64(sp.off))
			b = binary.AppendUvarint(b, uint64(sp.end-sp.off))
		}
	}
	if r.src.s != nil {
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(r.src.file))
		b = binary.AppendUvarint(b, uint64(r.src.off))
		b = binary.AppendUvarint(b, uint64(r.src.n))
	} else {
		b = append(b, 0)
	}
	return append(b, r.raw...)
}

// errBinary reports a record FromBinary cannot read.
var errBinary = errors.New("not a record of this projection")

// FromBinary reads a Record that AppendBinary wrote from a record of a
// Projection on the same paths. The Record keeps b (its JSON is read in
// place): b must not change afterwards.
func (p *Projection) FromBinary(b []byte) (*Record, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n != uint64(len(p.shape.paths)) {
		return nil, errBinary
	}
	b = b[k:]
	spans := make([]span, n)
	for i := range spans {
		if len(b) == 0 || b[0] > byte(spanJSON) {
			return nil, errBinary
		}
		spans[i].kind, b = spanKind(b[0]), b[1:]
		if spans[i].kind == spanAbsent {
			continue
		}
		off, k1 := binary.Uvarint(b)
		if k1 <= 0 {
			return nil, errBinary
		}
		size, k2 := binary.Uvarint(b[k1:])
		if k2 <= 0 || off > math.MaxUint32 || size > math.MaxUint32-off {
			return nil, errBinary
		}
		b = b[k1+k2:]
		spans[i].off, spans[i].end = uint32(off), uint32(off+size)
	}
	if len(b) == 0 || b[0] > 1 {
		return nil, errBinary
	}
	stored := b[0] == 1
	b = b[1:]
	var src storedEvent
	if stored {
		file, k0 := binary.Uvarint(b)
		off, k1, n, k2 := uint64(0), 0, uint64(0), 0
		if k0 > 0 {
			off, k1 = binary.Uvarint(b[k0:])
		}
		if k0 > 0 && k1 > 0 {
			n, k2 = binary.Uvarint(b[k0+k1:])
		}
		if k0 <= 0 || k1 <= 0 || k2 <= 0 || p.shape.store == nil || file > math.MaxInt32 || off > math.MaxInt64 || n > math.MaxInt32 {
			return nil, errBinary
		}
		src = storedEvent{s: p.shape.store, file: int32(file), off: int64(off), n: int32(n)}
		b = b[k0+k1+k2:]
	}
	for _, sp := range spans {
		if uint64(sp.end) > uint64(len(b)) || sp.off > sp.end {
			return nil, errBinary
		}
	}
	return &Record{shape: p.shape, spans: spans, raw: b, src: src}, nil
}

// EncodeSpilled and DecodeSpilled write an event p made to a spill file and
// read it back (eql.Spill): a Record as AppendBinary writes it, read back
// without scanning, anything else as its JSON, projected again. The bytes
// EncodeSpilled returns are valid until its next call; DecodeSpilled keeps
// the bytes it is given. Like p, they are not safe for concurrent use.
func (p *Projection) EncodeSpilled(f jsondoc.Fields) ([]byte, error) {
	switch e := f.(type) {
	case *Record:
		p.spillBuf = e.AppendBinary(append(p.spillBuf[:0], spilledRecord))
		return p.spillBuf, nil
	case Document:
		if raw, ok := e[RawKey].([]byte); ok {
			return append([]byte{spilledJSON}, raw...), nil
		}
	}
	raw, err := json.Marshal(f)
	return append([]byte{spilledJSON}, raw...), err
}

// DecodeSpilled reads back what EncodeSpilled wrote.
func (p *Projection) DecodeSpilled(b []byte) (jsondoc.Fields, error) {
	if len(b) > 0 && b[0] == spilledRecord {
		return p.FromBinary(b[1:])
	}
	if len(b) > 0 && b[0] == spilledJSON {
		return p.Project(b[1:])
	}
	return nil, errBinary
}

// The first byte of a spilled event: how the rest is written.
const (
	spilledJSON   = 'j'
	spilledRecord = 'r'
)
