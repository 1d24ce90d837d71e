package eql

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
)

// TestSequenceNoHits: with size=0 (NoHits) no sequence is returned, so open
// sequences keep no event (runSequence's hold); the search still reads the
// whole stream and answers as with a window, minus the sequences: the same
// is_partial, no hits, total 0. Sorted and unsorted, with sequences that
// complete, expire (maxspan) and are cut by until.
func TestSequenceNoHits(t *testing.T) {
	base := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	var evs []ecs.Document
	for i := range 300 {
		ts := base.Add(time.Duration(i) * 7 * time.Second).Format(time.RFC3339)
		evs = append(evs, ev(i, ts, "k", fmt.Sprint(i%7), "a", fmt.Sprint(i%3)))
	}
	for _, q := range []string{
		`sequence by k with maxspan=2m [process where a == "0"] [process where a == "1"] [process where a == "2"]`,
		`sequence by k [process where a == "0"] with runs=2 [process where a == "1"] until [process where n == 100]`,
		`sequence by k with maxspan=5m [process where true] [process where a == "2"]`,
	} {
		for _, opts := range [][]Option{nil, {Sorted()}} {
			full, err := Search(context.Background(), Request{Query: q, Size: 1000}, docs(evs...), opts...)
			if err != nil {
				t.Fatal(err)
			}
			if len(full.Hits.Sequences) == 0 {
				t.Fatalf("%s: no sequence at all; the test needs some", q)
			}
			zero, err := Search(context.Background(), Request{Query: q, Size: NoHits}, docs(evs...), opts...)
			if err != nil {
				t.Fatalf("%s, size 0: %v", q, err)
			}
			if len(zero.Hits.Sequences) != 0 || zero.Hits.Total.Value != 0 || zero.IsPartial != full.IsPartial {
				t.Errorf("%s, size 0: %d sequences, total %d, partial %v (with a window: partial %v)",
					q, len(zero.Hits.Sequences), zero.Hits.Total.Value, zero.IsPartial, full.IsPartial)
			}
		}
	}
}

// TestSortedAfterDropped: with Sorted(), events the readers dropped
// (Dropped) are not ordered against the ones after them; the first event
// kept is compared with nothing, even when it is not the first event.
func TestSortedAfterDropped(t *testing.T) {
	stream := []Fields{Dropped, Dropped, ev(1, "2026-01-01T00:00:02Z"), Dropped, ev(2, "2026-01-01T00:00:03Z")}
	events := func(yield func(Fields, error) bool) {
		for _, f := range stream {
			if !yield(f, nil) {
				return
			}
		}
	}
	resp, err := Search(context.Background(), Request{Query: "process where true"}, events, Sorted())
	if err != nil {
		t.Fatal(err)
	}
	if got := selected(t, resp); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("selected %v, want [1 2]", got)
	}
	stream[4] = ev(3, "2026-01-01T00:00:01Z") // out of order after a kept one
	if _, err := Search(context.Background(), Request{Query: "process where true"}, events, Sorted()); err == nil {
		t.Error("an event out of order after a kept one: no error")
	}
}
