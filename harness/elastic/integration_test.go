package elastic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/eql/conformance"
	"github.com/purpleharness/purpleharness/prereq"
	"github.com/purpleharness/purpleharness/rules"
)

// Integration tests talk to a real cluster: PURPLEHARNESS_ES_URL (with the
// other PURPLEHARNESS_ES_* variables), or a container of the image named by
// PURPLEHARNESS_ES_IMAGE (default DefaultImage) when it is present locally.
// Otherwise they skip, saying which.

var (
	clusterOnce sync.Once
	cluster     *Client
	clusterErr  error
	skipReason  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if err := cluster.Close(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "close cluster:", err)
		}
		cancel()
	}
	os.Exit(code)
}

func testCluster(t *testing.T) *Client {
	t.Helper()
	clusterOnce.Do(func() {
		o := OptionsFromEnv()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if o.URL == "" {
			present, err := ImagePresent(ctx, o.image())
			switch {
			case err != nil:
				skipReason = fmt.Sprintf("no Elasticsearch: %s unset and Docker unreachable (%v)", EnvURL, err)
				return
			case !present:
				skipReason = fmt.Sprintf("no Elasticsearch: %s unset and image %s not present locally", EnvURL, o.image())
				return
			}
		}
		cluster, clusterErr = Open(ctx, o)
	})
	if skipReason != "" {
		prereq.Skip(t, prereq.Elasticsearch, skipReason)
	}
	if clusterErr != nil {
		t.Fatalf("open cluster: %v", clusterErr)
	}
	return cluster
}

// network builds an Elastic-Defend-shaped network event as the sensor's
// renderer would.
func network(ts time.Time, host, entityID, name string, port int, action string) ecs.Document {
	d := ecs.Document{}
	d.Set("@timestamp", ts.UTC().Format(time.RFC3339Nano))
	d.Set("data_stream.type", "logs")
	d.Set("data_stream.dataset", "endpoint.events.network")
	d.Set("data_stream.namespace", "default")
	d.Set("agent.type", "endpoint")
	d.Set("event.category", []any{"network"})
	d.Set("event.type", []any{"start"})
	d.Set("event.action", action)
	d.Set("host.name", host)
	d.Set("process.entity_id", entityID)
	d.Set("process.name", name)
	d.Set("process.pid", 4242)
	d.Set("destination.ip", "127.0.0.1")
	d.Set("destination.port", port)
	d.Set("source.ip", "127.0.0.1")
	d.Set("source.port", 50000+port)
	d.Set("network.transport", "tcp")
	return d
}

func mailDocs(start time.Time) []ecs.Document {
	var docs []ecs.Document
	t := start
	next := func() time.Time { t = t.Add(time.Second); return t }
	// A C2 beacon: three attempts from one process, event.type as the
	// published rule expects it (connection_attempted in event.type).
	for _, port := range []int{25, 110, 143} {
		d := network(next(), "h1", "beacon", "nc", port, "connection_attempted")
		d.Set("event.type", []any{"start", "connection_attempted"})
		docs = append(docs, d)
	}
	// An allow-listed mail client, other letter case.
	for range 3 {
		d := network(next(), "h1", "tb", "Thunderbird.EXE", 993, "connection_attempted")
		d.Set("event.type", []any{"start", "connection_attempted"})
		docs = append(docs, d)
	}
	// Three processes, one attempt each.
	for i := range 3 {
		d := network(next(), "h1", fmt.Sprintf("one-%d", i), "curl", 587, "connection_attempted")
		d.Set("event.type", []any{"start", "connection_attempted"})
		docs = append(docs, d)
	}
	return docs
}

func published(t *testing.T) rules.Rule {
	t.Helper()
	rs, err := rules.Load("../../rules/t1071_003_mail_c2_published.toml")
	if err != nil || len(rs) != 1 {
		t.Fatalf("load published rule: %v", err)
	}
	return rs[0]
}

func TestIndexSearchClose(t *testing.T) {
	c := testCluster(t)
	ctx := context.Background()
	runID := fmt.Sprintf("it-%d", time.Now().UnixNano())
	b := c.NewBackend(runID)
	t.Cleanup(func() { _ = b.Close(context.Background()) })

	docs := mailDocs(time.Now().Add(-time.Hour))
	if err := b.Index(ctx, docs); err != nil {
		t.Fatalf("Index: %v", err)
	}
	wantStream := "logs-endpoint.events.network-" + Namespace(runID)
	if got := b.Streams(); !reflect.DeepEqual(got, []string{wantStream}) {
		t.Errorf("Streams = %v, want [%s]", got, wantStream)
	}

	r := published(t)
	res, err := b.SearchAll(ctx, r.Index, eql.Request{Query: r.Query})
	if err != nil {
		t.Fatalf("SearchAll(published rule): %v", err)
	}
	if len(res.Hits.Sequences) != 1 {
		t.Fatalf("sequences = %d, want 1 (the beacon): %+v", len(res.Hits.Sequences), res.Hits)
	}
	seq := res.Hits.Sequences[0]
	if want := []any{"h1", "beacon"}; !reflect.DeepEqual(seq.JoinKeys, want) {
		t.Errorf("join_keys = %v, want %v", seq.JoinKeys, want)
	}
	if len(seq.Events) != 3 {
		t.Errorf("sequence has %d events, want 3", len(seq.Events))
	}
	// Numbers come back as json.Number, as the embedded engine reads them.
	if v, _ := seq.Events[0].Source.Lookup("destination.port"); v != json.Number("25") {
		t.Errorf("destination.port = %#v, want json.Number(25)", v)
	}
	// The run's namespace went into every document.
	if v, _ := seq.Events[0].Source.Lookup("data_stream.namespace"); v != Namespace(runID) {
		t.Errorf("data_stream.namespace = %v, want %s", v, Namespace(runID))
	}

	// Patterns that match none of the run's streams see nothing, yet the
	// query is still verified.
	res, err = b.Search(ctx, []string{"winlogbeat-*"}, eql.Request{Query: r.Query})
	if err != nil || res.Hits.Total.Value != 0 {
		t.Errorf("Search(winlogbeat-*) = %+v, %v; want no hits", res, err)
	}

	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The stream and the template are gone.
	if err := c.do(ctx, esapi.IndicesGetDataStreamRequest{Name: []string{wantStream}}, nil); !isStatus(err, 404) {
		t.Errorf("data stream after Close: %v, want 404", err)
	}
	if err := c.do(ctx, esapi.IndicesGetIndexTemplateRequest{Name: "purpleharness-" + Namespace(runID)}, nil); !isStatus(err, 404) {
		t.Errorf("template after Close: %v, want 404", err)
	}
}

func isStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// TestRunsAreIsolated indexes the same beacon in two runs and checks
// that each run's search sees only its own events.
func TestRunsAreIsolated(t *testing.T) {
	c := testCluster(t)
	ctx := context.Background()
	base := time.Now().UnixNano()
	a, b := c.NewBackend(fmt.Sprintf("iso-a-%d", base)), c.NewBackend(fmt.Sprintf("iso-b-%d", base))
	t.Cleanup(func() { _ = a.Close(context.Background()); _ = b.Close(context.Background()) })
	start := time.Now().Add(-time.Hour)
	if err := a.Index(ctx, mailDocs(start)); err != nil {
		t.Fatal(err)
	}
	if err := b.Index(ctx, mailDocs(start)[:2]); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		b    *Backend
		want int
	}{{a, 9}, {b, 2}} {
		res, err := tc.b.SearchAll(ctx, []string{"logs-endpoint.events.*"}, eql.Request{Query: "network where true"})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(res.Hits.Events); got != tc.want {
			t.Errorf("run %s sees %d events, want %d", tc.b.Namespace(), got, tc.want)
		}
	}
}

func TestQueryErrorPositions(t *testing.T) {
	c := testCluster(t)
	ctx := context.Background()
	b := c.NewBackend(fmt.Sprintf("err-%d", time.Now().UnixNano()))
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	if err := b.Index(ctx, mailDocs(time.Now().Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		query string
		want  Problem
	}{
		{"network where no_such.field == 1", Problem{1, 15, "Unknown column [no_such.field]"}},
		{"sequence [network where true]", Problem{1, 1, "A sequence requires a minimum of 2 queries, found [1]"}},
	}
	for _, tt := range tests {
		_, err := b.Search(ctx, []string{"logs-*"}, eql.Request{Query: tt.query})
		var e *Error
		if !errors.As(err, &e) || !e.IsQueryError() || len(e.Problems) == 0 {
			t.Errorf("Search(%q) = %v, want a query error", tt.query, err)
			continue
		}
		p := e.Problems[0]
		if p.Line != tt.want.Line || p.Col != tt.want.Col || !strings.HasPrefix(p.Msg, tt.want.Msg) {
			t.Errorf("Search(%q) problem = %+v, want %+v", tt.query, p, tt.want)
		}
	}
}

// TestAgreesWithEmbedded evaluates the published rule and a few event
// queries on both engines over the same documents and compares the
// results hit for hit.
func TestAgreesWithEmbedded(t *testing.T) {
	c := testCluster(t)
	ctx := context.Background()
	b := c.NewBackend(fmt.Sprintf("agree-%d", time.Now().UnixNano()))
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	docs := mailDocs(time.Now().Add(-time.Hour))
	if err := b.Index(ctx, docs); err != nil {
		t.Fatal(err)
	}
	queries := []string{
		published(t).Query,
		`network where process.name in~ ("thunderbird.exe")`,
		`network where destination.port in (25, 587) and not process.name : "nc"`,
		`sequence by process.entity_id [network where true] [network where true]`,
	}
	for _, q := range queries {
		req := eql.Request{Query: q, Size: 100}
		want, err := eql.Search(ctx, req, docSeq(docs))
		if err != nil {
			t.Fatalf("embedded %q: %v", q, err)
		}
		got, err := b.Search(ctx, []string{"logs-endpoint.events.*"}, req)
		if err != nil {
			t.Fatalf("elasticsearch %q: %v", q, err)
		}
		if d := Disagreement(got, want); d != "" {
			t.Errorf("%s\n%s\nelasticsearch: %s\nembedded:      %s", q, d, summarize(got), summarize(want))
		}
	}
}

func docSeq(docs []ecs.Document) iter.Seq2[ecs.Document, error] {
	return func(yield func(ecs.Document, error) bool) {
		for _, d := range docs {
			if !yield(d, nil) {
				return
			}
		}
	}
}

// summarize renders hits by @timestamp and process.entity_id, which both
// engines return unchanged (ids and index names differ by design).
func summarize(r *eql.Response) string {
	var b strings.Builder
	fmt.Fprintf(&b, "total=%d ", r.Hits.Total.Value)
	hit := func(h eql.Hit) {
		ts, _ := h.Source.Lookup("@timestamp")
		id, _ := h.Source.Lookup("process.entity_id")
		fmt.Fprintf(&b, "%v/%v ", ts, id)
	}
	for _, h := range r.Hits.Events {
		hit(h)
	}
	for _, s := range r.Hits.Sequences {
		fmt.Fprintf(&b, "keys=%v [", s.JoinKeys)
		for _, h := range s.Events {
			hit(h)
		}
		b.WriteString("] ")
	}
	return b.String()
}

// TestElasticConformance runs Elasticsearch's EQL spec corpus against the
// cluster with the same runner as the embedded engine's test.
func TestElasticConformance(t *testing.T) {
	dir, err := conformance.Dir()
	prereq.SkipOrFail(t, err)
	c := testCluster(t)
	corpus, err := conformance.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b := c.NewConformance(fmt.Sprintf("conf-%d", time.Now().UnixNano()))
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	res, err := corpus.Run(ctx, b, conformance.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		t.Logf("suite %-15s %3d/%3d passed", r.Suite, r.Passed, r.Total)
		for _, f := range r.Failures {
			t.Errorf("%s/%s: %s", f.Query.Suite, f.Query.Name, f.Diff)
		}
	}
}

// TestEngine drives the harness seam: the same documents for two rules are
// indexed once; a different set replaces the first.
func TestEngine(t *testing.T) {
	c := testCluster(t)
	ctx := context.Background()
	e := c.NewEngine(fmt.Sprintf("engine-%d", time.Now().UnixNano()))
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	docs := mailDocs(time.Now().Add(-time.Hour))
	r := published(t)
	res, err := e.Search(ctx, &r, eql.Request{Query: r.Query, Size: 10000}, docs)
	if err != nil || len(res.Hits.Sequences) != 1 {
		t.Fatalf("first search = %+v, %v; want one sequence", res, err)
	}
	first := e.b
	if _, err := e.Search(ctx, &r, eql.Request{Query: "network where true"}, docs); err != nil || e.b != first {
		t.Errorf("same documents re-indexed (err %v)", err)
	}
	res, err = e.Search(ctx, &r, eql.Request{Query: r.Query}, docs[3:])
	if err != nil || len(res.Hits.Sequences) != 0 || e.b == first {
		t.Errorf("new document set: %+v, %v; want a fresh backend without the beacon", res, err)
	}
}

// TestSearchLive plays the agent with a backend's stream and checks that
// the window confines the live search.
func TestSearchLive(t *testing.T) {
	c := testCluster(t)
	ctx := context.Background()
	b := c.NewBackend(fmt.Sprintf("live-%d", time.Now().UnixNano()))
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := b.Index(ctx, mailDocs(start)); err != nil {
		t.Fatal(err)
	}
	r := published(t)
	req := eql.Request{Query: r.Query, Size: 100}
	for _, tc := range []struct {
		name string
		w    Window
		want int
	}{
		{"beacon inside", Window{From: start, To: start.Add(3 * time.Second), Hosts: []string{"h1"}}, 1},
		{"only two attempts inside", Window{From: start, To: start.Add(2 * time.Second)}, 0},
		{"other host", Window{From: start, To: start.Add(time.Minute), Hosts: []string{"h2"}}, 0},
	} {
		res, err := c.SearchLive(ctx, b.Streams(), req, tc.w)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := len(res.Hits.Sequences); got != tc.want {
			t.Errorf("%s: %d sequences, want %d", tc.name, got, tc.want)
		}
	}
}

// TestRuleRequestParameters evaluates rules that set their own request
// parameters (event_category_override, timestamp_field, tiebreaker_field)
// through the harness seam on Elasticsearch and on the embedded engine,
// over the same documents, and checks both find what the parameters say
// they should.
func TestRuleRequestParameters(t *testing.T) {
	c := testCluster(t)
	ctx := context.Background()
	const dir = "../../rules/testdata/overrides/"
	load := func(name string) []ecs.Document {
		data, err := os.ReadFile(dir + name)
		if err != nil {
			t.Fatal(err)
		}
		var docs []ecs.Document
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			d, err := ecs.Decode([]byte(line))
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, d)
		}
		return docs
	}
	for _, tc := range []struct {
		rule, events string
		want         int // events or sequences
	}{
		{"s3_logging_off.toml", "cloudtrail_events.ndjson", 1},
		{"trail_then_logging.ndjson", "cloudtrail_events.ndjson", 1},
		{"exec_then_connect.toml", "defend_events.ndjson", 1},
	} {
		rs, err := rules.Load(dir + tc.rule)
		if err != nil || len(rs) != 1 {
			t.Fatalf("load %s: %v", tc.rule, err)
		}
		r := &rs[0]
		docs := load(tc.events)
		e := c.NewEngine(fmt.Sprintf("params-%d", time.Now().UnixNano()))
		t.Cleanup(func() { _ = e.Close(context.Background()) })
		req := r.Request()
		req.Size = 100
		got, err := e.Search(ctx, r, req, docs)
		if err != nil {
			t.Fatalf("%s on elasticsearch: %v", tc.rule, err)
		}
		if got.Hits.Total.Value != tc.want {
			t.Errorf("%s on elasticsearch: %s; want %d", tc.rule, summarize(got), tc.want)
		}
		want, err := eql.Search(ctx, req, docSeq(docs))
		if err != nil {
			t.Fatalf("%s embedded: %v", tc.rule, err)
		}
		if d := Disagreement(got, want); d != "" {
			t.Errorf("%s: %s\nelasticsearch: %s\nembedded:      %s", tc.rule, d, summarize(got), summarize(want))
		}
	}
}
