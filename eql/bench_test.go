package eql

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
)

// The engine benchmarks run the mail C2 rule over Elastic Defend network
// events that our own renderer produced (ecs.Renderer, the endpoint
// profile), written as NDJSON and decoded back with ecs.Decode: every event
// has its own objects, as documents read from an export or a sensor do.
//
// Two key patterns: "fixed", a set of processes alive for the whole stream
// (their events interleaved), and "churn", a new process every 100 events
// (a shell loop that runs nc or curl once per poll, as in our findings).
// Either way every process makes 100 connection attempts, of which exactly
// three, two or none go to a mail port, so the number of sequences the rule
// must find is known from the input alone (expectedSequences), and every
// benchmark checks it before it reports a rate.

// benchRule is the tuned rule's shape on the published rule's join keys.
const benchRule = `sequence by host.name, process.entity_id with maxspan=24h
  [network where event.action == "connection_attempted" and
   destination.port in (25, 465, 587, 110, 995, 143, 993) and
   not process.name in~ ("outlook.exe", "thunderbird.exe")] with runs=3`

// eventsPerProcess is how many connection attempts each process makes.
const eventsPerProcess = 100

// A process's class (its number modulo 10) says what it does:
//
//	0-5  a C2 loop: three attempts to a mail port (one sequence each)
//	6    two attempts to a mail port (too few: no sequence)
//	7    Thunderbird.EXE with three attempts (excluded by the rule)
//	8-9  no mail traffic
//
// mailSlots are the positions, among a process's 100 attempts, that go to
// a mail port.
var mailSlots = map[int]bool{7: true, 33: true, 61: true}

func procClass(p int) int { return p % 10 }

func isMailAttempt(p, j int) bool {
	switch c := procClass(p); {
	case c <= 5 || c == 7:
		return mailSlots[j]
	case c == 6:
		return j == 7 || j == 33
	}
	return false
}

// expectedSequences is what the rule must return over n events: one
// sequence per C2-loop process (classes 0-5), counted from the generator's
// design, not from the engine.
func expectedSequences(n int) int {
	procs := n / eventsPerProcess
	want := 0
	for p := 0; p < procs; p++ {
		if procClass(p) <= 5 {
			want++
		}
	}
	return want
}

var (
	benchBase     = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	benchNames    = []string{"/usr/bin/curl", "/usr/bin/nc.openbsd", "/usr/bin/python3.11", "/usr/bin/bash", "/usr/bin/msmtp", "/usr/bin/fetchmail"}
	benchMail     = []uint16{25, 465, 587, 110, 995, 143, 993}
	benchOther    = []uint16{443, 80, 53, 22, 8080, 3306, 5432, 6379, 9200, 123}
	benchHostsNum = 10
)

// benchStream yields the rendered events one at a time. churn selects the
// key pattern; with fixed keys, n/100 processes run from start to end.
type benchStream struct {
	n         int
	churn     bool
	renderers []ecs.Renderer
}

func newBenchStream(n int, churn bool) *benchStream {
	s := &benchStream{n: n, churn: churn}
	for h := 0; h < benchHostsNum; h++ {
		s.renderers = append(s.renderers, ecs.Renderer{
			Profile: ecs.Endpoint,
			Host:    ecs.Host{Name: fmt.Sprintf("host-%02d", h), ID: fmt.Sprintf("%032x", h*7919+1), IPs: []string{"10.0.0." + fmt.Sprint(h+2)}, Architecture: "x86_64", OSName: "Debian GNU/Linux", OSVersion: "12 (bookworm)", OSPlatform: "debian", OSFamily: "debian"},
			Agent:   ecs.Agent{ID: fmt.Sprintf("agent-%02d", h), Version: "8.15.0"},
		})
	}
	return s
}

// at returns event i's process number and the process's attempt number.
func (s *benchStream) at(i int) (p, j int) {
	if s.churn {
		return i / eventsPerProcess, i % eventsPerProcess
	}
	procs := s.n / eventsPerProcess
	return i % procs, i / procs
}

// connect is event i as the sensor would observe it.
func (s *benchStream) connect(i int) (ecs.Renderer, ecs.Connect) {
	p, j := s.at(i)
	exe := benchNames[p%len(benchNames)]
	if procClass(p) == 7 {
		exe = "/opt/thunderbird/Thunderbird.EXE"
	}
	t := benchBase.Add(time.Duration(i) * time.Millisecond)
	start := benchBase
	if s.churn {
		start = benchBase.Add(time.Duration(p*eventsPerProcess) * time.Millisecond)
	}
	port := benchOther[(i>>3)%len(benchOther)]
	if isMailAttempt(p, j) {
		port = benchMail[(p+j)%len(benchMail)]
	}
	c := ecs.Connect{
		Time:   t,
		Serial: uint64(i + 1),
		Process: ecs.Process{
			PID: 2000 + p, PPID: 1000 + p%50, Start: start,
			Executable: exe, Comm: exe[len(exe)-min(len(exe), 15):],
			Args: []string{exe, "10.1.0.9", fmt.Sprint(port)},
			UID:  1000, EUID: 1000, GID: 1000, EGID: 1000, User: "user", Group: "user",
			AUID: 1000, Session: 3,
		},
		Dest:      netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(p % 200), 9}), port),
		Source:    netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 2}), uint16(40000+i%20000)),
		Result:    "EINPROGRESS",
		Transport: ecs.TCP,
	}
	return s.renderers[(p/10)%benchHostsNum], c
}

// ndjson renders n events and returns them as NDJSON.
func (s *benchStream) ndjson(tb testing.TB) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := 0; i < s.n; i++ {
		r, c := s.connect(i)
		d, err := r.Connect(c)
		if err != nil {
			tb.Fatalf("render event %d: %v", i, err)
		}
		if err := enc.Encode(d); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}

// decodeAll decodes NDJSON into documents, each with its own objects.
func decodeAll(tb testing.TB, data []byte) []ecs.Document {
	var out []ecs.Document
	for d, err := range ndjson(data) {
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// benchRequest asks for every sequence: the default size (10) would cap
// the count the benchmarks check.
func benchRequest(n int) Request {
	return Request{Query: benchRule, Size: expectedSequences(n) + 1000}
}

func checkSequences(b *testing.B, resp *Response, n int) {
	b.Helper()
	if got, want := resp.Hits.Total.Value, expectedSequences(n); got != want || len(resp.Hits.Sequences) != want {
		b.Fatalf("%d sequences (%d in hits), want %d: the figure would measure a wrong answer", got, len(resp.Hits.Sequences), want)
	}
}

var keyPatterns = []struct {
	name  string
	churn bool
}{{"keys=fixed", false}, {"keys=churn", true}}

// BenchmarkMailRuleDecoded measures the engine alone: 200,000 decoded
// documents already in memory, streamed in order (Sorted).
func BenchmarkMailRuleDecoded(b *testing.B) {
	const n = 200_000
	for _, kp := range keyPatterns {
		b.Run(kp.name, func(b *testing.B) {
			events := decodeAll(b, newBenchStream(n, kp.churn).ndjson(b))
			req := benchRequest(n)
			runtime.GC()
			b.ResetTimer()
			cpu0 := cpuTime()
			for b.Loop() {
				resp, err := Search(context.Background(), req, docs(events...), Sorted())
				if err != nil {
					b.Fatal(err)
				}
				checkSequences(b, resp, n)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(n)*float64(b.N)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
		})
	}
}

// cpuTime is the process's user+system CPU time. On a shared machine the
// wall clock measures the neighbours too; events per CPU-second measures
// the work (GC threads included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMailRuleNDJSON measures end to end from an NDJSON export of our
// rendered events: ecs.Decode per line, then the engine. SetBytes makes go
// test report MB/s.
func BenchmarkMailRuleNDJSON(b *testing.B) {
	const n = 200_000
	for _, kp := range keyPatterns {
		b.Run(kp.name, func(b *testing.B) {
			data := newBenchStream(n, kp.churn).ndjson(b)
			req := benchRequest(n)
			b.SetBytes(int64(len(data)))
			runtime.GC()
			b.ResetTimer()
			cpu0 := cpuTime()
			for b.Loop() {
				resp, err := Search(context.Background(), req, ndjson(data), Sorted())
				if err != nil {
					b.Fatal(err)
				}
				checkSequences(b, resp, n)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(n)*float64(b.N)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
			b.ReportMetric(float64(len(data))/float64(n), "bytes/event")
		})
	}
}

// BenchmarkDecodeNDJSON is the decoding alone, the part of the end-to-end
// figure that is not the engine. It checks it decoded every line.
func BenchmarkDecodeNDJSON(b *testing.B) {
	const n = 50_000
	data := newBenchStream(n, true).ndjson(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		got := 0
		for _, err := range ndjson(data) {
			if err != nil {
				b.Fatal(err)
			}
			got++
		}
		if got != n {
			b.Fatalf("decoded %d documents, want %d", got, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(n)*float64(b.N)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
}

// BenchmarkDecodeProjected is BenchmarkDecodeNDJSON through an
// ecs.Projection on the fields the mail rule's search reads, as validate
// query decodes.
func BenchmarkDecodeProjected(b *testing.B) {
	const n = 50_000
	data := newBenchStream(n, true).ndjson(b)
	req := benchRequest(n)
	q, err := Parse(req.Query)
	if err != nil {
		b.Fatal(err)
	}
	fields, _ := SearchFields(q, req, nil)
	decode := ecs.NewProjection(fields).Decode
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		got := 0
		for _, err := range ndjsonWith(data, decode) {
			if err != nil {
				b.Fatal(err)
			}
			got++
		}
		if got != n {
			b.Fatalf("decoded %d documents, want %d", got, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(n)*float64(b.N)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
}

func ndjson(data []byte) iter.Seq2[ecs.Document, error] { return ndjsonWith(data, ecs.Decode) }

func ndjsonWith(data []byte, decode func([]byte) (ecs.Document, error)) iter.Seq2[ecs.Document, error] {
	return func(yield func(ecs.Document, error) bool) {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			d, err := decode(sc.Bytes())
			if !yield(d, err) || err != nil {
				return
			}
		}
	}
}

// BenchmarkMailRuleMemory streams rendered, encoded and decoded events one
// at a time (never all in memory) and reports the peak live heap, sampled
// after a GC every 50,000 events. With fixed keys the open sequences are
// bounded by the processes; with churning keys every process that made one
// or two mail attempts leaves a pending sequence until maxspan (24h) expires,
// so the heap grows with the stream.
func BenchmarkMailRuleMemory(b *testing.B) {
	for _, kp := range keyPatterns {
		for _, n := range []int{250_000, 1_000_000} {
			b.Run(fmt.Sprintf("%s/events=%d", kp.name, n), func(b *testing.B) {
				s := newBenchStream(n, kp.churn)
				req := benchRequest(n)
				var peak uint64
				stream := func(yield func(ecs.Document, error) bool) {
					for i := 0; i < n; i++ {
						if i%50_000 == 0 {
							runtime.GC()
							var ms runtime.MemStats
							runtime.ReadMemStats(&ms)
							peak = max(peak, ms.HeapAlloc)
						}
						r, c := s.connect(i)
						d, err := r.Connect(c)
						if err == nil {
							var line []byte
							if line, err = json.Marshal(d); err == nil {
								d, err = ecs.Decode(line)
							}
						}
						if !yield(d, err) || err != nil {
							return
						}
					}
				}
				for b.Loop() {
					resp, err := Search(context.Background(), req, stream, Sorted())
					if err != nil {
						b.Fatal(err)
					}
					checkSequences(b, resp, n)
				}
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			})
		}
	}
}
