package eql

import (
	"context"
	"encoding/json"
	goparser "go/parser"
	gotoken "go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/jsondoc"
)

// record is a field source that is not a map: a fixed set of fields, as
// a compact projected record would be, giving its whole event for hits.
type record struct {
	names  []string
	values []any
	whole  jsondoc.Document
}

func (r *record) Lookup(path string) (any, bool) {
	for i, n := range r.names {
		if n == path {
			return r.values[i], true
		}
	}
	return nil, false
}

func (r *record) Source() jsondoc.Document { return r.whole }

// TestSearchReadsAnyFieldSource: the engine reads events through Fields
// only. The same events as decoded documents and as records holding only
// the fields the search reads give the same response, _source included.
func TestSearchReadsAnyFieldSource(t *testing.T) {
	lines := []string{
		`{"@timestamp":"2026-12-07T10:00:02Z","event":{"category":"network","action":"connection_attempted"},"process":{"entity_id":"a","name":"nc"},"destination":{"port":25},"extra":{"x":1}}`,
		`{"@timestamp":"2026-12-07T10:00:01Z","event":{"category":"process","action":"exec"},"process":{"entity_id":"a","name":"nc"},"extra":{"x":2}}`,
		`{"@timestamp":"2026-12-07T10:00:03Z","event":{"category":"network","action":"connection_attempted"},"process":{"entity_id":"b","name":"curl"},"destination":{"port":443}}`,
	}
	req := Request{Query: `sequence by process.entity_id [process where event.action == "exec"] [network where destination.port == 25]`}
	q, err := Parse(req.Query)
	if err != nil {
		t.Fatal(err)
	}
	fields, _ := SearchFields(q, req.WithDefaults(), nil)
	var docs []jsondoc.Document
	var recs []*record
	for _, l := range lines {
		d, err := jsondoc.Decode([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
		r := &record{whole: d}
		for _, f := range fields {
			if v, ok := d.Lookup(f); ok {
				r.names, r.values = append(r.names, f), append(r.values, v)
			}
		}
		recs = append(recs, r)
	}
	answer := func(resp *Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		resp.Took = 0
		b, _ := json.Marshal(resp)
		return string(b)
	}
	fromDocs := answer(Search(context.Background(), req, Events(sliceSeq(docs))))
	fromRecs := answer(Search(context.Background(), req, Events(sliceSeq(recs))))
	if fromDocs != fromRecs || !strings.Contains(fromDocs, `"extra":{"x":2}`) {
		t.Errorf("records answer\n%s\ndocuments answer\n%s", fromRecs, fromDocs)
	}
	if got := Sort(req, nil, recs); got[0] != recs[1] || got[2] != recs[2] {
		t.Errorf("Sort of records: %v", got)
	}
}

func sliceSeq[E any](xs []E) func(yield func(E, error) bool) {
	return func(yield func(E, error) bool) {
		for _, x := range xs {
			if !yield(x, nil) {
				return
			}
		}
	}
}

// TestEngineImportsNoTelemetry: the engine's code reads events through
// jsondoc and Fields, not through the telemetry package that renders them.
func TestEngineImportsNoTelemetry(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := goparser.ParseFile(gotoken.NewFileSet(), f, nil, goparser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			if strings.HasSuffix(strings.Trim(imp.Path.Value, `"`), "/ecs") {
				t.Errorf("%s imports %s", f, imp.Path.Value)
			}
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d files checked", checked)
	}
}
