package fakemail

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzRecorder feeds arbitrary client and server streams to the evidence
// parser of each protocol. Invariants: no panic, memory bounded by the
// limits, redacted commands stay redacted, every session finishes.
func FuzzRecorder(f *testing.F) {
	f.Add(uint8(0), []byte("EHLO x\r\nAUTH PLAIN AGMyAGF0b21pYy1yZWQ=\r\nDATA\r\n.\r\n"), []byte("220 hi\r\n250 ok\r\n235 ok\r\n354 go\r\n"))
	f.Add(uint8(1), []byte("USER c2\r\nPASS atomic-red\r\nRETR 1\r\n"), []byte("+OK\r\n+OK\r\n+OK\r\n+OK 3\r\nabc\r\n.\r\n"))
	f.Add(uint8(2), []byte("a LOGIN c2 {10}\r\natomic-red\r\nb APPEND INBOX {3+}\r\nabc\r\n"), []byte("* OK\r\n+ go\r\na OK\r\n* 1 FETCH (BODY[] {3}\r\nabc)\r\n"))
	f.Add(uint8(0), []byte("BDAT 5 LAST\r\nhello"), []byte("220 hi\r\n"))
	f.Fuzz(func(t *testing.T, proto uint8, client, server []byte) {
		svc := []Service{SMTP, POP3, IMAP}[int(proto)%3]
		limits := DefaultLimits
		limits.MaxLineLength = 256
		r := newRecorder(1, svc, Endpoint{}, Endpoint{}, limits)
		// Interleave the streams in chunks, as a connection would.
		for len(client) > 0 || len(server) > 0 {
			n := min(len(server), 7)
			r.server(server[:n])
			server = server[n:]
			n = min(len(client), 11)
			r.client(client[:n])
			client = client[n:]
			if len(r.queue) > maxQueued || len(r.cline) > limits.MaxLineLength+1024 || len(r.sline) > 64<<10+1024 {
				t.Fatalf("unbounded buffers: queue %d cline %d sline %d", len(r.queue), len(r.cline), len(r.sline))
			}
		}
		s := r.finish()
		if s.Ended == "" {
			t.Fatal("finished session without an end reason")
		}
		if len(s.Commands) > maxCommands {
			t.Fatalf("%d commands recorded, cap %d", len(s.Commands), maxCommands)
		}
		for _, c := range s.Commands {
			if len(c.Line) > maxLineRecord+3 {
				t.Fatalf("recorded line of %d bytes", len(c.Line))
			}
			if svc == POP3 && c.Verb == "PASS" && c.Line != "PASS "+redacted {
				t.Fatalf("PASS not redacted: %q", c.Line)
			}
			if (c.Verb == "AUTH" || c.Verb == "AUTHENTICATE") && strings.Count(c.Line, " ") > 2 && !strings.HasSuffix(c.Line, redacted) {
				t.Fatalf("AUTH initial response not redacted: %q", c.Line)
			}
		}
		for _, m := range s.Messages {
			if len(m.Head) > HeadBytes || len(m.SHA256) != 64 {
				t.Fatalf("bad message evidence %+v", m)
			}
		}
	})
}

// FuzzServers sends arbitrary bytes to every plaintext server (and the
// implicit-TLS ones, which see a broken handshake) and checks that each
// connection is recorded and that the servers still greet afterwards.
func FuzzServers(f *testing.F) {
	s := startTest(f, func(c *Config) {
		c.Limits = Limits{IdleTimeout: 200 * time.Millisecond, MaxLineLength: 512}
	})
	f.Add([]byte("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c2@purpleharness.test>\r\nDATA\r\nhi\r\n.\r\n"))
	f.Add([]byte("USER c2\r\nPASS atomic-red\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n"))
	f.Add([]byte("a LOGIN c2 atomic-red\r\nb SELECT INBOX\r\nc FETCH 1:* (BODY[] ENVELOPE BODYSTRUCTURE)\r\nd SEARCH OR TEXT x NOT SEEN\r\n"))
	f.Add([]byte("a APPEND INBOX {5}\r\nhello\r\n"))
	f.Add([]byte("\x00\xff\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		before := len(s.Evidence())
		var wg sync.WaitGroup
		for _, svc := range Services {
			c, err := net.Dial("tcp", s.Addr(svc))
			if err != nil {
				t.Fatalf("dial %s: %v", svc, err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				// Drain until the server closes or goes idle (200ms).
				c.SetDeadline(time.Now().Add(time.Second))
				c.Write(data)
				io.Copy(io.Discard, c)
			}()
		}
		wg.Wait()
		if got := len(waitSessions(t, s, before+len(Services))); got < before+len(Services) {
			t.Fatalf("%d sessions recorded, want %d", got-before, len(Services))
		}
		// Still alive: a fresh client gets a greeting.
		c, err := net.Dial("tcp", s.Addr(SMTP))
		if err != nil {
			t.Fatalf("server gone: %v", err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "220 ") {
			t.Fatalf("no greeting after fuzz input: %q %v", line, err)
		}
	})
}
