package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/purpleharness/purpleharness/ecs"
)

// TestQueryEventInputs: the same events give the same answer from one
// NDJSON file, from two files (gzip and zstd) given separately or by a
// glob, and from Elasticsearch _search responses (one, or two scroll pages
// one after the other, pretty-printed as curl saves them).
func TestQueryEventInputs(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(recordedRun, "telemetry.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSpace(string(data)), "\n")
	half := len(lines) / 2
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := write("all.ndjson", data)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(strings.Join(lines[:half], "")))
	zw.Close()
	write("part1.ndjson.gz", gz.Bytes())
	var zs bytes.Buffer
	enc, _ := zstd.NewWriter(&zs)
	enc.Write([]byte(strings.Join(lines[half:], "")))
	enc.Close()
	write("part2.ndjson.zst", zs.Bytes())
	page := func(ls []string) []byte {
		var hits []map[string]json.RawMessage
		for i, l := range ls {
			hits = append(hits, map[string]json.RawMessage{"_index": json.RawMessage(`"logs-endpoint.events.network-default"`),
				"_id": json.RawMessage(fmt.Sprintf("%q", fmt.Sprint(i))), "_source": json.RawMessage(strings.TrimSpace(l))})
		}
		b, _ := json.MarshalIndent(map[string]any{"took": 3, "hits": map[string]any{"total": map[string]any{"value": len(ls)}, "hits": hits}}, "", "  ")
		return append(b, '\n')
	}
	oneDump := write("search.json", page(lines))
	twoPages := write("scroll.json", append(page(lines[:half]), page(lines[half:])...))

	total := func(args ...string) int {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(t.Context(), append([]string{"query", "--compact", "--size", "100000", `any where true`}, args...), &out, &errb)
		if code != exitOK {
			t.Fatalf("query %v: exit %d: %s", args, code, errb.String())
		}
		var resp struct {
			Hits struct{ Events []json.RawMessage }
		}
		if err := json.Unmarshal(out.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		return len(resp.Hits.Events)
	}
	want := total("--events", plain)
	for _, args := range [][]string{
		{"--events", filepath.Join(dir, "part1.ndjson.gz"), "--events", filepath.Join(dir, "part2.ndjson.zst")},
		{"--events", filepath.Join(dir, "part*.ndjson.*")},
		{"--events", oneDump},
		{"--events", twoPages},
	} {
		if got := total(args...); got != want || want == 0 {
			t.Errorf("%v: %d events, the plain file %d", args, got, want)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--events", filepath.Join(dir, "none*.ndjson")}, "no file matches"},
		{[]string{"--events", write("mixed.json", append(page(lines[:1]), []byte(lines[1])...))}, "response 2: not an Elasticsearch _search response"},
		{[]string{"--events", write("bad.gz", []byte("not gzip"))}, "bad.gz"},
	} {
		var out, errb bytes.Buffer
		code := run(t.Context(), append([]string{"query", `any where true`}, tc.args...), &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 saying %q", tc.args, code, errb.String(), tc.want)
		}
	}
}

// TestInputProgress: the progress line counts the events yielded and the
// file bytes read, and from them the share read and the time left; show
// prints it and clears it when stopped.
func TestInputProgress(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.ndjson")
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, `{"@timestamp":"2026-12-07T10:00:00Z","n":%d}`+"\n", i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	p := newInputProgress([]string{path})
	p.start = p.start.Add(-2 * time.Second)
	n := 0
	for _, err := range eventsWith([]string{path}, nil, func() func([]byte) (ecs.Document, error) { return ecs.Decode }, p) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 500 {
			// Half the events yielded; the reader may be ahead of them.
			if got := p.events.Load(); got != 500 {
				t.Errorf("%d events counted at the 500th", got)
			}
		}
	}
	if p.events.Load() != 1000 || p.read.Load() != int64(b.Len()) {
		t.Errorf("counted %d events, %d bytes; want 1000 and %d", p.events.Load(), p.read.Load(), b.Len())
	}
	line := p.line(p.start.Add(2 * time.Second))
	kb := b.Len() >> 10
	if want := fmt.Sprintf("validate query: 1000 events read, 500 events/s, 100%% of %d KB", kb); line != want {
		t.Errorf("line = %q, want %q", line, want)
	}
	p.read.Store(int64(b.Len() / 4))
	if line := p.line(p.start.Add(2 * time.Second)); !strings.HasSuffix(line, fmt.Sprintf(", 25%% of %d KB, about 6s left", kb)) {
		t.Errorf("a quarter read after 2 s: %q", line)
	}
	var out bytes.Buffer
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { p.show(&out, time.Millisecond, stop); close(done) }()
	time.Sleep(20 * time.Millisecond)
	close(stop)
	<-done
	if s := out.String(); !strings.Contains(s, "\r\033[Kvalidate query: 1000 events read") || !strings.HasSuffix(s, "\r\033[K") {
		t.Errorf("show wrote %q", s)
	}
}

// TestQuerySpill: unsorted input searched with a memory budget of a few
// events (so the held events go to disk in many runs and are merged back)
// gives the answer of the search that holds them all, for projected and
// fully decoded events alike, and leaves no file in $TMPDIR.
func TestQuerySpill(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(recordedRun, "telemetry.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSpace(string(data)), "\n")
	slices.Reverse(lines) // out of order: the search must sort
	events := filepath.Join(t.TempDir(), "reversed.ndjson")
	if err := os.WriteFile(events, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	took := regexp.MustCompile(`"took":\d+`)
	query := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(t.Context(), append([]string{"query", "--compact", "--size", "1000", "--events", events}, args...), &out, &errb)
		if code != exitOK {
			t.Fatalf("query %v: exit %d: %s", args, code, errb.String())
		}
		return took.ReplaceAllString(out.String(), `"took":0`)
	}
	for _, q := range []string{
		`sequence by process.entity_id [process where event.action == "exec"] [network where event.action == "connection_attempted"]`,
		`sequence by host.name with maxspan=1m [process where event.action == "fork"] with runs=2 until [network where event.action == "disconnect_received"]`,
		`network where event.action == "connection_attempted" | tail 5`,
	} {
		want := query(q)
		if !strings.Contains(want, `"_source"`) {
			t.Fatalf("%s: no hits to compare: %s", q, want)
		}
		for _, full := range []string{"", "1"} {
			t.Setenv("PURPLEHARNESS_FULL_DECODE", full)
			if got := query("--memory", "2KiB", q); got != want {
				t.Errorf("%s (full decode %q): spilled answer differs\n got: %.300s\nwant: %.300s", q, full, got, want)
			}
		}
		t.Setenv("PURPLEHARNESS_FULL_DECODE", "")
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left in $TMPDIR: %v", left)
	}
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"query", "--memory", "lots", "--events", events, "any where true"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), `invalid size "lots"`) {
		t.Errorf("--memory lots: exit %d, %q; want a usage error", code, errb.String())
	}
}
