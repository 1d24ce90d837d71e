package fakemail

import (
	"bufio"
	"net"
	"strings"
	"testing"
)

// BenchmarkPOP3Session measures full POP3 sessions (connect, USER/PASS,
// RETR 1, QUIT) per second on loopback through everything a real client
// meets: the tap recording evidence, package pop3, and the store.
//
//	go test -run XXX -bench POP3Session -benchtime 2000x ./fakemail/
func BenchmarkPOP3Session(b *testing.B) {
	s := startTest(b, func(c *Config) { c.Services = []Service{POP3} })
	addr := s.Addr(POP3)
	dialogue := "USER c2\r\nPASS atomic-red\r\nRETR 1\r\nQUIT\r\n"
	b.ReportAllocs()
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
		// Read to the QUIT reply: greeting, USER, PASS, RETR + body, QUIT.
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				b.Fatalf("session %d: %v", i, err)
			}
			if strings.HasPrefix(line, "+OK bye") || strings.HasPrefix(line, "+OK") && strings.Contains(line, "signing off") {
				break
			}
		}
		c.Close()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}
