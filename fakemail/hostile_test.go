package fakemail

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// dialRead connects to addr, writes send, and returns everything read
// until the server closes (or 5s pass).
func dialRead(t *testing.T, addr, send string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if send != "" {
		go io.WriteString(c, send)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

func lastSession(t *testing.T, s *Servers, n int) Session {
	t.Helper()
	ev := waitSessions(t, s, n)
	if len(ev) < n {
		t.Fatalf("%d sessions recorded, want %d", len(ev), n)
	}
	return ev[n-1]
}

func TestHostileClients(t *testing.T) {
	long := strings.Repeat("A", 5000)
	cases := []struct {
		name   string
		svc    Service
		send   string
		limits Limits
		ended  EndReason
		reply  string // in what the client read
	}{
		{"smtp line too long", SMTP, "EHLO " + long, Limits{}, EndLineTooLong, "220 "},
		{"pop3 line too long", POP3, long + "\r\n", Limits{}, EndLineTooLong, "+OK"},
		{"imap line too long", IMAP, "a1 LOGIN " + long, Limits{}, EndLineTooLong, "* OK"},
		{"pop3 auth failures", POP3, strings.Repeat("USER c2\r\nPASS wrong\r\n", 4), Limits{}, EndAuthFailures, "-ERR"},
		{"smtp auth failures", SMTP, "EHLO x\r\n" + strings.Repeat("AUTH PLAIN AGMyAHdyb25n\r\n", 4), Limits{}, EndAuthFailures, "535"},
		{"imap auth failures", IMAP, "a LOGIN c2 wrong\r\nb LOGIN c2 wrong\r\nc LOGIN c2 wrong\r\nd LOGIN c2 wrong\r\n", Limits{}, EndAuthFailures, "c NO"},
		{"smtp idle", SMTP, "", Limits{IdleTimeout: 300 * time.Millisecond}, EndIdle, "220 "},
		{"imap idle", IMAP, "", Limits{IdleTimeout: 300 * time.Millisecond}, EndIdle, "* OK"},
		{"pop3 idle", POP3, "", Limits{IdleTimeout: 300 * time.Millisecond}, EndIdle, "+OK"},
		{"imaps garbage", IMAPS, "GET / HTTP/1.0\r\n\r\n", Limits{}, EndTLSFailed, ""},
		{"smtps garbage", SMTPS, "\x16\x03\x01\x00\x05hello", Limits{}, EndTLSFailed, ""},
		{"pop3s garbage", POP3S, "USER c2\r\n", Limits{}, EndTLSFailed, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startTest(t, func(c *Config) { c.Limits = tc.limits; c.Services = []Service{tc.svc} })
			got := dialRead(t, s.Addr(tc.svc), tc.send)
			if !strings.Contains(got, tc.reply) {
				t.Errorf("client read %q, want it to contain %q", got, tc.reply)
			}
			e := lastSession(t, s, 1)
			if e.Ended != tc.ended {
				t.Errorf("session ended %q (%s), want %q; commands %+v", e.Ended, e.Error, tc.ended, e.Commands)
			}
			for _, c := range e.Commands {
				if strings.Contains(c.Line, "wrong") || strings.Contains(c.Line, "AGMyAHdyb25n") {
					t.Errorf("secret not redacted: %q", c.Line)
				}
			}
		})
	}
}

func TestCloseBeforeGreetingIsRecorded(t *testing.T) {
	s := startTest(t, func(c *Config) { c.Services = []Service{SMTP, IMAPS} })
	for _, svc := range []Service{SMTP, IMAPS} {
		c, err := net.Dial("tcp", s.Addr(svc))
		if err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	ev := waitSessions(t, s, 2)
	if len(ev) != 2 {
		t.Fatalf("%d sessions, want 2: connections closed at once must be recorded", len(ev))
	}
	for _, e := range ev {
		if len(e.Commands) != 0 || e.BytesIn != 0 || e.Remote.Port == 0 || e.Local.IP != "127.0.0.1" {
			t.Errorf("session %+v: want no commands, endpoints set", e)
		}
	}
}

// smtpLogin is AUTH PLAIN for the default account (RFC 4616: NUL c2 NUL
// atomic-red, base64).
const smtpLogin = "AUTH PLAIN AGMyAGF0b21pYy1yZWQ=\r\n"

// dialLogin connects to SMTP and logs in, leaving the connection open.
func dialLogin(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	if _, err := io.WriteString(c, "EHLO implant.test\r\n"+smtpLogin); err != nil {
		t.Fatal(err)
	}
	for { // EHLO's reply: 250-... lines, then "250 "
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("EHLO: %v", err)
		}
		if strings.HasPrefix(line, "250 ") {
			break
		}
	}
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "235 ") {
		t.Fatalf("AUTH PLAIN: %q, %v; want 235", line, err)
	}
	return c
}

// TestMaxConnections: a full service refuses a new client only when every
// connection has logged in.
func TestMaxConnections(t *testing.T) {
	s := startTest(t, func(c *Config) { c.Services = []Service{SMTP}; c.Limits.MaxConnections = 2 })
	held := []net.Conn{dialLogin(t, s.Addr(SMTP)), dialLogin(t, s.Addr(SMTP))}
	got := dialRead(t, s.Addr(SMTP), "")
	if !strings.HasPrefix(got, "421 ") {
		t.Errorf("third connection read %q, want 421", got)
	}
	e := lastSession(t, s, 1)
	if e.Ended != EndTooManyConns {
		t.Errorf("refused session ended %q, want %q", e.Ended, EndTooManyConns)
	}
	for _, c := range held {
		c.Close()
	}
	// The slots free up again once the server has seen the closes.
	waitSessions(t, s, 3)
	if got := dialRead(t, s.Addr(SMTP), "QUIT\r\n"); !strings.HasPrefix(got, "220 ") {
		t.Errorf("after closing, read %q, want a greeting", got)
	}
}

// TestFullServiceEvictsQuietestUnauthenticated: when the service is full,
// the connection that has not logged in and sent nothing longest makes
// room; a logged-in one is never chosen.
func TestFullServiceEvictsQuietestUnauthenticated(t *testing.T) {
	s := startTest(t, func(c *Config) { c.Services = []Service{SMTP}; c.Limits.MaxConnections = 3 })
	dialLogin(t, s.Addr(SMTP))
	var idle []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", s.Addr(SMTP))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			t.Fatalf("greeting %d: %v", i, err)
		}
		idle = append(idle, c)
		time.Sleep(20 * time.Millisecond) // distinct last-read times
	}
	// The second idle client speaks, so the first is the quietest.
	if _, err := io.WriteString(idle[1], "NOOP\r\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(idle[1]).ReadString('\n'); err != nil || !strings.HasPrefix(line, "250 ") {
		t.Fatalf("NOOP: %q, %v", line, err)
	}
	if got := dialRead(t, s.Addr(SMTP), "QUIT\r\n"); !strings.HasPrefix(got, "220 ") {
		t.Errorf("fourth connection read %q, want a greeting", got)
	}
	ev := waitSessions(t, s, 2)
	var ended []string
	for _, e := range ev {
		ended = append(ended, fmt.Sprintf("%d:%s", e.ID, e.Ended))
	}
	if len(ev) != 2 || ev[0].ID != 2 || ev[0].Ended != EndEvicted || ev[1].Ended != EndQuit {
		t.Errorf("sessions ended %v, want session 2 (the quietest, not logged in) evicted and the newcomer quit", ended)
	}
}

// TestPreAuthIdleTimeout: a client that has not logged in is cut after
// the short pre-login limit; after a login the long limit applies.
func TestPreAuthIdleTimeout(t *testing.T) {
	s := startTest(t, func(c *Config) {
		c.Services = []Service{SMTP}
		c.Limits.PreAuthIdleTimeout = 200 * time.Millisecond
		c.Limits.IdleTimeout = time.Minute
	})
	got := dialRead(t, s.Addr(SMTP), "")
	if !strings.HasPrefix(got, "220 ") {
		t.Errorf("read %q, want the greeting, then the close", got)
	}
	if e := lastSession(t, s, 1); e.Ended != EndIdle {
		t.Errorf("silent client: session ended %q, want %q", e.Ended, EndIdle)
	}
	c := dialLogin(t, s.Addr(SMTP))
	time.Sleep(600 * time.Millisecond)
	if _, err := io.WriteString(c, "NOOP\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "250 ") {
		t.Errorf("logged-in client after 600ms quiet: NOOP read %q, %v; want 250 (the pre-login limit must not apply)", line, err)
	}
}

func TestPlaintextAfterSTARTTLSIsNoted(t *testing.T) {
	s := startTest(t, func(c *Config) { c.Services = []Service{SMTP} })
	// CVE-2011-0411 style injection: a command pipelined behind STARTTLS.
	dialRead(t, s.Addr(SMTP), "EHLO x\r\nSTARTTLS\r\nMAIL FROM:<evil@x>\r\n")
	e := lastSession(t, s, 1)
	if len(e.Notes) == 0 || !strings.Contains(e.Notes[0], "after STARTTLS") {
		t.Errorf("notes %q, want the injection noted", e.Notes)
	}
	for _, c := range e.Commands {
		if c.Verb == "MAIL" {
			t.Errorf("injected MAIL recorded as a command: %+v", e.Commands)
		}
	}
}

func TestMessageSizeLimit(t *testing.T) {
	s := startTest(t, func(c *Config) { c.Services = []Service{SMTP, IMAP}; c.Limits.MaxMessageBytes = 1000 })
	big := strings.Repeat("x", 2000)
	got := dialRead(t, s.Addr(SMTP), "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c2@purpleharness.test>\r\nDATA\r\n"+big+"\r\n.\r\nQUIT\r\n")
	if !strings.Contains(got, "552 ") {
		t.Errorf("SMTP oversized message: read %q, want 552", got)
	}
	got = dialRead(t, s.Addr(IMAP), "a LOGIN c2 atomic-red\r\nb APPEND INBOX {2000}\r\nc LOGOUT\r\n")
	if !strings.Contains(got, "b NO") {
		t.Errorf("IMAP oversized APPEND: read %q, want b NO", got)
	}
	msgs, _ := s.Store().Messages(DefaultLogin, Inbox)
	if len(msgs) != 1 {
		t.Errorf("INBOX has %d messages, want only the seed", len(msgs))
	}
}

func TestKeepSessionsBoundsMemory(t *testing.T) {
	var seen int
	var mu sync.Mutex
	s := startTest(t, func(c *Config) {
		c.Services = []Service{POP3}
		c.KeepSessions = 4
		c.OnSession = func(Session) { mu.Lock(); seen++; mu.Unlock() }
	})
	for i := 0; i < 10; i++ {
		dialRead(t, s.Addr(POP3), "QUIT\r\n")
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if got := len(s.Evidence()); got > 4 || got+s.Dropped() != 10 || seen != 10 {
		t.Errorf("kept %d, dropped %d, OnSession saw %d; want <=4 kept of 10, all seen", got, s.Dropped(), seen)
	}
}

func TestIMAPHandlerPanicBecomesError(t *testing.T) {
	var logged strings.Builder
	s := &imapSession{store: &Store{}, logger: log.New(&logged, "", 0)}
	// Expunge with nothing selected dereferences nil: imapserver never
	// calls it so, but if a bug did, the client gets NO [SERVERBUG].
	err := s.Expunge(nil, nil)
	if err != internalError || !strings.Contains(logged.String(), "panic in handler") {
		t.Errorf("Expunge panic: got %v, log %q; want internalError and a log line", err, logged.String())
	}
}

func TestActiveSessions(t *testing.T) {
	s := startTest(t, func(c *Config) { c.Services = []Service{IMAP} })
	c, err := net.Dial("tcp", s.Addr(IMAP))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	r.ReadString('\n')
	io.WriteString(c, "a LOGIN c2 atomic-red\r\n")
	r.ReadString('\n')
	// The tap parses the server's reply after it went out: the client may
	// read it a moment before the evidence has it.
	var act []Session
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		act = s.Active()
		if len(act) == 1 && act[0].User == DefaultLogin || time.Now().After(deadline) {
			break
		}
	}
	if len(act) != 1 || act[0].User != DefaultLogin || len(act[0].Commands) != 1 || !act[0].End.IsZero() {
		t.Errorf("Active() = %+v, want the open session logged in as c2", act)
	}
	if len(s.Evidence()) != 0 {
		t.Errorf("Evidence() holds open sessions")
	}
}

// TestRequireTLSForAuth: with the option on, a correct password over
// plaintext does not log anyone in, on any protocol.
func TestRequireTLSForAuth(t *testing.T) {
	s := startTest(t, func(c *Config) { c.RequireTLSForAuth = true; c.Services = []Service{Submission, POP3, IMAP} })
	cases := []struct {
		svc  Service
		send string
	}{
		{Submission, "EHLO x\r\nAUTH PLAIN AGMyAGF0b21pYy1yZWQ=\r\nQUIT\r\n"},
		{POP3, "USER c2\r\nPASS atomic-red\r\nQUIT\r\n"},
		{IMAP, "a LOGIN c2 atomic-red\r\nb LOGOUT\r\n"},
	}
	for i, tc := range cases {
		got := dialRead(t, s.Addr(tc.svc), tc.send)
		e := lastSession(t, s, i+1)
		if e.User != "" {
			t.Errorf("%s: plaintext login succeeded (%q); server said %q", tc.svc, e.User, got)
		}
	}
}

func TestStoreQuota(t *testing.T) {
	s := startTest(t, func(c *Config) { c.Services = []Service{SMTP, IMAP}; c.Limits.MaxStoreBytes = 600 })
	msg := strings.Repeat("y", 300)
	send := "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c2@purpleharness.test>\r\nDATA\r\n" + msg + "\r\n.\r\nQUIT\r\n"
	if got := dialRead(t, s.Addr(SMTP), send); !strings.Contains(got, "250 2.0.0 OK") {
		t.Fatalf("first message refused: %q", got)
	}
	if got := dialRead(t, s.Addr(SMTP), send); !strings.Contains(got, "452 ") {
		t.Errorf("store over quota: read %q, want 452", got)
	}
	if got := dialRead(t, s.Addr(IMAP), "a LOGIN c2 atomic-red\r\nb APPEND INBOX {300+}\r\n"+msg+"\r\nc LOGOUT\r\n"); !strings.Contains(got, "b NO [OVERQUOTA]") {
		t.Errorf("APPEND over quota: read %q", got)
	}
	// Expunging frees room again.
	got := dialRead(t, s.Addr(IMAP), "a LOGIN c2 atomic-red\r\nb SELECT INBOX\r\nc STORE 2 +FLAGS.SILENT (\\Deleted)\r\nd EXPUNGE\r\ne APPEND INBOX {300+}\r\n"+msg+"\r\nf LOGOUT\r\n")
	if !strings.Contains(got, "e OK") {
		t.Errorf("APPEND after EXPUNGE: read %q", got)
	}
}

// TestShutdownRecordsOpenSessions: sessions open at Shutdown, plain and
// TLS, are ended and recorded as server-shutdown.
func TestShutdownRecordsOpenSessions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Ports = EphemeralPorts()
	cfg.ErrorLog = log.New(io.Discard, "", 0)
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := net.Dial("tcp", s.Addr(IMAP))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	bufio.NewReader(plain).ReadString('\n')
	tc, err := tls.Dial("tcp", s.Addr(POP3S), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	bufio.NewReader(tc).ReadString('\n')
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	ev := s.Evidence()
	if len(ev) != 2 {
		t.Fatalf("%d sessions after Shutdown, want 2", len(ev))
	}
	for _, e := range ev {
		if e.Ended != EndShutdown {
			t.Errorf("%s session ended %q, want %q", e.Service, e.Ended, EndShutdown)
		}
	}
	if _, err := net.Dial("tcp", s.Addr(IMAP)); err == nil {
		t.Error("IMAP still accepting after Shutdown")
	}
}

func TestSubscribe(t *testing.T) {
	s := startTest(t, func(c *Config) { c.Services = []Service{POP3} })
	ch, cancel := s.Subscribe(4)
	dialRead(t, s.Addr(POP3), "QUIT\r\n")
	select {
	case e := <-ch:
		if e.Service != POP3 || e.Ended != EndQuit {
			t.Errorf("subscribed session %+v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no session delivered to the subscriber")
	}
	cancel()
	if _, open := <-ch; open {
		t.Error("channel still open after cancel")
	}
}

func TestSMTPPolicy(t *testing.T) {
	s := startTest(t, func(c *Config) { c.Services = []Service{SMTP, Submission} })
	cases := []struct {
		name string
		svc  Service
		send string
		want string
	}{
		{"submission needs AUTH before MAIL (RFC 6409 4.3)", Submission, "EHLO x\r\nMAIL FROM:<a@b>\r\nQUIT\r\n", "\r\n530 "},
		{"unknown recipient", SMTP, "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<nobody@purpleharness.test>\r\nQUIT\r\n", "\r\n550 5.1.1 "},
		{"recipient address is case-insensitive", SMTP, "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<C2@PurpleHarness.test>\r\nQUIT\r\n", "\r\n250 2.0.0 I'll make sure"},
		{"wrong password", Submission, "EHLO x\r\nAUTH PLAIN AGMyAHdyb25n\r\nQUIT\r\n", "\r\n535 "},
		{"right password", Submission, "EHLO x\r\nAUTH PLAIN AGMyAGF0b21pYy1yZWQ=\r\nMAIL FROM:<a@b>\r\nQUIT\r\n", "\r\n235 "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := dialRead(t, s.Addr(tc.svc), tc.send); !strings.Contains(got, tc.want) {
				t.Errorf("sent %q, read %q; want %q", tc.send, got, tc.want)
			}
		})
	}
}

// literal is an APPEND body as imapserver hands it to Session.Append.
type literal struct{ *strings.Reader }

func (l literal) Size() int64 { return int64(l.Len()) }

// TestIMAPDeleteFreesQuota: deleting a mailbox gives its bytes back to
// Limits.MaxStoreBytes, so CREATE/APPEND/DELETE in a loop cannot fill the
// store and lock SMTP delivery out; a session that still has the deleted
// mailbox selected cannot give them back a second time.
func TestIMAPDeleteFreesQuota(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Limits.MaxStoreBytes = 4000
	store, err := NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	seeded := store.used
	logger := log.New(io.Discard, "", 0)
	a := &imapSession{store: store, logger: logger}
	b := &imapSession{store: store, logger: logger}
	for _, s := range []*imapSession{a, b} {
		if err := s.Login(DefaultLogin, DefaultPassword); err != nil {
			t.Fatal(err)
		}
	}
	body := strings.Repeat("x", 1500)
	for i := range 5 {
		if err := a.Create("Junk", nil); err != nil {
			t.Fatalf("round %d: Create: %v", i, err)
		}
		if _, err := a.Append("Junk", literal{strings.NewReader(body)}, nil); err != nil {
			t.Fatalf("round %d: Append of %d bytes: %v; store holds %d of %d bytes", i, len(body), err, store.used, cfg.Limits.MaxStoreBytes)
		}
		if i == 4 {
			if _, err := b.Select("Junk", nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Delete("Junk"); err != nil {
			t.Fatalf("round %d: Delete: %v", i, err)
		}
	}
	if store.used != seeded {
		t.Errorf("after deleting every Junk: store holds %d bytes, want %d (the seed)", store.used, seeded)
	}
	// b still sees the deleted mailbox; expunging there frees nothing twice.
	all := imap.SeqSet{{Start: 1, Stop: 0}}
	if err := b.Store(nil, all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Expunge(nil, nil); err != nil {
		t.Fatal(err)
	}
	if store.used != seeded {
		t.Errorf("after EXPUNGE in the deleted, still selected mailbox: store holds %d bytes, want %d", store.used, seeded)
	}
	if _, err := store.Deliver(DefaultAddress, []byte(body)); err != nil {
		t.Errorf("Deliver after the loop: %v", err)
	}
}

// TestIMAPCreateLimit: a client looping on CREATE gets NO [LIMIT] once its
// account holds maxMailboxes, instead of growing the server's memory.
func TestIMAPCreateLimit(t *testing.T) {
	s := startTest(t, func(c *Config) { c.Services = []Service{IMAP} })
	c, err := net.Dial("tcp", s.Addr(IMAP))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	r.ReadString('\n')
	// Pipelined: LOGIN, then one CREATE more than the account may hold
	// (INBOX counts), then LOGOUT.
	var cmds strings.Builder
	cmds.WriteString("a LOGIN c2 atomic-red\r\n")
	for i := range maxMailboxes {
		fmt.Fprintf(&cmds, "c%d CREATE box%d\r\n", i, i)
	}
	cmds.WriteString("z LOGOUT\r\n")
	go io.WriteString(c, cmds.String())
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	replies := map[string]string{}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v (after %d tagged replies)", err, len(replies))
		}
		tag, rest, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		if tag != "*" {
			replies[tag] = rest
		}
		if tag == "z" {
			break
		}
	}
	if got := replies[fmt.Sprintf("c%d", maxMailboxes-2)]; !strings.HasPrefix(got, "OK") {
		t.Errorf("CREATE of mailbox %d (with INBOX: the last allowed) = %q, want OK", maxMailboxes-1, got)
	}
	if got := replies[fmt.Sprintf("c%d", maxMailboxes-1)]; !strings.HasPrefix(got, "NO [LIMIT]") {
		t.Errorf("CREATE beyond %d mailboxes = %q, want NO [LIMIT]", maxMailboxes, got)
	}
}
