package pop3

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// client is a minimal line-level POP3 client for the tests: it sends raw
// lines and returns raw reply lines so the tests see exactly what is on the
// wire.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// dial connects to addr and returns the client with the greeting read.
func dial(t testing.TB, addr string) (*client, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn, r: bufio.NewReader(conn)}
	return c, c.line()
}

// send writes raw bytes.
func (c *client) send(s string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

// line reads one reply line and checks its CRLF; at EOF it returns "<EOF>".
func (c *client) line() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := c.r.ReadString('\n')
	if errors.Is(err, io.EOF) && l == "" {
		return "<EOF>"
	}
	if err != nil {
		c.t.Fatalf("read reply: %v (partial %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("reply line %q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// lines reads n reply lines.
func (c *client) lines(n int) []string {
	c.t.Helper()
	out := make([]string, 0, n)
	for range n {
		out = append(out, c.line())
	}
	return out
}

// quit ends the session, if still open, and waits until the server has
// closed the connection, so the maildrop lock is released.
func (c *client) quit() {
	io.WriteString(c.conn, "QUIT\r\n")
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, c.r)
}

func (c *client) cmd(line string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.line()
}

// step is one client line and the exact reply lines it must produce.
type step struct {
	send string
	want []string
}

// login is the USER/PASS exchange for the seeded account.
var login = []step{
	{"USER c2", []string{"+OK send PASS"}},
	{"PASS atomic-red", []string{"+OK c2's maildrop has 2 messages (165 octets)"}},
}

func steps(groups ...[]step) []step {
	var out []step
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

func TestSessionDialogues(t *testing.T) {
	capaBefore := []string{"+OK capability list follows", "TOP", "UIDL", "RESP-CODES",
		"AUTH-RESP-CODE", "PIPELINING", "STLS", "USER", "SASL PLAIN", "IMPLEMENTATION purpleharness", "."}
	capaAfter := []string{"+OK capability list follows", "TOP", "UIDL", "RESP-CODES",
		"AUTH-RESP-CODE", "PIPELINING", "IMPLEMENTATION purpleharness", "."}
	retr1 := []string{"+OK 114 octets", "From: operator@purpleharness.test", "To: c2@purpleharness.test",
		"Subject: tasking", "", "whoami", "..hidden line", "hostname", "."}
	eof := []string{"<EOF>"}

	tests := []struct {
		name  string
		steps []step
	}{
		{"capa before login", []step{{"CAPA", capaBefore}}},
		{"capa after login", steps(login, []step{{"CAPA", capaAfter}})},
		{"user pass stat quit", steps(login, []step{
			{"STAT", []string{"+OK 2 165"}},
			{"QUIT", []string{"+OK bye (2 messages left)"}},
			{"", eof},
		})},
		{"keywords are case-insensitive", []step{
			{"user c2", []string{"+OK send PASS"}},
			{"pass atomic-red", []string{"+OK c2's maildrop has 2 messages (165 octets)"}},
			{"sTaT", []string{"+OK 2 165"}},
		}},
		{"list and uidl", steps(login, []step{
			{"LIST", []string{"+OK 2 messages (165 octets)", "1 114", "2 51", "."}},
			{"LIST 2", []string{"+OK 2 51"}},
			{"LIST 3", []string{"-ERR no such message"}},
			{"LIST 0", []string{"-ERR no such message"}},
			{"LIST x", []string{"-ERR invalid message number"}},
			{"LIST 99999999999", []string{"-ERR invalid message number"}},
			{"UIDL", []string{"+OK unique-id listing follows", "1 uid-tasking-1", "2 uid-second-2", "."}},
			{"UIDL 1", []string{"+OK 1 uid-tasking-1"}},
		})},
		{"retr byte-stuffs lines starting with a dot", steps(login, []step{{"RETR 1", retr1}})},
		{"retr converts bare LF to CRLF", steps(login, []step{
			{"RETR 2", []string{"+OK 51 octets", "Subject: second", "", "line one", "line two", "line three", "."}},
		})},
		{"top", steps(login, []step{
			{"TOP 2 1", []string{"+OK top of message follows", "Subject: second", "", "line one", "."}},
			{"TOP 2 0", []string{"+OK top of message follows", "Subject: second", "", "."}},
			{"TOP 1 2", []string{"+OK top of message follows", "From: operator@purpleharness.test",
				"To: c2@purpleharness.test", "Subject: tasking", "", "whoami", "..hidden line", "."}},
			{"TOP 1 99", append([]string{"+OK top of message follows"}, retr1[1:]...)},
			{"TOP 1", []string{"-ERR usage: TOP msg lines"}},
			{"TOP 1 -1", []string{"-ERR usage: TOP msg lines"}},
			{"TOP 9 1", []string{"-ERR no such message"}},
		})},
		{"dele, then rset", steps(login, []step{
			{"DELE 1", []string{"+OK message 1 deleted"}},
			{"DELE 1", []string{"-ERR message 1 already deleted"}},
			{"RETR 1", []string{"-ERR message 1 already deleted"}},
			{"STAT", []string{"+OK 1 51"}},
			{"LIST", []string{"+OK 1 message (51 octets)", "2 51", "."}},
			{"RSET", []string{"+OK maildrop has 2 messages (165 octets)"}},
			{"STAT", []string{"+OK 2 165"}},
		})},
		{"noop", steps(login, []step{{"NOOP", []string{"+OK"}}})},
		{"transaction commands before login", []step{
			{"STAT", []string{"-ERR command not valid before login"}},
			{"RETR 1", []string{"-ERR command not valid before login"}},
			{"NOOP", []string{"-ERR command not valid before login"}},
		}},
		{"authorization commands after login", steps(login, []step{
			{"USER c2", []string{"-ERR command not valid after login"}},
			{"STLS", []string{"-ERR command not valid after login"}},
			{"AUTH PLAIN", []string{"-ERR command not valid after login"}},
		})},
		{"unknown and empty commands", []step{
			{"FOO bar", []string{"-ERR unknown command"}},
			{"", []string{"-ERR unknown command"}},
			{"\x00\xff\x1b[31m", []string{"-ERR unknown command"}},
			{"APOP c2 0123456789abcdef0123456789abcdef", []string{"-ERR APOP not supported"}},
		}},
		{"pass needs user right before it", []step{
			{"PASS atomic-red", []string{"-ERR USER first"}},
			{"USER c2", []string{"+OK send PASS"}},
			{"NOOP", []string{"-ERR command not valid before login"}},
			{"PASS atomic-red", []string{"-ERR USER first"}},
			{"USER", []string{"-ERR usage: USER name"}},
		}},
		{"password may contain spaces", []step{
			{"USER c2", []string{"+OK send PASS"}},
			{"PASS atomic-red ", []string{"-ERR [AUTH] invalid credentials"}},
		}},
		{"wrong password, then right", []step{
			{"USER c2", []string{"+OK send PASS"}},
			{"PASS nope", []string{"-ERR [AUTH] invalid credentials"}},
			{"USER nobody", []string{"+OK send PASS"}},
			{"PASS atomic-red", []string{"-ERR [AUTH] invalid credentials"}},
			{"USER c2", []string{"+OK send PASS"}},
			{"PASS atomic-red", []string{"+OK c2's maildrop has 2 messages (165 octets)"}},
		}},
		{"third failure closes", []step{
			{"USER c2", []string{"+OK send PASS"}},
			{"PASS a", []string{"-ERR [AUTH] invalid credentials"}},
			{"AUTH PLAIN AGMyAHdyb25n", []string{"-ERR [AUTH] invalid credentials"}},
			{"USER c2", []string{"+OK send PASS"}},
			{"PASS c", []string{"-ERR [AUTH] invalid credentials; too many failures, closing"}},
			{"", eof},
		}},
		{"auth plain with initial response", []step{
			{"AUTH PLAIN AGMyAGF0b21pYy1yZWQ=", []string{"+OK c2's maildrop has 2 messages (165 octets)"}},
			{"STAT", []string{"+OK 2 165"}},
		}},
		{"auth plain with continuation", []step{
			{"AUTH plain", []string{"+ "}},
			{"AGMyAGF0b21pYy1yZWQ=", []string{"+OK c2's maildrop has 2 messages (165 octets)"}},
		}},
		{"auth plain cancelled", []step{
			{"AUTH PLAIN", []string{"+ "}},
			{"*", []string{"-ERR authentication cancelled"}},
			{"CAPA", capaBefore},
		}},
		{"auth plain malformed", []step{
			{"AUTH PLAIN !!!", []string{"-ERR invalid base64 in SASL response"}},
			{"AUTH PLAIN =", []string{"-ERR malformed PLAIN response"}},
			{"AUTH PLAIN YzI=", []string{"-ERR malformed PLAIN response"}},
			{"AUTH PLAIN YWRtaW4AYzIAYXRvbWljLXJlZA==", []string{"-ERR [AUTH] invalid credentials"}},
			{"AUTH LOGIN", []string{"-ERR unsupported authentication mechanism"}},
		}},
		{"auth lists mechanisms", []step{{"AUTH", []string{"+OK", "PLAIN", "."}}}},
		{"backend error is SYS/TEMP", []step{
			{"USER broken", []string{"+OK send PASS"}},
			{"PASS x", []string{"-ERR [SYS/TEMP] cannot log in now"}},
		}},
		{"backend panic ends only this session", []step{
			{"USER panic", []string{"+OK send PASS"}},
			{"PASS x", []string{"-ERR [SYS/TEMP] internal server error"}},
			{"", eof},
		}},
		{"backend listing an invalid UID", []step{
			{"USER badbox", []string{"+OK send PASS"}},
			{"PASS x", []string{"-ERR [SYS/TEMP] cannot read maildrop"}},
			{"USER badbox", []string{"+OK send PASS"}},
			{"PASS x", []string{"-ERR [SYS/TEMP] cannot read maildrop"}}, // the maildrop was released
		}},
		{"quit before login", []step{{"QUIT", []string{"+OK bye"}}, {"", eof}}},
		{"stls with an argument", []step{{"STLS now", []string{"-ERR STLS takes no argument"}}}},
	}
	ts := startServer(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, greeting := dial(t, ts.addr)
			if want := "+OK pop3.purpleharness.test POP3 server ready"; greeting != want {
				t.Fatalf("greeting = %q, want %q", greeting, want)
			}
			for _, st := range tt.steps {
				if st.send != "" || len(st.want) != 1 || st.want[0] != "<EOF>" {
					c.send(st.send + "\r\n")
				}
				got := c.lines(len(st.want))
				if strings.Join(got, "\n") != strings.Join(st.want, "\n") {
					t.Fatalf("after %q:\ngot  %q\nwant %q", st.send, got, st.want)
				}
			}
			c.quit()
		})
	}
	if logs := ts.logs.String(); !strings.Contains(logs, "panic in Backend.Login: memBackend: Login panics on purpose") {
		t.Errorf("server log has no line for the backend panic; log:\n%s", logs)
	}
}

// TestPipelining sends a whole session in one write (RFC 2449 PIPELINING)
// and checks the replies come in order.
func TestPipelining(t *testing.T) {
	ts := startServer(t, nil)
	c, _ := dial(t, ts.addr)
	c.send("USER c2\r\nPASS atomic-red\r\nSTAT\r\nLIST 1\r\nNOOP\r\nQUIT\r\n")
	got := c.lines(7)
	want := []string{"+OK send PASS", "+OK c2's maildrop has 2 messages (165 octets)", "+OK 2 165",
		"+OK 1 114", "+OK", "+OK bye (2 messages left)", "<EOF>"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("pipelined replies:\ngot  %q\nwant %q", got, want)
	}
}

// TestUpdateState checks RFC 1939 section 6: DELE takes effect only when
// the client QUITs from the TRANSACTION state.
func TestUpdateState(t *testing.T) {
	tests := []struct {
		name string
		end  func(c *client)
		want []string
	}{
		{"quit commits", func(c *client) { c.cmd("QUIT") }, []string{"uid-second-2"}},
		{"dropped connection does not", func(c *client) { c.conn.Close() }, []string{"uid-tasking-1", "uid-second-2"}},
		{"rset undoes", func(c *client) { c.cmd("RSET"); c.cmd("QUIT") }, []string{"uid-tasking-1", "uid-second-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, nil)
			c, _ := dial(t, ts.addr)
			c.cmd("USER c2")
			c.cmd("PASS atomic-red")
			if got := c.cmd("DELE 1"); got != "+OK message 1 deleted" {
				t.Fatalf("DELE 1 = %q", got)
			}
			tt.end(c)
			waitFor(t, func() bool { return len(ts.backend.eventsOf(EventClose)) == 1 })
			if got := ts.backend.uids("c2"); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("maildrop after session = %q, want %q", got, tt.want)
			}
			if ts.backend.locked["c2"] {
				t.Errorf("maildrop still locked after the session: Mailbox.Close not called")
			}
		})
	}
}

// TestMaildropInUse checks a second session on a locked maildrop gets
// [IN-USE] and that the lock is released when the first one ends.
func TestMaildropInUse(t *testing.T) {
	ts := startServer(t, nil)
	a, _ := dial(t, ts.addr)
	a.cmd("USER c2")
	if got := a.cmd("PASS atomic-red"); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("first login = %q", got)
	}
	b, _ := dial(t, ts.addr)
	b.cmd("USER c2")
	if got, want := b.cmd("PASS atomic-red"), "-ERR [IN-USE] maildrop locked by another session"; got != want {
		t.Fatalf("second login = %q, want %q", got, want)
	}
	a.cmd("QUIT")
	waitFor(t, func() bool { return len(ts.backend.eventsOf(EventClose)) == 1 })
	b.cmd("USER c2")
	if got := b.cmd("PASS atomic-red"); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("login after release = %q", got)
	}
}

// TestObserverEvents checks the events a session produces and that secrets
// never reach the observer.
func TestObserverEvents(t *testing.T) {
	ts := startServer(t, nil)
	c, _ := dial(t, ts.addr)
	c.cmd("USER c2")
	c.cmd("PASS wrong secret")
	c.cmd("AUTH PLAIN")
	c.cmd("AGMyAHNlY3JldA==") // "\x00c2\x00secret"
	c.cmd("AUTH PLAIN AGMyAGF0b21pYy1yZWQ=")
	c.cmd("RETR 1")
	c.lines(8)
	c.cmd("QUIT")
	waitFor(t, func() bool { return len(ts.backend.eventsOf(EventClose)) == 1 })

	var got []string
	for _, e := range ts.backend.events {
		s := string(e.Kind)
		switch e.Kind {
		case EventCommand:
			s += " " + e.Verb + " " + e.Args
			if e.OK {
				s += " ok"
			}
		case EventLogin:
			s += " " + e.User
			if e.OK {
				s += " ok"
			} else if !errors.Is(e.Err, ErrAuthFailed) {
				s += " wrong error " + e.Err.Error()
			}
		case EventClose:
			s += " " + string(e.Reason) + " " + e.User
		}
		if e.Time.IsZero() {
			s += " (no time)"
		}
		got = append(got, s)
	}
	want := []string{
		"connect",
		"command USER c2 ok",
		"login c2",
		"command PASS <redacted>",
		"command  <redacted> ok",
		"login c2",
		"command AUTH PLAIN",
		"login c2 ok",
		"command AUTH PLAIN <redacted> ok",
		"command RETR 1 ok",
		"command QUIT  ok",
		"close quit c2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\ngot\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, e := range ts.backend.events {
		if strings.Contains(e.Args, "atomic-red") || strings.Contains(e.Args, "secret") || strings.Contains(e.Args, "AGMy") {
			t.Errorf("event %+v leaks a secret", e)
		}
	}
}

// TestSTLS upgrades with Go's TLS client, checks CAPA no longer offers
// STLS and logs in over TLS.
func TestSTLS(t *testing.T) {
	ts := startServer(t, nil)
	c, _ := dial(t, ts.addr)
	if got := c.cmd("STLS"); got != "+OK begin TLS negotiation" {
		t.Fatalf("STLS = %q", got)
	}
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true})
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
	capa := strings.Join(append([]string{c.cmd("CAPA")}, c.lines(9)...), " ")
	if strings.Contains(capa, "STLS") || !strings.Contains(capa, "SASL PLAIN") {
		t.Errorf("CAPA after STLS = %q, want no STLS and SASL PLAIN", capa)
	}
	if got := c.cmd("STLS"); got != "-ERR already using TLS" {
		t.Errorf("second STLS = %q", got)
	}
	if got := c.cmd("AUTH PLAIN AGMyAGF0b21pYy1yZWQ="); !strings.HasPrefix(got, "+OK") {
		t.Errorf("login over TLS = %q", got)
	}
	c.cmd("QUIT")
	waitFor(t, func() bool { return len(ts.backend.eventsOf(EventClose)) == 1 })
	if tl := ts.backend.eventsOf(EventTLS); len(tl) != 1 || tl[0].TLS == nil || tl[0].TLS.Version < tls.VersionTLS12 {
		t.Errorf("TLS events = %+v, want one with TLS >= 1.2", tl)
	}
}

// TestSTLSInjection checks that commands pipelined in clear text after
// STLS (CVE-2011-0411 style) are never executed.
func TestSTLSInjection(t *testing.T) {
	ts := startServer(t, nil)
	c, _ := dial(t, ts.addr)
	c.send("STLS\r\nUSER c2\r\nPASS atomic-red\r\nDELE 1\r\nQUIT\r\n")
	if got := c.lines(2); got[0] != "+OK begin TLS negotiation" || got[1] != "<EOF>" {
		t.Fatalf("replies = %q, want the STLS +OK then the connection closed", got)
	}
	waitFor(t, func() bool { return len(ts.backend.eventsOf(EventClose)) == 1 })
	if logins := ts.backend.eventsOf(EventLogin); len(logins) != 0 {
		t.Errorf("injected commands ran: logins %+v", logins)
	}
	if r := ts.backend.eventsOf(EventClose)[0].Reason; r != CloseTLSFailed {
		t.Errorf("close reason = %q, want %q", r, CloseTLSFailed)
	}
}

// TestImplicitTLS logs in on the POP3S listener.
func TestImplicitTLS(t *testing.T) {
	ts := startServer(t, nil)
	conn, err := tls.Dial("tcp", ts.tlsAddr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("dial POP3S: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn, r: bufio.NewReader(conn)}
	if g := c.line(); g != "+OK pop3.purpleharness.test POP3 server ready" {
		t.Fatalf("greeting = %q", g)
	}
	capa := strings.Join(append([]string{c.cmd("CAPA")}, c.lines(9)...), " ")
	if strings.Contains(capa, "STLS") {
		t.Errorf("CAPA on POP3S offers STLS: %q", capa)
	}
	c.cmd("USER c2")
	if got := c.cmd("PASS atomic-red"); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("login = %q", got)
	}
}

// TestRequireTLS checks that logins are refused in clear text when asked.
func TestRequireTLS(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.RequireTLS = true })
	c, _ := dial(t, ts.addr)
	capa := strings.Join(append([]string{c.cmd("CAPA")}, c.lines(8)...), " ")
	if strings.Contains(capa, "USER") || strings.Contains(capa, "SASL") || !strings.Contains(capa, "STLS") {
		t.Errorf("CAPA in clear with RequireTLS = %q, want STLS and no USER/SASL", capa)
	}
	for _, cmd := range []string{"USER c2", "AUTH PLAIN AGMyAGF0b21pYy1yZWQ="} {
		if got, want := c.cmd(cmd), "-ERR [AUTH] STLS first"; got != want {
			t.Errorf("%s = %q, want %q", cmd, got, want)
		}
	}
}

func TestLoopbackDefault(t *testing.T) {
	tests := []struct{ addr, def, want string }{
		{"", DefaultAddr, "127.0.0.1:110"},
		{"", DefaultTLSAddr, "127.0.0.1:995"},
		{":1110", DefaultAddr, "127.0.0.1:1110"},
		{"0.0.0.0:110", DefaultAddr, "0.0.0.0:110"},
		{"[::1]:110", DefaultAddr, "[::1]:110"},
		{"127.0.0.2:0", DefaultAddr, "127.0.0.2:0"},
	}
	for _, tt := range tests {
		if got := loopbackDefault(tt.addr, tt.def); got != tt.want {
			t.Errorf("loopbackDefault(%q, %q) = %q, want %q", tt.addr, tt.def, got, tt.want)
		}
	}
}

// waitFor polls cond for up to 5 seconds: session ends are reported by the
// server goroutine after the client has seen the connection close.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lfCountingBackend makes the classic backend mistake: it sizes a message
// with bare LF line ends by its stored length.
type lfCountingBackend struct{}

func (lfCountingBackend) Login(context.Context, string, string) (Mailbox, error) {
	return lfCountingMailbox{}, nil
}

type lfCountingMailbox struct{ staticMailbox }

func (lfCountingMailbox) Messages() ([]MessageInfo, error) {
	return []MessageInfo{{UID: "lf-1", Size: int64(len(lfMessage))}}, nil
}

func (lfCountingMailbox) Open(string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(lfMessage)), nil
}

// TestSizeMismatchLogged: the message is still sent whole, and the log
// names the backend's mistake.
func TestSizeMismatchLogged(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.Backend = lfCountingBackend{} })
	c, _ := dial(t, ts.addr)
	c.cmd("USER any")
	c.cmd("PASS any")
	got := append([]string{c.cmd("RETR 1")}, c.lines(6)...)
	want := []string{"+OK 46 octets", "Subject: second", "", "line one", "line two", "line three", "."}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("RETR:\ngot  %q\nwant %q", got, want)
	}
	if !strings.Contains(ts.logs.String(), `message lf-1 of "any": backend size 46, but 51 octets sent`) {
		t.Errorf("log does not report the size mismatch:\n%s", ts.logs.String())
	}
}
