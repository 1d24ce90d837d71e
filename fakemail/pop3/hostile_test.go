package pop3

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// lastClose waits for the n-th session end and returns it.
func lastClose(t *testing.T, ts *testServer, n int) Event {
	t.Helper()
	waitFor(t, func() bool { return len(ts.backend.eventsOf(EventClose)) >= n })
	ev := ts.backend.eventsOf(EventClose)
	return ev[n-1]
}

func TestHostileLongLine(t *testing.T) {
	tests := []struct {
		name, send string
	}{
		{"long command line", "USER " + strings.Repeat("A", 200) + "\r\n"},
		{"endless line without newline", strings.Repeat("B", 64<<10)},
		{"long AUTH continuation", "AUTH PLAIN\r\n" + strings.Repeat("QUFB", 100) + "\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, func(s *Server) { s.MaxLineLength = 128 })
			c, _ := dial(t, ts.addr)
			go c.conn.Write([]byte(tt.send)) // may block once the server stops reading
			got := c.line()
			if got == "+ " {
				got = c.line()
			}
			if got != "-ERR line too long" {
				t.Fatalf("reply = %q, want -ERR line too long", got)
			}
			if got := c.line(); got != "<EOF>" {
				t.Fatalf("after the long line got %q, want the connection closed", got)
			}
			if r := lastClose(t, ts, 1).Reason; r != CloseLineTooLong {
				t.Errorf("close reason = %q, want %q", r, CloseLineTooLong)
			}
		})
	}
	t.Run("line of exactly the limit is accepted", func(t *testing.T) {
		ts := startServer(t, func(s *Server) { s.MaxLineLength = 128 })
		c, _ := dial(t, ts.addr)
		line := "NOOP " + strings.Repeat("x", 128-len("NOOP ")-2)
		if got := c.cmd(line); got != "-ERR command not valid before login" {
			t.Errorf("%d-octet line: got %q", len(line)+2, got)
		}
	})
}

// TestHostileGarbage sends random binary lines: each gets -ERR and the
// session stays usable.
func TestHostileGarbage(t *testing.T) {
	ts := startServer(t, nil)
	c, _ := dial(t, ts.addr)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		b := make([]byte, rng.IntN(300))
		for j := range b {
			b[j] = byte(rng.IntN(256))
			if b[j] == '\n' {
				b[j] = 'x'
			}
		}
		c.send(string(b) + "\r\n")
		got := c.line()
		if !strings.HasPrefix(got, "-ERR ") {
			t.Fatalf("garbage line %d %q: reply %q, want -ERR", i, b, got)
		}
	}
	c.cmd("USER c2")
	if got := c.cmd("PASS atomic-red"); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("login after garbage = %q", got)
	}
}

// TestHostileSlowloris dribbles a command a byte at a time: the line must
// arrive within IdleTimeout as a whole, so the server hangs up silently
// (RFC 1939 section 3 autologout) long before the dribble ends.
func TestHostileSlowloris(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.IdleTimeout = 300 * time.Millisecond })
	c, _ := dial(t, ts.addr)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for i := 0; i < 100; i++ { // 100 bytes, 50ms apart: 5s in all
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := c.conn.Write([]byte("U")); err != nil {
				return
			}
		}
	}()
	// The server closes without a reply. The dribble goes on after that,
	// so once the server's lingering drain ends, the kernel answers the
	// next byte with a reset: a slow test goroutine may see ECONNRESET
	// instead of EOF. Either way no reply may arrive.
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := c.r.ReadString('\n')
	if l != "" || !(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		t.Fatalf("read %q, %v; want the connection closed without a reply", l, err)
	}
	if r := lastClose(t, ts, 1).Reason; r != CloseIdle {
		t.Errorf("close reason = %q, want %q", r, CloseIdle)
	}
}

// TestHostileSlowReader asks for a large message and never reads it: the
// write deadline must end the session instead of pinning it forever.
func TestHostileSlowReader(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.IdleTimeout = 300 * time.Millisecond })
	ts.backend.mu.Lock()
	ts.backend.boxes["empty"] = []memMessage{{"big", "Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", 2<<20)}}
	ts.backend.mu.Unlock()
	c, _ := dial(t, ts.addr)
	c.send("USER empty\r\nPASS nothing\r\nRETR 1\r\n")
	if r := lastClose(t, ts, 1).Reason; r != CloseIdle {
		t.Errorf("close reason = %q, want %q", r, CloseIdle)
	}
}

// TestHostileBruteForce tries passwords over several connections: each
// connection is cut after MaxAuthFailures, and its attempts stop there.
func TestHostileBruteForce(t *testing.T) {
	ts := startServer(t, nil)
	for conn := 1; conn <= 3; conn++ {
		c, _ := dial(t, ts.addr)
		var replies, attempts []string
		for i := range 10 {
			if i%2 == 0 {
				attempts = append(attempts, "USER c2\r\nPASS guess"+string(rune('a'+i))+"\r\n")
			} else {
				attempts = append(attempts, "AUTH PLAIN AGMyAHdyb25n\r\n")
			}
		}
		c.send(strings.Join(attempts, ""))
		for r := c.line(); r != "<EOF>"; r = c.line() {
			replies = append(replies, r)
		}
		want := []string{
			"+OK send PASS", "-ERR [AUTH] invalid credentials",
			"-ERR [AUTH] invalid credentials",
			"+OK send PASS", "-ERR [AUTH] invalid credentials; too many failures, closing",
		}
		if strings.Join(replies, "\n") != strings.Join(want, "\n") {
			t.Fatalf("connection %d replies:\ngot  %q\nwant %q", conn, replies, want)
		}
		if r := lastClose(t, ts, conn).Reason; r != CloseAuthFailures {
			t.Errorf("connection %d close reason = %q, want %q", conn, r, CloseAuthFailures)
		}
	}
	if n := len(ts.backend.eventsOf(EventLogin)); n != 9 {
		t.Errorf("login attempts reaching the backend = %d, want 9 (3 per connection)", n)
	}
}

func TestHostileMaxConnections(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.MaxConnections = 2 })
	a, g1 := dial(t, ts.addr)
	_, g2 := dial(t, ts.addr)
	if !strings.HasPrefix(g1, "+OK") || !strings.HasPrefix(g2, "+OK") {
		t.Fatalf("greetings %q, %q", g1, g2)
	}
	c, g3 := dial(t, ts.addr)
	if want := "-ERR [SYS/TEMP] too many connections, try again later"; g3 != want {
		t.Fatalf("third greeting = %q, want %q", g3, want)
	}
	if got := c.line(); got != "<EOF>" {
		t.Fatalf("refused connection: got %q, want closed", got)
	}
	if r := lastClose(t, ts, 1).Reason; r != CloseTooManyConns {
		t.Errorf("close reason = %q, want %q", r, CloseTooManyConns)
	}
	a.cmd("QUIT")
	waitFor(t, func() bool { return len(ts.backend.eventsOf(EventClose)) == 2 })
	if _, g := dial(t, ts.addr); !strings.HasPrefix(g, "+OK") {
		t.Errorf("greeting after a slot freed = %q", g)
	}
}

// TestHostilePanicInOpen panics in Mailbox.Open: the client gets -ERR, the
// maildrop is released, the log names the panic and the server goes on.
func TestHostilePanicInOpen(t *testing.T) {
	ts := startServer(t, nil)
	c, _ := dial(t, ts.addr)
	c.cmd("USER bomb")
	c.cmd("PASS x")
	if got, want := c.cmd("RETR 1"), "-ERR [SYS/TEMP] internal server error"; got != want {
		t.Fatalf("RETR of a panicking message = %q, want %q", got, want)
	}
	if got := c.line(); got != "<EOF>" {
		t.Fatalf("after the panic got %q, want closed", got)
	}
	if r := lastClose(t, ts, 1).Reason; r != CloseInternalError {
		t.Errorf("close reason = %q, want %q", r, CloseInternalError)
	}
	if !strings.Contains(ts.logs.String(), "panic in Mailbox.Open: memMailbox: Open panics on purpose") {
		t.Errorf("log lacks the panic:\n%s", ts.logs.String())
	}
	d, _ := dial(t, ts.addr)
	d.cmd("USER bomb")
	if got := d.cmd("PASS x"); !strings.HasPrefix(got, "+OK") {
		t.Errorf("login after the panic = %q (maildrop not released?)", got)
	}
}

// TestShutdown ends an idle logged-in session with a reply, keeps its DELE
// uncommitted, and refuses new connections.
func TestShutdown(t *testing.T) {
	for _, implicitTLS := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "pop3s"}[implicitTLS]
		t.Run(name, func(t *testing.T) {
			ts := startServer(t, nil)
			var c *client
			if implicitTLS {
				conn, err := tls.Dial("tcp", ts.tlsAddr, &tls.Config{InsecureSkipVerify: true})
				if err != nil {
					t.Fatalf("dial POP3S: %v", err)
				}
				t.Cleanup(func() { conn.Close() })
				c = &client{t: t, conn: conn, r: bufio.NewReader(conn)}
				c.line()
			} else {
				c, _ = dial(t, ts.addr)
			}
			c.cmd("USER c2")
			c.cmd("PASS atomic-red")
			c.cmd("DELE 1")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := ts.srv.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown = %v", err)
			}
			if got := c.lines(2); got[0] != "-ERR [SYS/TEMP] server shutting down" || got[1] != "<EOF>" {
				t.Errorf("idle session got %q, want the shutdown -ERR and EOF", got)
			}
			if r := lastClose(t, ts, 1).Reason; r != CloseShutdown {
				t.Errorf("close reason = %q, want %q", r, CloseShutdown)
			}
			if got := ts.backend.uids("c2"); len(got) != 2 {
				t.Errorf("maildrop after shutdown = %q, want both messages (no UPDATE)", got)
			}
			for _, addr := range []string{ts.addr, ts.tlsAddr} {
				if conn, err := net.Dial("tcp", addr); err == nil {
					conn.Close()
					t.Errorf("dial %s after Shutdown succeeded", addr)
				}
			}
		})
	}
}

// TestShutdownDeadline: a session stuck in the backend outlives Shutdown's
// context; Shutdown then cancels the session context, closes the
// connection and reports the deadline.
func TestShutdownDeadline(t *testing.T) {
	ts := startServer(t, nil)
	c, _ := dial(t, ts.addr)
	c.send("USER slow\r\nPASS x\r\n")
	waitFor(t, func() bool { return len(ts.backend.eventsOf(EventCommand)) >= 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want context.DeadlineExceeded", err)
	}
	for r := c.line(); r != "<EOF>"; r = c.line() {
	}
	if n := len(ts.backend.eventsOf(EventClose)); n != 1 {
		t.Errorf("%d sessions ended, want 1", n)
	}
}

// TestCloseIdempotent: Close and Shutdown may be called more than once and
// on a server that never served.
func TestCloseIdempotent(t *testing.T) {
	var s Server
	if err := s.Close(); err != nil {
		t.Errorf("Close on a fresh server = %v", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after Close = %v", err)
	}
	s.Backend = newMemBackend()
	if err := s.ListenAndServe("127.0.0.1:0"); !errors.Is(err, ErrServerClosed) {
		t.Errorf("ListenAndServe after Close = %v, want ErrServerClosed", err)
	}
}

// panickyObserver is a backend whose Observer panics on every event.
type panickyObserver struct{ *memBackend }

func (panickyObserver) Observe(context.Context, Event) { panic("observer panics on purpose") }

// TestHostilePanicInObserver: a broken observer is logged and dropped; the
// session itself goes on.
func TestHostilePanicInObserver(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.Backend = panickyObserver{newMemBackend()} })
	c, greeting := dial(t, ts.addr)
	if !strings.HasPrefix(greeting, "+OK") {
		t.Fatalf("greeting = %q", greeting)
	}
	c.cmd("USER c2")
	if got := c.cmd("PASS atomic-red"); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("login = %q", got)
	}
	if got := c.cmd("STAT"); got != "+OK 2 165" {
		t.Fatalf("STAT = %q", got)
	}
	if n := strings.Count(ts.logs.String(), "panic in Observer.Observe: observer panics on purpose"); n != 1 {
		t.Errorf("observer panic logged %d times, want once:\n%s", n, ts.logs.String())
	}
}

// sessionGoroutines counts goroutines running this package's sessions.
func sessionGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "pop3.(*Server).runSession")
}

// TestShutdownUnderLoad shuts the server down while clients keep
// connecting and running sessions: Shutdown returns, every session ends
// and no session goroutine is left behind.
func TestShutdownUnderLoad(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.Backend = staticBackend{} })
	stop := make(chan struct{})
	done := make(chan struct{})
	var completed atomic.Int64
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if benchSession(ts.addr, nil) == nil { // errors expected once shutdown starts
					completed.Add(1)
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	close(stop)
	for range 8 {
		<-done
	}
	waitFor(t, func() bool { return sessionGoroutines() == 0 })
	if completed.Load() == 0 {
		t.Errorf("no session completed before the shutdown: the test proves nothing")
	}
}

// TestHostileTLSGarbage speaks clear text to the POP3S port and garbage
// after STLS: both end the session as a failed handshake, and the server
// goes on serving.
func TestHostileTLSGarbage(t *testing.T) {
	ts := startServer(t, nil)
	tests := []struct {
		name, addr string
		stls       bool
	}{
		{"clear text on the POP3S port", ts.tlsAddr, false},
		{"garbage after STLS", ts.addr, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			c := &client{t: t, conn: conn, r: bufio.NewReader(conn)}
			if tt.stls {
				c.line()
				if got := c.cmd("STLS"); got != "+OK begin TLS negotiation" {
					t.Fatalf("STLS = %q", got)
				}
			}
			c.send("USER c2\r\nPASS atomic-red\r\n" + strings.Repeat("\x16\x03\x01garbage", 100))
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			rest, _ := io.ReadAll(c.r) // a TLS alert record, then EOF
			if strings.Contains(string(rest), "+OK") {
				t.Errorf("server answered a POP3 command outside TLS: %q", rest)
			}
			if r := lastClose(t, ts, i+1).Reason; r != CloseTLSFailed {
				t.Errorf("close reason = %q, want %q", r, CloseTLSFailed)
			}
		})
	}
	if _, g := dial(t, ts.addr); !strings.HasPrefix(g, "+OK") {
		t.Errorf("greeting after the bad handshakes = %q", g)
	}
}

// TestBackendReadErrors: an Open error is a -ERR and the session goes on; a
// reader failing after "+OK" went out can only be reported by closing the
// connection before the terminating ".", so the client knows the message
// is incomplete.
func TestBackendReadErrors(t *testing.T) {
	ts := startServer(t, nil)
	c, _ := dial(t, ts.addr)
	c.cmd("USER flaky")
	c.cmd("PASS x")
	if got, want := c.cmd("RETR 1"), "-ERR [SYS/TEMP] cannot read message"; got != want {
		t.Fatalf("RETR of an unreadable message = %q, want %q", got, want)
	}
	if got := c.cmd("NOOP"); got != "+OK" {
		t.Fatalf("NOOP after the failed RETR = %q", got)
	}
	if got, want := c.cmd("RETR 2"), "+OK 35 octets"; got != want {
		t.Fatalf("RETR 2 = %q, want %q", got, want)
	}
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(c.r)
	if err != nil || string(rest) != "Subject: torn\r\n\r\npartial" {
		t.Errorf("after the torn message's +OK: %q, %v; want the part read, then EOF without the final \".\"", rest, err)
	}
	if r := lastClose(t, ts, 1).Reason; r != CloseInternalError {
		t.Errorf("close reason = %q, want %q", r, CloseInternalError)
	}
	if !strings.Contains(ts.logs.String(), "memMailbox: disk on fire") {
		t.Errorf("log lacks the read error:\n%s", ts.logs.String())
	}
}

// TestServeMisconfigured: a server missing what a mode needs says so
// instead of serving.
func TestServeMisconfigured(t *testing.T) {
	listen := func(t *testing.T) net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	tests := []struct {
		name  string
		serve func(t *testing.T) error
		want  string
	}{
		{"no backend", func(t *testing.T) error { return (&Server{}).Serve(listen(t)) }, "pop3: Server.Backend is nil"},
		{"ServeTLS without TLSConfig", func(t *testing.T) error {
			return (&Server{Backend: newMemBackend()}).ServeTLS(listen(t))
		}, "pop3: ServeTLS needs Server.TLSConfig"},
		{"ListenAndServeTLS without TLSConfig", func(t *testing.T) error {
			return (&Server{Backend: newMemBackend()}).ListenAndServeTLS("127.0.0.1:0")
		}, "pop3: ListenAndServeTLS needs Server.TLSConfig"},
		{"address in use", func(t *testing.T) error {
			return (&Server{Backend: newMemBackend()}).ListenAndServe(listen(t).Addr().String())
		}, "address already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.serve(t); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
