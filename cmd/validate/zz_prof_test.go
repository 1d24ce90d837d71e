package main

import (
	"context"
	"io"
	"os"
	"testing"
)

func TestZZProf(t *testing.T) {
	q, _ := os.ReadFile("/tmp/q.eql")
	if err := runQuery(context.Background(), []string{"--events", "/tmp/1m.ndjson", "--size", "0", "--compact", string(q)}, io.Discard, os.Stderr); err != nil {
		t.Fatal(err)
	}
}
