package eql

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql/internal/synth"
)

// The stage benchmarks split what validate query does with unsorted NDJSON
// into its stages, so that a regression names the stage it is in:
//
//	scan    read the lines and project each event on the fields the search
//	        reads (ecs.ReadEventsParallel, ecs.Projection.Project: one
//	        Record per event), on every core
//	sort    order the documents by timestamp, tiebreaker, input order
//	match   the engine over the ordered documents (Sorted); in parts
//	        by join key on every core, as unsorted input is (MatchParts)
//	render  give the hits their whole event back and write the response
//
// BenchmarkQueryUnsorted is the four together, as the command runs them.
// The input is BenchmarkMailRuleNDJSON's churning stream (our rendered
// Defend events) with its lines shuffled; every benchmark checks its
// result (the sequence count comes from the generator, expectedSequences)
// before it reports a rate.

const stageEvents = 200_000

var stageInput = sync.OnceValues(func() ([]byte, error) {
	var tb testing.B
	lines := bytes.SplitAfter(newBenchStream(stageEvents, true).ndjson(&tb), []byte("\n"))
	lines = lines[:stageEvents]
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	return bytes.Join(lines, nil), nil
})

func stageSetup(b *testing.B) (data []byte, req Request, project func() func([]byte) (Fields, error)) {
	b.Helper()
	data, err := stageInput()
	if err != nil {
		b.Fatal(err)
	}
	req = benchRequest(stageEvents)
	q, err := Parse(req.Query)
	if err != nil {
		b.Fatal(err)
	}
	fields, ok := SearchFields(q, req, nil)
	if !ok {
		b.Fatal("no projection for the mail rule")
	}
	return data, req, func() func([]byte) (Fields, error) { return ecs.NewProjection(fields).Project }
}

func scanAll(b *testing.B, data []byte, project func() func([]byte) (Fields, error)) []Fields {
	b.Helper()
	out := make([]Fields, 0, stageEvents)
	for d, err := range ecs.ReadEventsParallel("bench.ndjson", bytes.NewReader(data), project, runtime.GOMAXPROCS(0)) {
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, d)
	}
	if len(out) != stageEvents {
		b.Fatalf("scanned %d events, want %d", len(out), stageEvents)
	}
	return out
}

func reportRates(b *testing.B, n int, cpu0 float64) {
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(n)*float64(b.N)/(cpuTime().Seconds()-cpu0), "events/cpu-s")
}

func BenchmarkStageScan(b *testing.B) {
	data, _, project := stageSetup(b)
	b.SetBytes(int64(len(data)))
	runtime.GC()
	b.ResetTimer()
	cpu0 := cpuTime().Seconds()
	for b.Loop() {
		ds := scanAll(b, data, project)
		if _, ok := ds[len(ds)-1].Lookup("process.entity_id"); !ok {
			b.Fatal("projected event without process.entity_id")
		}
	}
	reportRates(b, stageEvents, cpu0)
}

func BenchmarkStageSort(b *testing.B) {
	data, req, project := stageSetup(b)
	ds := scanAll(b, data, project)
	req = req.WithDefaults()
	runtime.GC()
	b.ResetTimer()
	cpu0 := cpuTime().Seconds()
	for b.Loop() {
		sorted := Sort(req, nil, ds)
		checkOrdered(b, sorted)
	}
	reportRates(b, stageEvents, cpu0)
}

// checkOrdered checks that the rendered timestamps (one layout, so their
// text orders as their time) never go back.
func checkOrdered(b *testing.B, ds []Fields) {
	b.Helper()
	if len(ds) != stageEvents {
		b.Fatalf("sorted %d events, want %d", len(ds), stageEvents)
	}
	prev := ""
	for i, d := range ds {
		v, _ := d.Lookup("@timestamp")
		ts, _ := v.(string)
		if ts == "" || ts < prev {
			b.Fatalf("event %d: @timestamp %q after %q", i, ts, prev)
		}
		prev = ts
	}
}

func BenchmarkStageMatch(b *testing.B) {
	data, req, project := stageSetup(b)
	ds := Sort(req.WithDefaults(), nil, scanAll(b, data, project))
	runtime.GC()
	b.ResetTimer()
	cpu0 := cpuTime().Seconds()
	for b.Loop() {
		resp, err := Search(context.Background(), req, sliceSeq(ds), Sorted())
		if err != nil {
			b.Fatal(err)
		}
		checkSequences(b, resp, stageEvents)
	}
	reportRates(b, stageEvents, cpu0)
}

// BenchmarkStageMatchParts is what the engine does with unsorted input
// once the readers have scanned and marked it (Wanted): hold the records,
// sort them and match them, in one matcher ("one") or parted by join key
// on every core ("parts", shard.go). The input is the synthetic stream of
// docs/performance.md (package synth, 300,000 events, a third of them
// held) under the tuned seed rule; both answers must be the same, with
// the tail window full.
func BenchmarkStageMatchParts(b *testing.B) {
	const n = 300_000
	var buf bytes.Buffer
	if err := synth.Write(&buf, n, 1); err != nil {
		b.Fatal(err)
	}
	req := Request{Query: `sequence by host.name, process.entity_id with maxspan=24h
		[network where event.action == "connection_attempted" and destination.port in (25, 465, 587, 110, 995, 143, 993) and
		 not process.name in~ ("thunderbird.exe")] with runs=3`}
	wanted, project := wantedProjection(b, req)
	var ds []Fields
	for d, err := range ecs.ReadEventsParallel("synth.ndjson", &buf, project, runtime.GOMAXPROCS(0)) {
		if err != nil {
			b.Fatal(err)
		}
		ds = append(ds, d)
	}
	var want []byte
	for _, c := range []struct {
		name   string
		shards int
	}{{"one", 1}, {"parts", maxShards}} {
		b.Run(c.name, func(b *testing.B) {
			defer func(n int) { maxShards = n }(maxShards)
			maxShards = c.shards
			runtime.GC()
			b.ResetTimer()
			cpu0 := cpuTime().Seconds()
			for b.Loop() {
				resp, err := Search(context.Background(), req, sliceSeq(ds), wanted.Marks())
				if err != nil {
					b.Fatal(err)
				}
				resp.Took = 0
				got, _ := json.Marshal(resp)
				if want == nil {
					if len(resp.Hits.Sequences) != DefaultSize {
						b.Fatalf("%d sequences, want a full window of %d", len(resp.Hits.Sequences), DefaultSize)
					}
					want = got
				} else if !bytes.Equal(got, want) {
					b.Fatalf("the answer differs from the first one's:\n%.300s\n%.300s", got, want)
				}
			}
			reportRates(b, n, cpu0)
		})
	}
}

// BenchmarkStageRender reports events/s of the input, like the others,
// though it renders only the hits (expectedSequences × 3 events).
func BenchmarkStageRender(b *testing.B) {
	data, req, project := stageSetup(b)
	ds := Sort(req.WithDefaults(), nil, scanAll(b, data, project))
	resp, err := Search(context.Background(), req, sliceSeq(ds), Sorted())
	if err != nil {
		b.Fatal(err)
	}
	checkSequences(b, resp, stageEvents)
	runtime.GC()
	b.ResetTimer()
	cpu0 := cpuTime().Seconds()
	for b.Loop() {
		out := renderResponse(b, resp)
		if got := bytes.Count(out, []byte(`"process":{`)); got != 3*expectedSequences(stageEvents) {
			b.Fatalf("rendered %d whole events, want %d", got, 3*expectedSequences(stageEvents))
		}
	}
	reportRates(b, stageEvents, cpu0)
}

// renderResponse writes resp as validate query does: each hit with its
// whole event, then the JSON.
func renderResponse(b *testing.B, resp *Response) []byte {
	b.Helper()
	out := *resp
	out.Hits.Sequences = make([]Sequence, len(resp.Hits.Sequences))
	for i, s := range resp.Hits.Sequences {
		s.Events = append([]Hit(nil), s.Events...)
		for j := range s.Events {
			s.Events[j].Source = ecs.FullSource(s.Events[j].Source)
		}
		out.Hits.Sequences[i] = s
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&out); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkQueryUnsorted is the stages together over the shuffled input,
// as validate query runs them: scan on every core, dropping what no filter
// matches (Wanted) and marking the filter that does, into the engine as a
// stream, which holds and sorts the rest, then the render.
func BenchmarkQueryUnsorted(b *testing.B) {
	data, req, _ := stageSetup(b)
	wanted, project := wantedProjection(b, req)
	b.SetBytes(int64(len(data)))
	runtime.GC()
	b.ResetTimer()
	cpu0 := cpuTime().Seconds()
	for b.Loop() {
		events := ecs.ReadEventsParallel("bench.ndjson", bytes.NewReader(data), project, runtime.GOMAXPROCS(0))
		resp, err := Search(context.Background(), req, events, wanted.Marks())
		if err != nil {
			b.Fatal(err)
		}
		checkSequences(b, resp, stageEvents)
		renderResponse(b, resp)
	}
	reportRates(b, stageEvents, cpu0)
}

// wantedProjection is what validate query's readers do with each line:
// project it on the fields req's search reads, dropping what no filter
// matches (Wanted) and marking the filter that does.
func wantedProjection(b *testing.B, req Request) (*Prefilter, func() func([]byte) (Fields, error)) {
	b.Helper()
	q, err := Parse(req.Query)
	if err != nil {
		b.Fatal(err)
	}
	fields, _ := SearchFields(q, req, nil)
	wanted, err := Wanted(req)
	if err != nil {
		b.Fatal(err)
	}
	return wanted, func() func([]byte) (Fields, error) {
		p, test := ecs.NewProjection(fields), wanted.Test()
		return func(raw []byte) (Fields, error) {
			f, ok, err := p.ProjectWanted(raw, test)
			if err == nil && !ok {
				return Dropped, nil
			}
			return f, err
		}
	}
}
