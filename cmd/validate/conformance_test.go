package main

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/eql/conformance"
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
		if _, err := conformance.Dir(); errors.Is(err, conformance.ErrNoCorpus) {
			t.Skipf("no EQL conformance corpus: %v", err)
		}
		stdout, stderr, code := runValidate(t, bin, "conformance", "--backend", "embedded")
		if code != 0 {
			t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		if !strings.Contains(stdout, "total            308/308 passed") {
			t.Errorf("stdout lacks the 308/308 total:\n%s", stdout)
		}
		if stderr != "backend: embedded EQL engine\n" {
			t.Errorf("stderr = %q", stderr)
		}
	})

	t.Run("bad backend", func(t *testing.T) {
		_, stderr, code := runValidate(t, bin, "conformance", "--backend", "opensearch")
		if code != 2 || !strings.HasSuffix(stderr, "validate: conformance: --backend \"opensearch\": want elasticsearch or embedded\n") {
			t.Errorf("exit %d, stderr:\n%s", code, stderr)
		}
	})
}
