package fakemail

import (
	"bufio"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkPOP3SessionPipelined measures full POP3 sessions (connect,
// USER/PASS, RETR 1, QUIT) per second on loopback through everything a real
// client meets: the tap recording evidence, package pop3, and the store.
// The client writes the whole dialogue at once (RFC 2449 PIPELINING) and
// then reads the replies, one client at a time: it measures the server's
// work per session, not a lockstep client's round trips (those are
// pop3.BenchmarkSession's).
//
//	go test -run '^$' -bench POP3SessionPipelined -benchtime 2000x ./fakemail/
func BenchmarkPOP3SessionPipelined(b *testing.B) {
	s := startTest(b, func(c *Config) { c.Services = []Service{POP3} })
	addr := s.Addr(POP3)
	dialogue := "USER c2\r\nPASS atomic-red\r\nRETR 1\r\nQUIT\r\n"
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		r := bufio.NewReader(c)
		if _, err := c.Write([]byte(dialogue)); err != nil {
			b.Fatal(err)
		}
		// Replies: greeting, USER, PASS, RETR (then the message up to its
		// "." line), QUIT: five +OK status lines, no -ERR.
		oks, inBody := 0, false
		for oks < 5 {
			line, err := r.ReadString('\n')
			if err != nil {
				b.Fatalf("session %d: after %d +OK replies: %v", i, oks, err)
			}
			switch {
			case inBody:
				inBody = line != ".\r\n"
			case strings.HasPrefix(line, "+OK"):
				oks++
				inBody = oks == 4 // the RETR reply is followed by the message
			default:
				b.Fatalf("session %d: reply %q, want +OK", i, line)
			}
		}
		c.Close()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
	// Client and server share the process: CPU per session counts both,
	// and does not depend on the neighbours of a shared machine.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/session")
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
