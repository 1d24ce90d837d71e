package harness

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/rules"
)

// dropLast is an engine that loses the last sequence of the embedded
// engine's answer: the kind of divergence --backend both must report.
type dropLast struct{ Embedded }

func (dropLast) Name() string { return "lossy" }

func (d dropLast) Search(ctx context.Context, r *rules.Rule, req eql.Request, docs []ecs.Document) (*eql.Response, error) {
	resp, err := d.Embedded.Search(ctx, r, req, docs)
	if err == nil && len(resp.Hits.Sequences) > 0 {
		resp.Hits.Sequences = resp.Hits.Sequences[:len(resp.Hits.Sequences)-1]
		resp.Hits.Total.Value--
	}
	return resp, err
}

func TestBothReportsDisagreement(t *testing.T) {
	r := loadRule(t, "t1071_003_mail_c2_tuned.toml")
	docs := render(t, ecs.Endpoint,
		conn{100, 10, "/usr/bin/curl", 110, 0}, conn{100, 10, "/usr/bin/curl", 143, time.Second}, conn{100, 10, "/usr/bin/curl", 25, 2 * time.Second})
	req := eql.Request{Query: r.Query, Size: MaxResults}

	same := &Both{Primary: Embedded{}, Secondary: Embedded{}}
	if _, err := same.Search(context.Background(), r, req, docs); err != nil {
		t.Fatal(err)
	}
	if d := same.Disagreements(); len(d) != 0 {
		t.Errorf("embedded vs embedded: disagreements %v", d)
	}

	lossy := &Both{Primary: Embedded{}, Secondary: dropLast{}}
	resp, err := lossy.Search(context.Background(), r, req, docs)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Hits.Sequences) != 1 {
		t.Errorf("Both answered with %d sequences, want the primary's 1", len(resp.Hits.Sequences))
	}
	d := lossy.Disagreements()
	if len(d) != 1 || !strings.Contains(d[0], "(lossy): elasticsearch found 0, the embedded engine 1") {
		t.Errorf("disagreements = %q, want one saying the secondary (lossy) engine found 0", d)
	}
}

// BenchmarkAnalyse measures the explanation of a miss over a scenario's
// worth of events (a large one: 3,000 connection attempts).
func BenchmarkAnalyse(b *testing.B) {
	r := loadRule(b, "t1071_003_mail_c2_published.toml")
	shape, err := Embedded{}.Shape(r.Query)
	if err != nil {
		b.Fatal(err)
	}
	var cs []conn
	for i := 0; i < 3000; i++ {
		cs = append(cs, conn{100 + i%50, 10, "/usr/bin/curl", 110, time.Duration(i) * time.Millisecond})
	}
	docs := render(b, ecs.Endpoint, cs...)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if e := analyse(shape, docs); e.Summary == "" {
			b.Fatal("empty explanation")
		}
	}
	b.ReportMetric(float64(len(docs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestEmbeddedTypesLikeTheIndex: the embedded engine searches each index
// through the mapping its real source's index has, so a comparison goes by
// the mapped type, not the JSON type the source writes to _source (as
// Elasticsearch's field extraction does): Defend writes user.id as the
// number 0, mapped keyword; Auditbeat writes destination.port as a string,
// mapped long. Without the mapping each of these verdicts flips.
func TestEmbeddedTypesLikeTheIndex(t *testing.T) {
	for _, c := range []struct {
		profile ecs.Profile
		query   string
		want    int
	}{
		{ecs.Endpoint, `network where user.id == "0"`, 1},
		{ecs.Endpoint, `network where user.id != "0"`, 0},
		{ecs.Endpoint, `network where process.pid == "100"`, 1},
		{ecs.Auditbeat, `network where destination.port == 110`, 1},
		{ecs.Auditbeat, `network where destination.port >= 100 and destination.port < 200`, 1},
		{ecs.Auditbeat, `network where destination.port == 110 and not_rendered.here == "x"`, 0},
	} {
		docs := render(t, c.profile, conn{100, 10, "/usr/bin/curl", 110, 0})
		r := &rules.Rule{Name: "typed", Query: c.query}
		resp, err := Embedded{}.Search(context.Background(), r, eql.Request{Query: c.query, Size: 10}, docs)
		if err != nil {
			t.Errorf("%s: %s: %v", c.profile, c.query, err)
			continue
		}
		if got := len(resp.Hits.Events); got != c.want {
			t.Errorf("%s: %s: %d hits, want %d", c.profile, c.query, got, c.want)
		}
	}
}
