package elastic

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/eql/conformance"
)

// fakeCluster answers the few endpoints Engine uses, as Elasticsearch
// would, and fails _bulk while failBulk is set.
type fakeCluster struct {
	mu         sync.Mutex
	bulks      int
	failBulk   bool
	deletes    int
	failDelete bool
}

func (f *fakeCluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodDelete:
		f.deletes++
		if f.failDelete {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":{"type":"cluster_block_exception","reason":"blocked"},"status":503}`))
			return
		}
		w.Write([]byte(`{"acknowledged":true}`))
	case strings.HasSuffix(r.URL.Path, "/_bulk"):
		f.bulks++
		if f.failBulk {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"error":{"type":"illegal_state_exception","reason":"boom"},"status":500}`))
			return
		}
		w.Write([]byte(`{"errors":false,"items":[]}`))
	case strings.HasSuffix(r.URL.Path, "/_eql/search"):
		w.Write([]byte(`{"is_running":false,"hits":{"total":{"value":0,"relation":"eq"}}}`))
	default: // template, refresh, deletes
		w.Write([]byte(`{"acknowledged":true}`))
	}
}

func newFakeClient(t *testing.T, f *fakeCluster) *Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	return &Client{es: es, url: srv.URL, version: "8.19.7"}
}

func TestEngineReindexesAfterFailedIndex(t *testing.T) {
	f := &fakeCluster{}
	e := newFakeClient(t, f).NewEngine("t1")
	t.Cleanup(func() { e.Close(context.Background()) })
	ctx := context.Background()
	req := eql.Request{Query: "any where true"}
	a := []ecs.Document{{"@timestamp": "2026-01-01T00:00:00Z", "agent": map[string]any{"type": "auditbeat"}}}
	b := []ecs.Document{{"@timestamp": "2026-01-01T00:00:01Z", "agent": map[string]any{"type": "auditbeat"}}}

	if _, err := e.Search(ctx, nil, req, a); err != nil {
		t.Fatalf("Search(a) = %v", err)
	}
	f.mu.Lock()
	f.failBulk = true
	f.mu.Unlock()
	if _, err := e.Search(ctx, nil, req, b); err == nil {
		t.Fatal("Search(b) with a failing _bulk: no error")
	}
	f.mu.Lock()
	f.failBulk = false
	before := f.bulks
	f.mu.Unlock()
	// The backend now holds part of b at best: a must be indexed afresh,
	// not answered from it.
	if _, err := e.Search(ctx, nil, req, a); err != nil {
		t.Fatalf("Search(a) again = %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bulks == before {
		t.Errorf("Search(a) after a failed Search(b) sent no _bulk: answered from the half-indexed backend of b")
	}
}

func TestConformanceCloseRetries(t *testing.T) {
	f := &fakeCluster{failDelete: true}
	b := newFakeClient(t, f).NewConformance("t2")
	ctx := context.Background()
	ds := conformance.Dataset{Index: "endgame", Documents: []ecs.Document{{"serial_event_id": 1}}}
	if err := b.Load(ctx, ds); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if err := b.Close(ctx); err == nil {
		t.Fatal("Close with a failing DELETE: no error")
	}
	f.mu.Lock()
	f.failDelete = false
	before := f.deletes
	f.mu.Unlock()
	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close again: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deletes == before {
		t.Error("Close after a failed Close sent no DELETE: the indices were forgotten and are left on the cluster")
	}
}
