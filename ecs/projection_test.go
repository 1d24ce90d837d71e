package ecs

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/purpleharness/purpleharness/jsondoc"
)

var projectionDocs = []string{
	`{"@timestamp":"2026-12-07T10:00:00Z","process":{"name":"curl","pid":12,"args":["-s","x"],"parent":{"name":"bash"}},"destination":{"port":110,"ip":"10.0.0.1"},"big":{"x":[1,2,3]}}`,
	`{"process.name":"nc","process":{"pid":1.5e3},"event":[{"category":"network"},{"category":["process"]},"odd",7]}`,
	`{"user":"al\u00e9","user.keyword":"k","n":18446744073709551617,"z":null,"t":true,"f":false,"e":{},"a":[]}`,
	`{"process":"not an object","destination":{"port":"25"}}`,
	`{"process":{"name":"a","pid":1},"process":{"pid":2},"user":"x","user":"y"}`,
	`{"user":{"keyword":"k","name":"x"},"event":{"category":"network"},"a":[{"b":1}]}`,
	`{"process":{"name":"a\u00e9\n","args":["a",{"b":null}]},"destination":{"port":-1.5E+3},"t":{"x":[[],{}]}}`,
}

// notJSON are inputs encoding/json refuses, or takes, in ways a hand-made
// scanner may get wrong.
var notJSON = []string{
	`{"n":00}`, `{"n":-}`, `{"n":1.}`, `{"n":1e}`, `{"n":.5}`, `{"n":+1}`, `{"s":"a` + "\x01" + `"}`,
	`{"s":"\u12G4"}`, `{"s":"\q"}`, `{"a":[1,]}`, `{"a":1,}`, `{"a" 1}`, `{"a":tru}`, `{"a":nul}`,
	`{"a":1}x`, `{"a":{"b":1}`, `{"process":{"name":"x"}} {}`, "{\"s\":\"a\x1fb\"}",
}

var projectionPaths = []string{"process.name", "process.pid", "destination.port", "event.category", "user", "user.keyword", "n", "z", "t", "f", "e", "a", "process.parent.name", "@timestamp"}

// TestProjectionLookup: every path read answers on the projected document
// exactly as on the fully decoded one (numbers as the same json.Number,
// strings unescaped, arrays of objects along a path, flattened keys), and
// the raw event comes back whole.
func TestProjectionLookup(t *testing.T) {
	p := NewProjection(projectionPaths)
	for _, raw := range projectionDocs {
		full, err := Decode([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		proj, err := p.Decode([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range projectionPaths {
			fv, fok := full.Lookup(path)
			pv, pok := proj.Lookup(path)
			if fok != pok || !reflect.DeepEqual(fv, pv) {
				t.Errorf("%s: %s = %#v (%v) projected, %#v (%v) decoded", raw, path, pv, pok, fv, fok)
			}
		}
		if _, ok := proj.Lookup("big.x"); ok {
			t.Errorf("%s: big.x, which no path reads, was kept", raw)
		}
		// Plain nested objects become one map keyed by full paths; a
		// dotted key, an array or a repeated key along a path keeps the
		// nested shape.
		_, nested := proj["process"].(map[string]any)
		if want := strings.Contains(raw, `"process.name"`) || strings.Count(raw, `"process":`) > 1; nested != want {
			t.Errorf("%s: process kept as a nested object: %v, want %v (%v)", raw, nested, want, proj)
		}
		if back := FullSource(proj); !reflect.DeepEqual(back, full) {
			t.Errorf("FullSource(%s) = %v, want %v", raw, back, full)
		}
	}
	if _, err := p.Decode([]byte(`{"a":`)); err == nil || err.Error() != "decode document: unexpected EOF" {
		t.Errorf("bad JSON: %v, want Decode's own error", err)
	}
	if _, err := p.Decode([]byte(`[1]`)); err == nil {
		t.Error("an array decoded as a document")
	}
	for _, raw := range notJSON {
		_, want := Decode([]byte(raw))
		if _, err := p.Decode([]byte(raw)); (err == nil) != (want == nil) || err != nil && err.Error() != want.Error() {
			t.Errorf("%s: projected error %v, want Decode's %v", raw, err, want)
		}
	}
}

// TestProjectionFastPath: a plain event is projected in the single pass
// (flatScan) into a Record; each shape that needs the document's own structure takes
// the slow path.
func TestProjectionFastPath(t *testing.T) {
	p := NewProjection(projectionPaths)
	for raw, fast := range map[string]bool{
		projectionDocs[0]: true,
		`{"process":{"name":"a"},"other":{"x.y":[1,{"z":"\u0041"}]}}`: true,
		`{"process.name":"nc"}`:                        false, // dotted key
		`{"event":[{"category":"network"}]}`:           false, // array along a path read
		`{"process":{"pid":1},"process":{"name":"a"}}`: false, // repeated key along a path read
		`{"user":"a","user":"b"}`:                      false, // repeated key read
		`{"us\u0065r":"a"}`:                            false, // escaped key
		`[1]`:                                          false,
		`{"n":00}`:                                     false,
	} {
		f, _ := p.Project([]byte(raw))
		if _, got := f.(*Record); got != fast {
			t.Errorf("Project(%s) gave a %T, want a Record: %v", raw, f, fast)
		}
	}
}

// FuzzProjection: on any JSON object, a projected document answers every
// path as the decoded one does.
// checkText checks that LookupText answers only for a string, a
// one-element array of a string or a number, with the text of the value
// Decode gives (want, present).
func checkText(t *testing.T, raw []byte, tf jsondoc.TextFields, path string, want any, present bool) {
	t.Helper()
	text, kind, ok := tf.LookupText(path)
	var wantText string
	var wantKind jsondoc.TextKind
	switch v := want.(type) {
	case string:
		wantText, wantKind = v, jsondoc.TextString
	case json.Number:
		wantText, wantKind = string(v), jsondoc.TextNumber
	case []any:
		if len(v) != 1 {
			break
		}
		if s, isStr := v[0].(string); isStr {
			wantText, wantKind = s, jsondoc.TextString
		}
	}
	if ok && (!present || kind != wantKind || text != wantText) {
		t.Fatalf("%q: LookupText(%s) = %q, %d; decoded: %#v", raw, path, text, kind, want)
	}
}

// TestLookupText: a Record gives plain strings, one-string arrays and
// numbers as text; anything else (an escape, null, an object, a longer
// array, an absent field) goes to Lookup.
func TestLookupText(t *testing.T) {
	p := NewProjection([]string{"a", "b", "c", "d", "e", "f", "g", "h"})
	f, err := p.Project([]byte(`{"a":"x y","b":["net"],"c":-1.5e3,"d":"t\u00e9","e":null,"f":{"g":1},"g":["p","q"]}`))
	if err != nil {
		t.Fatal(err)
	}
	tf := f.(jsondoc.TextFields)
	for path, want := range map[string]struct {
		text string
		kind jsondoc.TextKind
	}{
		"a": {"x y", jsondoc.TextString}, "b": {"net", jsondoc.TextString}, "c": {"-1.5e3", jsondoc.TextNumber},
		"d": {}, "e": {}, "f": {}, "g": {}, "h": {}, "f.g": {},
	} {
		text, kind, ok := tf.LookupText(path)
		if ok != (want.kind != 0) || text != want.text || kind != want.kind {
			t.Errorf("LookupText(%s) = %q, %d, %v; want %q, %d", path, text, kind, ok, want.text, want.kind)
		}
		v, present := f.Lookup(path)
		checkText(t, nil, tf, path, v, present)
		// by number: the same answer
		st := f.(jsondoc.SlottedText)
		if i := st.Slot(path); i >= 0 {
			if t2, k2, ok2 := st.TextAt(i); t2 != text || k2 != kind || ok2 != ok {
				t.Errorf("TextAt(Slot(%s)) = %q, %d, %v; LookupText gives %q, %d, %v", path, t2, k2, ok2, text, kind, ok)
			}
		} else if ok {
			t.Errorf("Slot(%s) = -1, but LookupText answers", path)
		}
	}
	// The records of two projections on the same paths share a layout;
	// on other paths they do not.
	same, _ := NewProjection([]string{"h", "g", "f", "e", "d", "c", "b", "a"}).Project([]byte(`{"a":"z"}`))
	other, _ := NewProjection([]string{"a", "b"}).Project([]byte(`{"a":"z"}`))
	if same.(jsondoc.SlottedText).Layout() != f.(jsondoc.SlottedText).Layout() {
		t.Error("projections on the same paths: different layouts")
	}
	if other.(jsondoc.SlottedText).Layout() == f.(jsondoc.SlottedText).Layout() {
		t.Error("projections on other paths: the same layout")
	}
}

func FuzzProjection(f *testing.F) {
	for _, d := range projectionDocs {
		f.Add([]byte(d))
	}
	for _, d := range notJSON {
		f.Add([]byte(d))
	}
	p := NewProjection(projectionPaths)
	store, err := NewSourceStore(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	stash := NewProjection(projectionPaths)
	stash.StoreSources(store)
	stash.StashSources()
	f.Fuzz(func(t *testing.T, raw []byte) {
		full, err := Decode(raw)
		proj, perr := p.Decode(raw)
		if (err == nil) != (perr == nil) {
			t.Fatalf("%q: decoded whole: %v, projected: %v", raw, err, perr)
		}
		if err != nil {
			return
		}
		rec, rerr := p.Project(raw)
		if rerr != nil {
			t.Fatalf("%q: Decode took it, Project: %v", raw, rerr)
		}
		for _, path := range append(projectionPaths, "process.name.x", "user.keyword.y", "nope") {
			fv, fok := full.Lookup(path)
			pv, pok := proj.Lookup(path)
			if fok != pok || !reflect.DeepEqual(fv, pv) {
				t.Fatalf("%q: %s = %#v (%v) projected, %#v (%v) decoded", raw, path, pv, pok, fv, fok)
			}
			if strings.HasPrefix(path, "big") {
				continue
			}
			if rv, rok := rec.Lookup(path); rok != fok || !reflect.DeepEqual(fv, rv) {
				t.Fatalf("%q: %s = %#v (%v) from %T, %#v (%v) decoded", raw, path, rv, rok, rec, fv, fok)
			}
			if tf, ok := rec.(jsondoc.TextFields); ok {
				checkText(t, raw, tf, path, fv, fok)
			}
		}
		if r, ok := rec.(*Record); ok && !reflect.DeepEqual(r.Source(), full) {
			t.Fatalf("%q: Record.Source() = %v, want %v", raw, r.Source(), full)
		}
		// Spilled and read back by a Projection on the same paths: the
		// same answers.
		enc, err := p.EncodeSpilled(rec)
		if err != nil {
			t.Fatalf("%q: EncodeSpilled: %v", raw, err)
		}
		back, err := NewProjection(projectionPaths).DecodeSpilled(bytes.Clone(enc))
		if err != nil || reflect.TypeOf(back) != reflect.TypeOf(rec) {
			t.Fatalf("%q: DecodeSpilled: %T, %v; want a %T", raw, back, err, rec)
		}
		for _, path := range append(projectionPaths, "process.name.x", "nope") {
			bv, bok := back.Lookup(path)
			rv, rok := rec.Lookup(path)
			if bok != rok || !reflect.DeepEqual(bv, rv) {
				t.Fatalf("%q: %s = %#v read back, %#v before", raw, path, bv, rv)
			}
		}
		// Cut short, a spilled record is an error, not a panic.
		for i := range min(len(enc), 40) {
			NewProjection(projectionPaths).DecodeSpilled(enc[:i])
		}
		// Its JSON stashed in a store: the same answers, the same event
		// back, spilled and read back too.
		stashed, err := stash.Project(raw)
		if err != nil {
			t.Fatalf("%q: stashed: %v", raw, err)
		}
		enc, err = stash.EncodeSpilled(stashed)
		if err != nil {
			t.Fatalf("%q: EncodeSpilled, stashed: %v", raw, err)
		}
		back, err = stash.DecodeSpilled(bytes.Clone(enc))
		if err != nil {
			t.Fatalf("%q: DecodeSpilled, stashed: %v", raw, err)
		}
		for _, f := range []jsondoc.Fields{stashed, back} {
			for _, path := range projectionPaths {
				sv, sok := f.Lookup(path)
				rv, rok := rec.Lookup(path)
				if sok != rok || !reflect.DeepEqual(sv, rv) {
					t.Fatalf("%q: %s = %#v stashed, %#v not", raw, path, sv, rv)
				}
			}
			if r, ok := f.(*Record); ok {
				if !reflect.DeepEqual(r.Source(), full) || !reflect.DeepEqual(r.Slim().Source(), full) {
					t.Fatalf("%q: a stashed record gives %v, Slim %v; want %v", raw, r.Source(), r.Slim().Source(), full)
				}
			}
		}
		// ProjectWanted: the test sees what Project gives; refused, no
		// event; accepted, the same event.
		var seen any
		if _, ok, err := p.ProjectWanted(raw, func(f jsondoc.Fields) bool {
			seen, _ = f.Lookup("process.name")
			return false
		}); ok || err != nil {
			t.Fatalf("%q: refused event: ok %v, err %v", raw, ok, err)
		}
		if want, _ := rec.Lookup("process.name"); !reflect.DeepEqual(seen, want) {
			t.Fatalf("%q: the test saw process.name %#v, Project gives %#v", raw, seen, want)
		}
		kept, ok, err := p.ProjectWanted(raw, func(jsondoc.Fields) bool { return true })
		if !ok || err != nil || reflect.TypeOf(kept) != reflect.TypeOf(rec) {
			t.Fatalf("%q: accepted event: %T, %v, %v; Project gives a %T", raw, kept, ok, err, rec)
		}
		for _, path := range projectionPaths {
			kv, kok := kept.Lookup(path)
			rv, rok := rec.Lookup(path)
			if kok != rok || !reflect.DeepEqual(kv, rv) {
				t.Fatalf("%q: %s = %#v from ProjectWanted, %#v from Project", raw, path, kv, rv)
			}
		}
	})
}

// BenchmarkFlatScan reads one event on one core onto the fields of a
// sequence rule (the scan/project stage without the reader around it).
func BenchmarkFlatScan(b *testing.B) {
	raw := []byte(`{"@timestamp":"2026-12-06T23:59:57.384Z","event":{"category":["network"],"type":["start"],"action":"connection_attempted","kind":"event"},"host":{"name":"host-8","os":{"type":"linux"}},"process":{"entity_id":"ent-8-1430","pid":1430,"name":"python3","executable":"/usr/bin/x"},"destination":{"ip":"10.0.8.180","port":587},"data_stream":{"type":"logs","dataset":"endpoint.events.network","namespace":"default"}}`)
	p := NewProjection([]string{"@timestamp", "event.category", "event.action", "destination.port", "process.name", "host.name", "process.entity_id", "_id", "_index"})
	spans := make([]span, len(p.shape.paths))
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		clear(spans)
		if !p.flatScan(raw, spans) {
			b.Fatal("slow path")
		}
	}
}

// TestReadsFrom: a record read from a regular input file (ReadsFrom,
// ProjectWantedAt) keeps its values and where its JSON lies in that file:
// its source, as a hit's stand-in and spilled and read back, is the line,
// and nothing is written to the store's own file. A file replaced since
// is not read as the same one, and a file that is not a regular one is
// refused.
func TestReadsFrom(t *testing.T) {
	dir := t.TempDir()
	var data []byte
	var offs []int64
	for _, d := range projectionDocs {
		if _, err := Decode([]byte(d)); err != nil {
			continue
		}
		offs = append(offs, int64(len(data)))
		data = append(append(data, d...), '\n')
	}
	path := filepath.Join(dir, "events.ndjson")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := NewSourceStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	input, err := store.AddInput(path)
	if err != nil {
		t.Fatal(err)
	}
	p := NewProjection(projectionPaths)
	p.StoreSources(store)
	p.ReadsFrom(input)
	records := 0
	for i, off := range offs {
		raw := bytes.Clone(data[off : off+int64(bytes.IndexByte(data[off:], '\n'))])
		f, ok, err := p.ProjectWantedAt(raw, off, func(jsondoc.Fields) bool { return true })
		if err != nil || !ok {
			t.Fatalf("event %d: %v, %v", i, ok, err)
		}
		r, isRecord := f.(*Record)
		if !isRecord {
			continue // an event that keeps its shape: a Document
		}
		records++
		want, _ := Decode(raw)
		clear(raw) // the record must not need the line's bytes
		enc, err := p.EncodeSpilled(r)
		if err != nil {
			t.Fatal(err)
		}
		back, err := p.DecodeSpilled(bytes.Clone(enc))
		if err != nil {
			t.Fatal(err)
		}
		for name, src := range map[string]jsondoc.Sourced{"record": r, "stand-in": r.Slim(), "spilled": back.(*Record)} {
			if got := src.Source(); !reflect.DeepEqual(got, want) {
				t.Errorf("event %d, %s: source %v, want %v", i, name, got, want)
			}
		}
	}
	if records == 0 {
		t.Fatal("no event became a record")
	}
	if store.size != 0 {
		t.Errorf("%d bytes written to the store's own file", store.size)
	}
	// A file replaced since it was read is not read as the same one.
	f, _, err := p.ProjectWantedAt([]byte(projectionDocs[0]), offs[0], func(jsondoc.Fields) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	rec := f.(*Record)
	if err := os.WriteFile(path+".new", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	store.Close() // drops the file kept open from the reads above
	if raw := rec.Raw(); raw != nil {
		t.Errorf("read %q back from a file replaced since", raw)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipe here: %v", err)
	}
	if _, err := store.AddInput(fifo); err == nil {
		t.Error("a named pipe was taken as an input file to read again")
	}
}
