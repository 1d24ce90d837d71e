package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/eql/conformance"
)

// Conformance is the eql/conformance Backend on a real cluster: it loads
// the corpus datasets the way Elasticsearch's QA DataLoader does (an index
// per dataset with the dataset's mapping, documents bulk-indexed in file
// order, one shard so ingest order is the final tiebreak) and answers the
// corpus queries with _eql/search. Running the same corpus through this and
// through conformance.Embedded certifies the embedded engine against the
// real thing.
//
// Index names carry a per-run prefix (purpleharness-conformance-<ns>-) so
// runs on a shared cluster do not collide; Close deletes them.
type Conformance struct {
	c      *Client
	prefix string

	mu      sync.Mutex
	indices []string
}

var _ conformance.Backend = (*Conformance)(nil)

// NewConformance returns a conformance backend on c for run runID.
func (c *Client) NewConformance(runID string) *Conformance {
	return &Conformance{c: c, prefix: "purpleharness-conformance-" + Namespace(runID) + "-"}
}

// Load creates the dataset's index and indexes its documents.
func (b *Conformance) Load(ctx context.Context, ds conformance.Dataset) error {
	name := b.prefix + ds.Index
	var mapping json.RawMessage = ds.Mapping
	if len(bytes.TrimSpace(mapping)) == 0 {
		mapping = json.RawMessage(`{}`)
	}
	body, err := json.Marshal(map[string]any{
		"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0},
		"mappings": mapping,
	})
	if err != nil {
		return err
	}
	if err := b.c.do(ctx, esapi.IndicesCreateRequest{Index: name, Body: bytes.NewReader(body)}, nil); err != nil {
		return fmt.Errorf("create index %s: %w", name, err)
	}
	b.mu.Lock()
	b.indices = append(b.indices, name)
	b.mu.Unlock()

	var bulk bytes.Buffer
	for i, d := range ds.Documents {
		src, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("%s document %d: %w", ds.Index, i, err)
		}
		bulk.WriteString(`{"create":{}}` + "\n")
		bulk.Write(src)
		bulk.WriteByte('\n')
	}
	if bulk.Len() > 0 {
		var res bulkResponse
		if err := b.c.do(ctx, esapi.BulkRequest{Index: name, Body: &bulk, Refresh: "true"}, &res); err != nil {
			return fmt.Errorf("bulk %s: %w", name, err)
		}
		// Items are in document order: a failure's item index is its
		// document index.
		if err := bulkErrors(res, nil); err != nil {
			return fmt.Errorf("bulk %s: %w", name, err)
		}
	}
	return nil
}

// Search answers req on a comma-separated list of dataset names.
func (b *Conformance) Search(ctx context.Context, index string, req eql.Request) (*eql.Response, error) {
	names := strings.Split(index, ",")
	for i, n := range names {
		names[i] = b.prefix + strings.TrimSpace(n)
	}
	return b.c.EQLSearch(ctx, strings.Join(names, ","), req)
}

// Close deletes the indices Load created. Like Backend.Close it runs on its
// own deadline and can be called again after a failure: the indices are
// forgotten only once deleted.
func (b *Conformance) Close(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.indices) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := b.c.do(ctx, esapi.IndicesDeleteRequest{Index: b.indices}, nil); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete indices %s: %w", strings.Join(b.indices, ","), err)
	}
	b.indices = nil
	return nil
}
