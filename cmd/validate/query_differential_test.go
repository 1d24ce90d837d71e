package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/rules"
)

// differentialQueries are the rule shapes of rules/ and the features the
// fast paths of validate query must keep: join keys, maxspan, runs, until,
// missing events, samples, pipes, case-insensitive and script
// predicates, a keyword compared with a number.
var differentialQueries = []string{
	`network where destination.port in (25, 587) and process.name : "curl"`,
	`sequence by host.name, process.entity_id with maxspan=30s [network where event.action == "connection_attempted"] [network where event.action == "disconnect_received"]`,
	`sequence by process.entity_id [process where event.action == "exec"] ![network where destination.port == 8080] [network where true]`,
	`sequence by host.name [network where destination.port == 25] [network where destination.port == 587] until [process where event.action == "fork"]`,
	`sequence by host.name with maxspan=1m [network where true] with runs=3`,
	`sequence with maxspan=10s [network where process.name == "nc"] [network where process.name == "curl"]`,
	`sequence by user.id [any where true] [network where destination.port > 100]`,
	`sample by host.name [network where destination.port == 25] [network where destination.port == 993]`,
	`any where user.id == "0"`,
	`network where user.id != 0 | tail 4`,
	`network where process.name like~ "py*" | head 3`,
	`process where event.type == "start"`,
	`network where length(process.name) > 3 and destination.port >= 100`,
	`any where event.category == "network" and not process.name in~ ("CURL", "thunderbird.exe")`,
}

// TestQueryDifferential: over randomly generated Defend-shaped streams
// (shuffled, with ties, flattened keys, escapes, arrays, numbers as
// strings, missing fields and timestamps), every fast path of validate
// query (projection into records, the readers' prefilter and its marks,
// records keeping only their values with --size 0, records spilled and
// read back, a tiebreaker, streaming with --sorted) answers exactly as the
// reference: every event decoded whole (PURPLEHARNESS_FULL_DECODE=1) and
// searched by eql.Search holding every event (eql.HoldAll). The queries
// are the rule shapes of rules/ and differentialQueries.
func TestQueryDifferential(t *testing.T) {
	queries := slices.Clone(differentialQueries)
	files, _ := filepath.Glob("../../rules/*.toml")
	for _, f := range files {
		rs, err := rules.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Skipped() == "" {
				queries = append(queries, r.Request().Query)
			}
		}
	}
	if len(queries) < len(differentialQueries)+3 {
		t.Fatalf("only %d queries: the rules of rules/ were not found", len(queries))
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dir := t.TempDir()
	compared, withHits := 0, 0
	for seed := range uint64(6) {
		events := differentialStream(rand.New(rand.NewPCG(seed, 7)), 300)
		unsorted := writeLines(t, filepath.Join(dir, fmt.Sprintf("s%d.ndjson", seed)), events)
		sorted := writeLines(t, filepath.Join(dir, fmt.Sprintf("s%d.sorted.ndjson", seed)), sortedByTimestamp(events))
		for _, q := range queries {
			for _, size := range []string{"10", "0"} {
				want := referenceAnswer(t, unsorted, q, size, "")
				if strings.Contains(want, `"_source"`) {
					withHits++
				}
				for _, mode := range [][]string{nil, {"--memory", "2KiB"}} {
					if got := differentialQuery(t, "", unsorted, q, size, mode...); got != want {
						t.Errorf("seed %d, size %s, %v: %s\nprojected: %.600s\nreference: %.600s", seed, size, mode, q, got, want)
					}
				}
				// ties broken by a tiebreaker (itself tied, or missing, at times)
				wantTB := referenceAnswer(t, unsorted, q, size, "event.sequence")
				if got := differentialQuery(t, "", unsorted, q, size, "--memory", "2KiB", "--tiebreaker-field", "event.sequence"); got != wantTB {
					t.Errorf("seed %d, size %s, tiebreaker: %s\nprojected: %.600s\nreference: %.600s", seed, size, q, got, wantTB)
				}
				if got, want := differentialQuery(t, "", sorted, q, size, "--sorted"), referenceAnswer(t, sorted, q, size, ""); got != want {
					t.Errorf("seed %d, size %s, --sorted: %s\nprojected: %.600s\nreference: %.600s", seed, size, q, got, want)
				}
				compared++
			}
		}
	}
	if withHits < compared/4 {
		t.Errorf("only %d of %d answers have hits: the streams do not exercise the queries", withHits, compared)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left in $TMPDIR: %v", left)
	}
	t.Logf("%d queries × streams × sizes compared in 5 modes, %d with hits", compared, withHits)
}

// referenceAnswer is the answer of validate query decoding every event
// whole, checked against eql.Search holding every event; tiebreaker names
// the tiebreaker field, if any.
func referenceAnswer(t *testing.T, file, query, size, tiebreaker string) string {
	t.Helper()
	var args []string
	if tiebreaker != "" {
		args = []string{"--tiebreaker-field", tiebreaker}
	}
	want := differentialQuery(t, "1", file, query, size, args...)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	req := eql.Request{Query: query, Size: -1, TiebreakerField: tiebreaker}
	if size != "0" {
		req.Size = 10
	}
	var docs []ecs.Document
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		d, err := ecs.Decode([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	resp, err := eql.Search(context.Background(), req, func(yield func(ecs.Document, error) bool) {
		for _, d := range docs {
			if !yield(d, nil) {
				return
			}
		}
	}, eql.HoldAll(), eql.WithIndex(indexName(file)))
	var ref string
	if err != nil {
		ref = "error"
	} else {
		resp.Took = 0
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(resp); err != nil {
			t.Fatal(err)
		}
		ref = b.String()
	}
	if got := want; !strings.HasPrefix(got, "error") && got != ref || strings.HasPrefix(got, "error") != (ref == "error") {
		t.Fatalf("%s (size %s): validate query decoding whole answers\n%.600s\neql.Search holding every event\n%.600s", query, size, got, ref)
	}
	return want
}

var tookField = regexp.MustCompile(`"took":\d+`)

// differentialQuery runs validate query, decoding whole when full is "1";
// an error is "error: " and its message.
func differentialQuery(t *testing.T, full, file, query, size string, args ...string) string {
	t.Helper()
	t.Setenv("PURPLEHARNESS_FULL_DECODE", full)
	var out, errb bytes.Buffer
	code := run(t.Context(), append(append([]string{"query", "--compact", "--size", size, "--events", file}, args...), query), &out, &errb)
	if code != exitOK {
		return "error: " + errb.String()
	}
	return tookField.ReplaceAllString(out.String(), `"took":0`)
}

// differentialStream makes n Defend-shaped events in random order.
func differentialStream(rng *rand.Rand, n int) []map[string]any {
	pick := func(xs ...any) any { return xs[rng.IntN(len(xs))] }
	var out []map[string]any
	for i := range n {
		e := map[string]any{}
		if rng.IntN(50) > 0 {
			ms := rng.IntN(120_000)
			if rng.IntN(10) == 0 && i > 0 {
				if prev, ok := out[i-1]["@timestamp"].(string); ok {
					e["@timestamp"] = prev // a tie, broken by input order
				}
			}
			if e["@timestamp"] == nil {
				e["@timestamp"] = fmt.Sprintf("2026-12-07T10:%02d:%02d.%03dZ", ms/60_000, ms/1000%60, ms%1000)
			}
		}
		cat := pick("network", "network", "process")
		e["event"] = map[string]any{
			"category": pick(cat, []any{cat}, []any{"process", "network"}),
			"action":   pick("connection_attempted", "disconnect_received", "exec", "fork"),
			"type":     []any{pick("start", "end")},
		}
		if rng.IntN(20) > 0 {
			e["event"].(map[string]any)["sequence"] = rng.IntN(40)
		}
		e["host"] = map[string]any{"name": pick("host-0", "host-1", "host-2")}
		proc := map[string]any{
			"entity_id": pick("e0", "e1", "e2", "e3", "e4"),
			"name":      pick("curl", "CURL", "nc", "python3", "thunderbird.exe", "n\"c", "a&b"),
			"pid":       rng.IntN(5000),
		}
		if rng.IntN(4) == 0 {
			proc["parent"] = map[string]any{"entity_id": pick("p0", "p1")}
			proc["executable"] = pick("/usr/bin/curl", "/bin/nc")
		}
		e["process"] = proc
		if rng.IntN(6) > 0 {
			e["destination"] = map[string]any{"port": pick(25, 587, 110, 993, 8080, "25", 465)}
		}
		if rng.IntN(3) > 0 {
			e["user"] = map[string]any{"id": pick(0, "0", 1000, []any{0, 1000})}
		}
		if rng.IntN(15) == 0 { // a flattened key: the event keeps its shape
			e["process.name"] = pick("nc", "curl")
			delete(proc, "name")
		}
		if rng.IntN(30) == 0 {
			e["destination"] = nil
		}
		out = append(out, e)
	}
	return out
}

// sortedByTimestamp is events in the order --sorted requires: by
// timestamp, ties in input order, those without one last.
func sortedByTimestamp(events []map[string]any) []map[string]any {
	out := slices.Clone(events)
	slices.SortStableFunc(out, func(a, b map[string]any) int {
		as, aok := a["@timestamp"].(string)
		bs, bok := b["@timestamp"].(string)
		if aok != bok {
			if aok {
				return -1
			}
			return 1
		}
		return cmp.Compare(as, bs)
	})
	return out
}

// writeLines writes events as NDJSON and returns the file.
func writeLines(t *testing.T, file string, events []map[string]any) string {
	t.Helper()
	var b bytes.Buffer
	for i, e := range events {
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 { // an escape where none is needed
			line = bytes.ReplaceAll(line, []byte(`"python3"`), []byte(`"pyth\u006fn3"`))
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}
