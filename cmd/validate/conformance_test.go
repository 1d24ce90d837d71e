package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/eql/conformance"
	"github.com/purpleharness/purpleharness/prereq"
)

// TestConformanceCommand runs "validate conformance" end to end: the corpus
// on the embedded engine, and the exit code and remedies when no cluster
// is at hand.
func TestConformanceCommand(t *testing.T) {
	bin := buildValidate(t)

	t.Run("no cluster", func(t *testing.T) {
		if os.Getenv("PURPLEHARNESS_ES_URL") != "" {
			t.Skip("PURPLEHARNESS_ES_URL is set: a cluster is at hand")
		}
		image := "docker.elastic.co/elasticsearch/elasticsearch:0.0.0-absent"
		_, stderr, code := runValidate(t, bin, "conformance", "--es-image", image)
		if code != 3 {
			t.Errorf("exit %d, want 3; stderr:\n%s", code, stderr)
		}
		for _, want := range []string{"no Elasticsearch cluster", "docker pull " + image, "--es-url"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr does not name %q:\n%s", want, stderr)
			}
		}
	})

	t.Run("embedded", func(t *testing.T) {
		_, err := conformance.Dir()
		prereq.SkipOrFail(t, err) // a missing default corpus skips; a bad EQL_CONFORMANCE_DIR fails
		stdout, stderr, code := runValidate(t, bin, "conformance", "--backend", "embedded")
		if code != 0 {
			t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		m := regexp.MustCompile(`total +(\d+)/ *(\d+) passed`).FindStringSubmatch(stdout)
		switch {
		case m == nil || m[1] != m[2]:
			t.Errorf("stdout lacks an N/N passed total:\n%s", stdout)
		case os.Getenv("EQL_CONFORMANCE_DIR") == "" && m[2] != "308":
			// The shared corpus holds 308 queries; Elasticsearch's own
			// folder at the tag under test holds that version's.
			t.Errorf("total %s/%s, want 308/308:\n%s", m[1], m[2], stdout)
		}
		if !strings.HasPrefix(stderr, "backend: embedded EQL engine\n") {
			t.Errorf("stderr = %q", stderr)
		}
	})

	// Both layouts Elasticsearch's EQL QA resources have had, from small
	// corpora written for the loader's tests.
	t.Run("upstream layouts", func(t *testing.T) {
		for _, tc := range []struct{ dir, total, missing string }{
			{"eql/conformance/testdata/current", "total              5/  5 passed", "additional_test_queries.toml, test_queries_date.toml, test_extra.toml"},
			{"eql/conformance/testdata/legacy", "total              3/  3 passed", "test_queries_date_nanos.toml"},
		} {
			stdout, stderr, code := runValidate(t, bin, "conformance", "--backend", "embedded", "--corpus", tc.dir)
			if code != 0 || !strings.Contains(stdout, tc.total) {
				t.Errorf("--corpus %s: exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 0 and %q", tc.dir, code, stdout, stderr, tc.total)
			}
			if !strings.Contains(stderr, "corpus: "+tc.dir+" lacks ") || !strings.Contains(stderr, tc.missing) {
				t.Errorf("--corpus %s: stderr %q does not name the absent %s", tc.dir, stderr, tc.missing)
			}
		}
	})

	t.Run("bad backend", func(t *testing.T) {
		_, stderr, code := runValidate(t, bin, "conformance", "--backend", "opensearch")
		if code != 2 || !strings.HasSuffix(stderr, "validate: conformance: --backend \"opensearch\": want elasticsearch or embedded\n") {
			t.Errorf("exit %d, stderr:\n%s", code, stderr)
		}
	})
}
