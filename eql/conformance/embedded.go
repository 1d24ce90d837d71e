package conformance

import (
	"context"
	"fmt"
	"iter"
	"strings"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
)

// Embedded is the Backend of the embedded engine: indices live in memory,
// mappings grow by dynamic mapping as Elasticsearch's would.
type Embedded struct {
	indices map[string]*embeddedIndex
	// Streaming makes single-index searches take the streaming path:
	// the index is pre-sorted with eql.Sort and searched with
	// eql.Sorted(), so the corpus checks that path too.
	Streaming bool
}

type embeddedIndex struct {
	mapping *eql.Mapping
	docs    []ecs.Document
}

var _ Backend = (*Embedded)(nil)

// NewEmbedded returns an empty embedded backend.
func NewEmbedded() *Embedded { return &Embedded{indices: map[string]*embeddedIndex{}} }

// Load indexes ds.
func (e *Embedded) Load(_ context.Context, ds Dataset) error {
	m, err := eql.ParseMapping(ds.Mapping)
	if err != nil {
		return fmt.Errorf("index %s: %w", ds.Index, err)
	}
	for i, d := range ds.Documents {
		if err := m.AddDynamic(d); err != nil {
			return fmt.Errorf("index %s: document %d: %w", ds.Index, i, err)
		}
	}
	e.indices[ds.Index] = &embeddedIndex{mapping: m, docs: ds.Documents}
	return nil
}

// Search runs req on a comma-separated index expression.
func (e *Embedded) Search(ctx context.Context, index string, req eql.Request) (*eql.Response, error) {
	names := strings.Split(index, ",")
	if e.Streaming && len(names) == 1 {
		ix, ok := e.indices[names[0]]
		if !ok {
			return nil, fmt.Errorf("no such index [%s]", names[0])
		}
		sorted := eql.Sort(req, ix.mapping, ix.docs)
		return eql.Search(ctx, req, seq(sorted), eql.WithMapping(ix.mapping), eql.WithIndex(names[0]), eql.Sorted())
	}
	var sources []eql.Source
	for _, name := range names {
		ix, ok := e.indices[name]
		if !ok {
			return nil, fmt.Errorf("no such index [%s]", name)
		}
		sources = append(sources, eql.Source{Index: name, Mapping: ix.mapping, Events: eql.Events(seq(ix.docs))})
	}
	failing := func(idx, field string) bool {
		ix, ok := e.indices[idx]
		if !ok {
			return false
		}
		t, _ := ix.mapping.Type(field)
		return t == "runtime"
	}
	return eql.SearchSources(ctx, req, sources, eql.WithFailingField(failing))
}

func seq(docs []ecs.Document) iter.Seq2[ecs.Document, error] {
	return func(yield func(ecs.Document, error) bool) {
		for _, d := range docs {
			if !yield(d, nil) {
				return
			}
		}
	}
}
