package eql

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
)

// The benchmark rule of issue 3 (the shipped rule with a shorter
// exclusion list and event.action).
const benchRule = `sequence by host.name, process.entity_id with maxspan=24h
  [network where event.action == "connection_attempted" and
   destination.port in (25, 465, 587, 110, 995, 143, 993) and
   not process.name in~ ("outlook.exe", "thunderbird.exe")] with runs=3`

const (
	benchHosts     = 100
	benchProcesses = 10000
)

var benchNames = []string{"curl", "python3", "nc", "Thunderbird.exe", "outlook.exe", "bash", "sshd", "chrome", "msmtp", "fetchmail"}
var otherPorts = []int{443, 80, 53, 22, 8080, 3306, 5432, 6379, 9200, 123}
var mailPorts = []int{25, 465, 587, 110, 995, 143, 993}

// benchGen yields n Elastic-Defend-shaped network events, one per
// millisecond: 100 hosts, 10,000 processes, ~15 % to mail ports. The
// nested objects of a process are shared between its events (as they are
// equal), the top-level object is fresh for each event.
type benchGen struct {
	procs []map[string]any
	hosts []map[string]any
	dests []map[string]any
	evts  []map[string]any
}

func newBenchGen() *benchGen {
	g := &benchGen{}
	for h := 0; h < benchHosts; h++ {
		g.hosts = append(g.hosts, map[string]any{"name": fmt.Sprintf("host-%03d", h), "os": map[string]any{"family": "linux", "type": "linux"}, "id": fmt.Sprintf("h%08x", h*7919)})
	}
	for p := 0; p < benchProcesses; p++ {
		name := benchNames[p%len(benchNames)]
		g.procs = append(g.procs, map[string]any{
			"entity_id":  fmt.Sprintf("ZmFrZS1lbnRpdHktaWQt%06d", p),
			"pid":        1000 + p,
			"name":       name,
			"executable": "/usr/bin/" + name,
		})
	}
	for i := 0; i < 100; i++ {
		port := otherPorts[i%len(otherPorts)]
		if i < 15 {
			port = mailPorts[i%len(mailPorts)]
		}
		g.dests = append(g.dests, map[string]any{"ip": fmt.Sprintf("10.1.%d.%d", i/10, i%10), "port": port})
	}
	for _, action := range []string{"connection_attempted", "connection_accepted", "disconnect_received"} {
		g.evts = append(g.evts, map[string]any{"category": []any{"network"}, "type": []any{"start"}, "action": action, "kind": "event", "module": "endpoint", "dataset": "endpoint.events.network"})
	}
	return g
}

var benchBase = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

func (g *benchGen) event(i int) ecs.Document {
	// a cheap deterministic scramble so that keys interleave
	x := uint64(i)*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019
	p := int(x>>20) % benchProcesses
	act := 0
	if (x>>40)%10 == 9 {
		act = 1 + int(x>>50)%2
	}
	return ecs.Document{
		"@timestamp":  benchBase.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000Z"),
		"event":       g.evts[act],
		"host":        g.hosts[p%benchHosts],
		"process":     g.procs[p],
		"destination": g.dests[int(x>>8)%len(g.dests)],
		"source":      map[string]any{"ip": "10.0.0.5", "port": 40000 + i%20000},
		"network":     map[string]any{"transport": "tcp", "direction": "egress"},
		"agent":       map[string]any{"type": "endpoint", "version": "8.15.0"},
	}
}

func (g *benchGen) stream(n int, sample func(i int)) iter.Seq2[ecs.Document, error] {
	return func(yield func(ecs.Document, error) bool) {
		for i := 0; i < n; i++ {
			if sample != nil {
				sample(i)
			}
			if !yield(g.event(i), nil) {
				return
			}
		}
	}
}

func benchEvents(n int) []ecs.Document {
	g := newBenchGen()
	out := make([]ecs.Document, n)
	for i := range out {
		out[i] = g.event(i)
	}
	return out
}

// BenchmarkMailRuleDecoded measures the engine alone on 1,000,000 decoded
// events (ecs.Document values already in memory), streamed in order.
func BenchmarkMailRuleDecoded(b *testing.B) {
	events := benchEvents(1_000_000)
	req := Request{Query: benchRule}
	runtime.GC()
	b.ResetTimer()
	var seqs int
	cpu0 := cpuTime()
	for b.Loop() {
		resp, err := Search(context.Background(), req, docs(events...), Sorted())
		if err != nil {
			b.Fatal(err)
		}
		seqs = resp.Hits.Total.Value
	}
	b.ReportMetric(float64(len(events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(events))*float64(b.N)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
	b.ReportMetric(float64(seqs), "sequences")
}

// cpuTime is the process's user+system CPU time. On a shared machine the
// wall clock measures the neighbours; events per CPU-second measures the
// engine (GC threads included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMailRuleNDJSON measures the end-to-end path from an NDJSON
// export: JSON decoding (encoding/json, numbers kept as json.Number) plus
// the engine. SetBytes makes "go test" report MB/s.
func BenchmarkMailRuleNDJSON(b *testing.B) {
	g := newBenchGen()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	const n = 1_000_000
	for i := 0; i < n; i++ {
		if err := enc.Encode(g.event(i)); err != nil {
			b.Fatal(err)
		}
	}
	data := buf.Bytes()
	req := Request{Query: benchRule}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		resp, err := Search(context.Background(), req, ndjson(data), Sorted())
		if err != nil {
			b.Fatal(err)
		}
		_ = resp
	}
	cpu := (cpuTime() - cpu0).Seconds()
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(data))*float64(b.N)/cpu/1e6, "MB/cpu-s")
}

// BenchmarkDecodeNDJSON is the JSON decoding alone, the bound of the
// end-to-end figure.
func BenchmarkDecodeNDJSON(b *testing.B) {
	g := newBenchGen()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := 0; i < 200_000; i++ {
		if err := enc.Encode(g.event(i)); err != nil {
			b.Fatal(err)
		}
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		for _, err := range ndjson(data) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(data))*float64(b.N)/(cpuTime()-cpu0).Seconds()/1e6, "MB/cpu-s")
}

func ndjson(data []byte) iter.Seq2[ecs.Document, error] {
	return func(yield func(ecs.Document, error) bool) {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			d, err := ecs.Decode(sc.Bytes())
			if !yield(d, err) || err != nil {
				return
			}
		}
	}
}

// BenchmarkMailRuleMemory streams generated events (never all in memory)
// and reports the peak live heap: it must stay flat as the stream grows
// tenfold, since memory is bounded by open sequences (one pending sequence
// per key and stage: 10,000 processes here, reached within the first
// million events) and the result window, not by stream length.
func BenchmarkMailRuleMemory(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			g := newBenchGen()
			req := Request{Query: benchRule}
			var peak uint64
			sample := func(i int) {
				if i%100_000 == 0 {
					runtime.GC()
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapAlloc)
				}
			}
			for b.Loop() {
				if _, err := Search(context.Background(), req, g.stream(n, sample), Sorted()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		})
	}
}
