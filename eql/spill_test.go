package eql

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/purpleharness/purpleharness/jsondoc"
)

// TestSpillManyLevels: with a budget of about one event and two runs per
// level, the held events go through many levels of merges; the answer is
// still the one of the search that holds every event, and the sequence
// count the mail stream was built to contain.
func TestSpillManyLevels(t *testing.T) {
	defer func(n int) { maxRunsPerLevel = n }(maxRunsPerLevel)
	maxRunsPerLevel = 2
	const n = 3_000
	docs := decodeAll(t, newBenchStream(n, true).ndjson(t))
	r := rand.New(rand.NewPCG(3, 4))
	r.Shuffle(len(docs), func(i, j int) { docs[i], docs[j] = docs[j], docs[i] })
	req := benchRequest(n)
	spill := Spill{Dir: t.TempDir(), Budget: 1, Encode: func(f Fields) ([]byte, error) { return json.Marshal(f) },
		Decode: func(raw []byte) (Fields, error) { return jsondoc.Decode(raw) }}
	answer := func(opts ...Option) []byte {
		t.Helper()
		resp, err := Search(context.Background(), req, sliceSeq(docs), opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(resp.Hits.Sequences), expectedSequences(n); got != want {
			t.Fatalf("%d sequences, want %d", got, want)
		}
		resp.Took = 0
		b, _ := json.Marshal(resp)
		return b
	}
	if ref, got := answer(HoldAll()), answer(WithSpill(spill)); !bytes.Equal(ref, got) {
		t.Errorf("spilled through many levels:\n%.300s\nholding every event:\n%.300s", got, ref)
	}
}
