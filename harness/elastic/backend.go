package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
)

// Backend is one run's view of a cluster: it indexes the run's documents
// into the run's own data streams and evaluates EQL over them. It is the
// Elasticsearch counterpart of the embedded engine: Search answers an
// eql.Request with an *eql.Response of the same shape.
type Backend struct {
	c         *Client
	namespace string

	mu        sync.Mutex
	streams   map[string]bool // data streams this run has written to
	templates []string        // index templates installed, in order
}

// NewBackend returns the backend for run runID on c. Nothing is created
// on the cluster until the first Index.
func (c *Client) NewBackend(runID string) *Backend {
	ns := Namespace(runID)
	return &Backend{c: c, namespace: ns, streams: map[string]bool{}}
}

// Namespace is the data_stream.namespace of the run's documents.
func (b *Backend) Namespace() string { return b.namespace }

// Streams lists the data streams the run has written to, sorted.
func (b *Backend) Streams() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Sorted(maps.Keys(b.streams))
}

// bulkChunk bounds one _bulk request body (Elasticsearch's default
// http.max_content_length is 100mb; smaller chunks keep memory modest).
const bulkChunk = 8 << 20

// Index writes docs to the run's data streams with bulk create actions (data
// streams accept only create) in the given order, then refreshes them so a
// following Search sees every document. Documents that carry data_stream.*
// get data_stream.namespace set to the run's namespace; docs is not
// modified.
func (b *Backend) Index(ctx context.Context, docs []ecs.Document) error {
	if err := b.ensureTemplate(ctx); err != nil {
		return err
	}
	var body bytes.Buffer
	var lines []int // doc index of each action in body
	flush := func() error {
		if body.Len() == 0 {
			return nil
		}
		err := b.bulk(ctx, body.Bytes(), lines)
		body.Reset()
		lines = lines[:0]
		return err
	}
	for i, d := range docs {
		stream, err := streamFor(d, b.namespace)
		if err != nil {
			return fmt.Errorf("index document %d: %w", i, err)
		}
		stream = strings.ToLower(stream)
		d = withNamespace(d, b.namespace)
		src, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("index document %d: %w", i, err)
		}
		fmt.Fprintf(&body, `{"create":{"_index":%q}}`+"\n", stream)
		body.Write(src)
		body.WriteByte('\n')
		lines = append(lines, i)
		b.mu.Lock()
		b.streams[stream] = true
		b.mu.Unlock()
		if body.Len() >= bulkChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return b.refresh(ctx)
}

// withNamespace returns d with data_stream.namespace set to ns when d
// carries data_stream fields (nested or flattened); it copies only what it
// changes, so the caller's document is untouched. Beats documents, which
// have no data_stream, are returned as they are.
func withNamespace(d ecs.Document, ns string) ecs.Document {
	if m, ok := d["data_stream"].(map[string]any); ok {
		out := maps.Clone(d)
		dsm := maps.Clone(m)
		dsm["namespace"] = ns
		out["data_stream"] = dsm
		return out
	}
	for k := range d {
		if strings.HasPrefix(k, "data_stream.") {
			out := maps.Clone(d)
			out["data_stream.namespace"] = ns
			return out
		}
	}
	return d
}

func (b *Backend) ensureTemplate(ctx context.Context) error {
	b.mu.Lock()
	done := len(b.templates)
	b.mu.Unlock()
	all := runTemplates(b.namespace)
	for _, t := range all[done:] {
		body, err := json.Marshal(t.body)
		if err != nil {
			return err
		}
		req := esapi.IndicesPutIndexTemplateRequest{Name: t.name, Body: bytes.NewReader(body)}
		if err := b.c.do(ctx, req, nil); err != nil {
			return fmt.Errorf("install index template %s: %w", t.name, err)
		}
		b.mu.Lock()
		b.templates = append(b.templates, t.name)
		b.mu.Unlock()
	}
	return nil
}

// BulkError reports documents Elasticsearch refused.
type BulkError struct {
	Failed int         // how many documents failed
	Items  []ItemError // the first few failures
}

// ItemError is one refused document: its position in Index's input and
// Elasticsearch's reason (e.g. a mapper_parsing_exception).
type ItemError struct {
	Doc    int
	Status int
	Type   string
	Reason string
}

func (e *BulkError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "elasticsearch refused %d document(s)", e.Failed)
	for _, it := range e.Items {
		fmt.Fprintf(&b, "; document %d: %s: %s", it.Doc, it.Type, it.Reason)
	}
	return b.String()
}

// bulkResponse is the part of a _bulk response we read.
type bulkResponse struct {
	Errors bool `json:"errors"`
	Items  []map[string]struct {
		Status int `json:"status"`
		Error  *struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"error"`
	} `json:"items"`
}

func (b *Backend) bulk(ctx context.Context, body []byte, docs []int) error {
	var res bulkResponse
	if err := b.c.do(ctx, esapi.BulkRequest{Body: bytes.NewReader(body)}, &res); err != nil {
		return fmt.Errorf("bulk index: %w", err)
	}
	return bulkErrors(res, docs)
}

// bulkErrors turns the per-item failures of a bulk response into a
// *BulkError, naming the caller's document index of each.
func bulkErrors(res bulkResponse, docs []int) error {
	if !res.Errors {
		return nil
	}
	e := &BulkError{}
	for i, item := range res.Items {
		for _, r := range item {
			if r.Error == nil {
				continue
			}
			e.Failed++
			if len(e.Items) < 3 {
				doc := i
				if i < len(docs) {
					doc = docs[i]
				}
				e.Items = append(e.Items, ItemError{Doc: doc, Status: r.Status, Type: r.Error.Type, Reason: r.Error.Reason})
			}
		}
	}
	if e.Failed == 0 {
		return nil
	}
	return e
}

func (b *Backend) refresh(ctx context.Context) error {
	streams := b.Streams()
	if len(streams) == 0 {
		return nil
	}
	if err := b.c.do(ctx, esapi.IndicesRefreshRequest{Index: streams}, nil); err != nil {
		return fmt.Errorf("refresh: %w", err)
	}
	return nil
}

// Search runs req over the run's data streams that match indexPatterns (the
// rule's own index setting: comma-free patterns with * wildcards, and
// -pattern exclusions, as Elasticsearch resolves them). The request is sent
// as given, so Elasticsearch applies its defaults (size 10, tail) exactly
// as the embedded engine does; SearchAll fetches every result.
//
// When no stream of the run matches, the query is still checked by
// Elasticsearch (against all the run's streams, with a filter that matches
// nothing), so a bad query fails the same way whatever the data.
func (b *Backend) Search(ctx context.Context, indexPatterns []string, req eql.Request) (*eql.Response, error) {
	targets := matchStreams(b.Streams(), indexPatterns)
	if len(targets) == 0 {
		all := b.Streams()
		if len(all) == 0 {
			return nil, fmt.Errorf("eql search: the run has indexed no documents")
		}
		targets = all
		req.Filter = json.RawMessage(`{"match_none":{}}`)
	}
	return b.c.EQLSearch(ctx, strings.Join(targets, ","), req)
}

// MaxResults caps SearchAll: Elasticsearch's index.max_result_window default.
const MaxResults = 10000

// ErrTruncated is returned (with the response) by SearchAll when even
// MaxResults results did not hold them all.
var ErrTruncated = errors.New("eql search: more results than MaxResults")

// SearchAll is Search with size grown until the response holds every
// result (fewer hits than size), starting at req.Size or 1000. EQL has no
// cursor, so this is how a caller sees every sequence a rule produces.
func (b *Backend) SearchAll(ctx context.Context, indexPatterns []string, req eql.Request) (*eql.Response, error) {
	return searchAll(ctx, req, func(ctx context.Context, r eql.Request) (*eql.Response, error) {
		return b.Search(ctx, indexPatterns, r)
	})
}

func searchAll(ctx context.Context, req eql.Request, search func(context.Context, eql.Request) (*eql.Response, error)) (*eql.Response, error) {
	if req.Size <= 0 {
		req.Size = 1000
	}
	for {
		res, err := search(ctx, req)
		if err != nil {
			return nil, err
		}
		if res.Hits.Total.Value < req.Size {
			return res, nil
		}
		if req.Size >= MaxResults {
			return res, ErrTruncated
		}
		req.Size = min(req.Size*4, MaxResults)
	}
}

// Close deletes the run's data streams and its index template, and
// nothing else. It runs on its own deadline even when ctx is already
// cancelled (Ctrl-C), treats what is already gone as deleted, and is safe
// to call more than once.
func (b *Backend) Close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var errs []error
	for _, s := range b.Streams() {
		err := b.c.do(ctx, esapi.IndicesDeleteDataStreamRequest{Name: []string{s}}, nil)
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("delete data stream %s: %w", s, err))
			continue
		}
		b.mu.Lock()
		delete(b.streams, s)
		b.mu.Unlock()
	}
	b.mu.Lock()
	installed := slices.Clone(b.templates)
	b.mu.Unlock()
	kept := []string{}
	for _, name := range installed {
		err := b.c.do(ctx, esapi.IndicesDeleteIndexTemplateRequest{Name: name}, nil)
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("delete index template %s: %w", name, err))
			kept = append(kept, name)
		}
	}
	b.mu.Lock()
	b.templates = kept
	b.mu.Unlock()
	return errors.Join(errs...)
}

// isNotFound reports a 404 from Elasticsearch: what we meant to delete is
// not there (never created, or deleted already).
func isNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == 404
}

// matchStreams returns the streams matched by the patterns, resolved as
// Elasticsearch resolves an index expression: patterns apply left to right,
// a leading '-' removes what earlier patterns added, '*' matches any run of
// characters. An empty pattern list means all streams ("_all").
func matchStreams(streams, patterns []string) []string {
	if len(patterns) == 0 {
		return streams
	}
	var out []string
	for _, s := range streams {
		in := false
		for _, p := range patterns {
			for _, part := range strings.Split(p, ",") {
				part = strings.TrimSpace(part)
				switch {
				case part == "":
				case strings.HasPrefix(part, "-") && in:
					if wildcard(part[1:], s) {
						in = false
					}
				case part == "_all" || wildcard(part, s):
					in = true
				}
			}
		}
		if in {
			out = append(out, s)
		}
	}
	return out
}

// wildcard reports whether s matches pattern, where '*' matches any run of
// characters (Elasticsearch's Regex.simpleMatch). A star only ever needs to
// retry from the latest one, so this is linear in practice and at worst
// len(pattern)*len(s), also for a rule file's "*a*a*a*...*b".
func wildcard(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0 // last star seen in pattern, and where s resumed after it
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			mark++
			p, i = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// EQLSearch sends req to index's _eql/search and returns the response. A
// search still running after the wait (big runs, slow clusters) is polled
// through the async API until it completes, then deleted.
func (c *Client) EQLSearch(ctx context.Context, index string, req eql.Request) (*eql.Response, error) {
	body, err := requestBody(req)
	if err != nil {
		return nil, err
	}
	var res searchResponse
	keep := false
	err = c.do(ctx, esapi.EqlSearchRequest{
		Index:                    index,
		Body:                     bytes.NewReader(body),
		WaitForCompletionTimeout: 30 * time.Second,
		KeepOnCompletion:         &keep,
	}, &res)
	if err != nil {
		return nil, fmt.Errorf("eql search: %w", err)
	}
	for res.IsRunning && res.ID != "" {
		id := res.ID
		res = searchResponse{}
		err := c.do(ctx, esapi.EqlGetRequest{DocumentID: id, WaitForCompletionTimeout: 30 * time.Second}, &res)
		if err != nil {
			c.deleteSearch(id)
			return nil, fmt.Errorf("eql search %s: %w", id, err)
		}
		if !res.IsRunning {
			c.deleteSearch(id)
		}
	}
	return &res.Response, nil
}

// requestBody is req as Elasticsearch reads it. eql.Request leaves a zero
// size out (Elasticsearch's default 10 applies, as in the embedded engine)
// and uses a negative size for an explicit size 0 (no hits), which must go
// on the wire as 0: Elasticsearch rejects negative sizes.
func requestBody(req eql.Request) ([]byte, error) {
	if req.Size >= 0 {
		return json.Marshal(req)
	}
	req.Size = 0
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["size"] = json.RawMessage("0")
	return json.Marshal(m)
}

// deleteSearch drops a stored async search; it runs on its own short
// context so that cancellation of the caller still cleans up.
func (c *Client) deleteSearch(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.do(ctx, esapi.EqlDeleteRequest{DocumentID: id}, nil)
}

// searchResponse is an _eql/search body: eql.Response plus the async id.
type searchResponse struct {
	ID string `json:"id"`
	eql.Response
}

// DecodeResponse decodes an _eql/search response body into the shared
// response shape, keeping numbers in _source as json.Number (as
// ecs.Decode does) so that both engines hand the same values on.
func DecodeResponse(body []byte) (*eql.Response, error) {
	var res searchResponse
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("decode eql response: %w", err)
	}
	return &res.Response, nil
}
