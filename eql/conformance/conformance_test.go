package conformance

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/prereq"
)

// skip is the one list of corpus queries the embedded engine does not
// answer like Elasticsearch, each with the reason. Keys are "suite/name".
var skip = map[string]string{}

func TestEmbeddedConformance(t *testing.T) {
	dir, err := Dir()
	prereq.SkipOrFail(t, err) // a missing default corpus skips; a bad EQL_CONFORMANCE_DIR fails
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var only func(Query) bool
	if n := os.Getenv("EQL_CONFORMANCE_ONLY"); n != "" {
		only = func(q Query) bool { return q.Name == n }
	}
	res, err := c.Run(context.Background(), NewEmbedded(), Options{Skip: skip, Seed: 1, Only: only})
	if err != nil {
		t.Fatal(err)
	}
	// fetch_size and result_position are random in Elasticsearch's harness;
	// answers must hold for all of them, so run a few more draws.
	for seed := uint64(2); seed <= 4; seed++ {
		more, err := c.Run(context.Background(), NewEmbedded(), Options{Skip: skip, Seed: seed, Only: only})
		if err != nil {
			t.Fatal(err)
		}
		for i := range more {
			res[i].Failures = append(res[i].Failures, more[i].Failures...)
		}
	}
	total, passed := 0, 0
	for _, r := range res {
		t.Logf("suite %-15s %3d/%3d passed, %d skipped", r.Suite, r.Passed, r.Total, r.Skipped)
		total += r.Total
		passed += r.Passed
		for _, f := range r.Failures {
			t.Errorf("%s/%s (%s): %s\n  query: %s", f.Query.Suite, f.Query.Name, f.Query.File, f.Diff, f.Query.Query)
		}
	}
	t.Logf("total %d/%d passed, %d in the skip list", passed, total, len(skip))
	if len(c.Missing) > 0 {
		t.Logf("not in %s: %s", dir, strings.Join(c.Missing, ", "))
	}
	// The streaming path (pre-sorted input, Sorted()) must give the same
	// answers on every single-index query.
	streaming := NewEmbedded()
	streaming.Streaming = true
	sres, err := c.Run(context.Background(), streaming, Options{Skip: skip, Seed: 5, Only: only})
	if err != nil {
		t.Fatal(err)
	}
	spassed := 0
	for _, r := range sres {
		spassed += r.Passed
		for _, f := range r.Failures {
			t.Errorf("streaming %s/%s: %s", f.Query.Suite, f.Query.Name, f.Diff)
		}
	}
	t.Logf("streaming path: %d/%d passed", spassed, total)
	// The count pins the shared corpus; another folder (Elasticsearch's own
	// resources at the tag under test) holds that version's queries.
	if only == nil && os.Getenv("EQL_CONFORMANCE_DIR") == "" && total != 308 {
		t.Errorf("corpus holds %d queries, want 308", total)
	}
}

// TestDirNamedButMissing: a corpus named by EQL_CONFORMANCE_DIR that is not
// there is a configuration error that fails the run, never a skip.
func TestDirNamedButMissing(t *testing.T) {
	missing := t.TempDir() + "/no-such-corpus"
	t.Setenv("EQL_CONFORMANCE_DIR", missing)
	_, err := Dir()
	if err == nil {
		t.Fatalf("Dir() with EQL_CONFORMANCE_DIR=%s = nil error", missing)
	}
	if m, ok := prereq.As(err); ok {
		t.Errorf("Dir() = %v: an environment cause (%s), want a plain error", err, m.Cause)
	}
	if want := "EQL_CONFORMANCE_DIR=" + missing + ": stat " + missing + ": no such file or directory"; err.Error() != want {
		t.Errorf("Dir() = %q, want %q", err, want)
	}
}
