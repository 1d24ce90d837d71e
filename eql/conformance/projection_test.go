package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/prereq"
)

// rawOf is a projected event's JSON, as validate query spills it.
func rawOf(f eql.Fields) ([]byte, error) {
	if r, ok := f.(*ecs.Record); ok {
		return r.Raw(), nil
	}
	d, _ := f.(ecs.Document)
	raw, ok := d[ecs.RawKey].([]byte)
	if !ok {
		return nil, errors.New("not a projected event")
	}
	return raw, nil
}

// TestProjectionDifferential runs every single-index query of the corpus
// (sequences, samples, until, missing events, functions, pipes) twice
// over the same JSON events and the index's mapping: decoded whole
// (ecs.Decode), and projected on the fields the search reads
// (eql.SearchFields through the mapping's aliases and sub-fields;
// ecs.Projection, hits given their whole event back with ecs.FullSource),
// as validate query does. The two responses must be identical, errors
// included, and so must a third that spills the events it holds to disk
// every few events and merges them back (eql.WithSpill). All three match the reference that holds every event for the
// sort (eql.HoldAll), where the others drop the events no filter matches.
func TestProjectionDifferential(t *testing.T) {
	dir, err := Dir()
	if err != nil {
		prereq.SkipOrFail(t, err)
	}
	c, err := Load(dir)
	if err != nil {
		prereq.SkipOrFail(t, err)
	}
	raws := map[string][][]byte{}
	mappings := map[string]*eql.Mapping{}
	for name, ds := range c.Datasets {
		m, err := eql.ParseMapping(ds.Mapping)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds.Documents {
			if err := m.AddDynamic(d); err != nil {
				t.Fatal(err)
			}
		}
		mappings[name] = m
		for _, d := range ds.Documents {
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			raws[name] = append(raws[name], b)
		}
	}
	// Each index's events as an NDJSON file, and where each lies in it,
	// for records that read their JSON back in place.
	files, offsets := map[string]string{}, map[string][]int64{}
	fileDir := t.TempDir()
	for name, rs := range raws {
		var b []byte
		for _, raw := range rs {
			offsets[name] = append(offsets[name], int64(len(b)))
			b = append(append(b, raw...), '\n')
		}
		files[name] = filepath.Join(fileDir, name+".ndjson")
		if err := os.WriteFile(files[name], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	whole := func(raw []byte) (eql.Fields, error) { return ecs.Decode(raw) }
	search := func(q Query, req eql.Request, decode func([]byte) (eql.Fields, error), opts ...eql.Option) string {
		events := func(yield func(eql.Fields, error) bool) {
			for _, raw := range raws[q.Index] {
				if !yield(decode(raw)) {
					return
				}
			}
		}
		opts = append(opts, eql.WithIndex(q.Index), eql.WithMapping(mappings[q.Index]))
		resp, err := eql.Search(context.Background(), req, events, opts...)
		if err != nil {
			return "error: " + err.Error()
		}
		resp.Took = 0
		for i := range resp.Hits.Events {
			resp.Hits.Events[i].Source = ecs.FullSource(resp.Hits.Events[i].Source)
		}
		for i := range resp.Hits.Sequences {
			for j := range resp.Hits.Sequences[i].Events {
				if h := &resp.Hits.Sequences[i].Events[j]; h.Source != nil {
					h.Source = ecs.FullSource(h.Source)
				}
			}
		}
		out, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	n, withHits, errs, dropped := 0, 0, 0, 0
	for _, s := range c.Suites {
		for _, q := range s.Queries {
			if strings.Contains(q.Index, ",") {
				continue
			}
			req := Request(q)
			parsed, err := eql.Parse(req.Query)
			if err != nil {
				continue
			}
			fields, ok := eql.SearchFields(parsed, req, mappings[q.Index])
			if !ok {
				continue // a scripted runtime field: validate query decodes whole
			}
			full := search(q, req, whole)
			if strings.Contains(full, `"_source"`) {
				withHits++
			} else if strings.HasPrefix(full, "error") && errs < 3 {
				errs++
				t.Logf("%s: %s", q.Name, full)
			}
			if ref := search(q, req, whole, eql.HoldAll()); full != ref {
				t.Errorf("%s %s: response differs from the one holding every event\nquery: %s\nref:  %.400s\ngot:  %.400s", q.File, q.Name, q.Query, ref, full)
			}
			// Projected as validate query does (records, or documents
			// keeping an event's shape), and as maps (Decode).
			projected := search(q, req, ecs.NewProjection(fields).Project)
			asMaps := func(raw []byte) (eql.Fields, error) { return ecs.NewProjection(fields).Decode(raw) }
			if maps := search(q, req, asMaps); full != maps {
				t.Errorf("%s %s: response from projected maps differs\nquery: %s\nfull: %.400s\nmaps: %.400s", q.File, q.Name, q.Query, full, maps)
			}
			if full != projected {
				t.Errorf("%s %s: projected response differs\nquery: %s\nfull:      %.400s\nprojected: %.400s", q.File, q.Name, q.Query, full, projected)
			}
			// Events no filter can match dropped by the reader (Wanted).
			wanted, err := eql.Wanted(req, eql.WithIndex(q.Index), eql.WithMapping(mappings[q.Index]))
			if err != nil {
				if !strings.HasPrefix(full, "error") {
					t.Errorf("%s %s: Wanted: %v, but the search answered", q.File, q.Name, err)
				}
			} else {
				project, test := ecs.NewProjection(fields), wanted.Test()
				dropping := func(raw []byte) (eql.Fields, error) {
					f, ok, err := project.ProjectWanted(raw, test)
					if err == nil && !ok {
						dropped++
						return eql.Dropped, nil
					}
					return f, err
				}
				if got := search(q, req, dropping); full != got {
					t.Errorf("%s %s: response with dropped events differs\nquery: %s\nfull:    %.400s\ndropped: %.400s", q.File, q.Name, q.Query, full, got)
				}
				// and the filters the test found matching taken as marked
				if got := search(q, req, dropping, wanted.Marks()); full != got {
					t.Errorf("%s %s: response with marked events differs\nquery: %s\nfull:   %.400s\nmarked: %.400s", q.File, q.Name, q.Query, full, got)
				}
			}
			// Spilled every few events (many runs merged back), and the
			// hits' JSON kept in a SourceStore on disk.
			store, err := ecs.NewSourceStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			project := ecs.NewProjection(fields)
			project.StoreSources(store)
			spill := eql.Spill{Dir: t.TempDir(), Budget: 3000, Encode: rawOf,
				Decode: project.Project}
			spilled := search(q, req, project.Project, eql.WithSpill(spill))
			if full != spilled {
				t.Errorf("%s %s: spilled response differs\nquery: %s\nfull:    %.400s\nspilled: %.400s", q.File, q.Name, q.Query, full, spilled)
			}
			// the same, spilled as records that are not scanned again
			spill.Encode, spill.Decode = project.EncodeSpilled, project.DecodeSpilled
			if got := search(q, req, project.Project, eql.WithSpill(spill)); full != got {
				t.Errorf("%s %s: response spilled as records differs\nquery: %s\nfull:    %.400s\nspilled: %.400s", q.File, q.Name, q.Query, full, got)
			}
			// and as records whose JSON went to the store when they were
			// read
			stash := ecs.NewProjection(fields)
			stash.StoreSources(store)
			stash.StashSources()
			spill.Encode, spill.Decode = stash.EncodeSpilled, stash.DecodeSpilled
			if got := search(q, req, stash.Project, eql.WithSpill(spill)); full != got {
				t.Errorf("%s %s: response from stashed records differs\nquery: %s\nfull:    %.400s\nstashed: %.400s", q.File, q.Name, q.Query, full, got)
			}
			// and as records that read their JSON back from the file
			// they were read from
			input, err := store.AddInput(files[q.Index])
			if err != nil {
				t.Fatal(err)
			}
			inPlace := ecs.NewProjection(fields)
			inPlace.StoreSources(store)
			inPlace.ReadsFrom(input)
			next := 0
			atOffset := func(raw []byte) (eql.Fields, error) {
				off := offsets[q.Index][next]
				next++
				f, _, err := inPlace.ProjectWantedAt(raw, off, func(eql.Fields) bool { return true })
				return f, err
			}
			spill.Encode, spill.Decode = inPlace.EncodeSpilled, inPlace.DecodeSpilled
			if got := search(q, req, atOffset, eql.WithSpill(spill)); full != got {
				t.Errorf("%s %s: response from records read in place differs\nquery: %s\nfull:     %.400s\nin place: %.400s", q.File, q.Name, q.Query, full, got)
			}
			store.Close()
			// Records keeping only their values (for a search that returns
			// no event, size 0), spilled and read back, find the same
			// events: the same response but for _source. (With size 0
			// itself the response says nothing but is_partial.)
			values := ecs.NewProjection(fields)
			values.KeepValuesOnly()
			spill.Encode, spill.Decode = values.EncodeSpilled, values.DecodeSpilled
			if want, got := withoutSources(t, full), withoutSources(t, search(q, req, values.Project, eql.WithSpill(spill))); want != got {
				t.Errorf("%s %s: response from values alone differs\nquery: %s\nfull:   %.400s\nvalues: %.400s", q.File, q.Name, q.Query, want, got)
			}
			n++
		}
	}
	if n < 250 || withHits < n/2 {
		t.Errorf("only %d queries compared, %d with hits", n, withHits)
	}
	if dropped == 0 {
		t.Error("no event was dropped by a Wanted test")
	}
	t.Logf("%d queries: identical responses, %d of them with hits; %d events dropped by Wanted tests", n, withHits, dropped)
}

// withoutSources is a search's response without the _source of its hits.
func withoutSources(t *testing.T, resp string) string {
	if strings.HasPrefix(resp, "error") {
		return resp
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(resp), &r); err != nil {
		t.Fatalf("%v: %s", err, resp)
	}
	hits, _ := r["hits"].(map[string]any)
	strip := func(events any) {
		evs, _ := events.([]any)
		for _, e := range evs {
			delete(e.(map[string]any), "_source")
		}
	}
	strip(hits["events"])
	seqs, _ := hits["sequences"].([]any)
	for _, sq := range seqs {
		strip(sq.(map[string]any)["events"])
	}
	out, _ := json.Marshal(r)
	return string(out)
}
