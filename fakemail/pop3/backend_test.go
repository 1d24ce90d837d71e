package pop3

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// memBackend is a small but real Backend for the tests: users with
// passwords, one maildrop each, a lock per maildrop (RFC 1939 section 4),
// deletions that stick, and an event log through Observer. A few reserved
// names make it misbehave on purpose: login "panic" panics in Login, a
// message with UID "boom" panics in Open, and login "broken" fails with an
// internal error, login "slow" blocks until the session's context ends, and
// login "bomb" owns the "boom" message; login "badbox" has a message
// whose UID breaks RFC 1939; login "flaky" has a message Open cannot
// open and one whose reader fails halfway.
type memBackend struct {
	mu     sync.Mutex
	users  map[string]string // user -> password
	boxes  map[string][]memMessage
	locked map[string]bool
	events []Event
}

type memMessage struct {
	uid, text string
}

var _ Backend = (*memBackend)(nil)
var _ Observer = (*memBackend)(nil)

// tasking is the seeded message: CRLF text whose body has a line starting
// with "." so RETR must byte-stuff it.
const tasking = "From: operator@purpleharness.test\r\n" +
	"To: c2@purpleharness.test\r\n" +
	"Subject: tasking\r\n" +
	"\r\n" +
	"whoami\r\n" +
	".hidden line\r\n" +
	"hostname\r\n"

// lfMessage is stored with bare LF; its size counts the CRs the wire adds.
const lfMessage = "Subject: second\n\nline one\nline two\nline three\n"

func newMemBackend() *memBackend {
	return &memBackend{
		users: map[string]string{"c2": "atomic-red", "empty": "nothing", "panic": "x", "broken": "x", "slow": "x", "bomb": "x", "badbox": "x", "flaky": "x"},
		boxes: map[string][]memMessage{
			"c2":     {{"uid-tasking-1", tasking}, {"uid-second-2", lfMessage}},
			"bomb":   {{"boom", "Subject: never sent\r\n\r\n"}},
			"badbox": {{"has space", "Subject: bad UID\r\n\r\n"}},
			"flaky":  {{"unreadable", "x"}, {"torn", "Subject: torn\r\n\r\npartial and more\r\n"}},
		},
		locked: map[string]bool{},
	}
}

func (b *memBackend) Login(ctx context.Context, user, pass string) (Mailbox, error) {
	if _, ok := ConnFromContext(ctx); !ok {
		return nil, errors.New("memBackend: no connection in context")
	}
	switch user {
	case "panic":
		panic("memBackend: Login panics on purpose")
	case "broken":
		return nil, errors.New("memBackend: store unavailable")
	case "slow":
		// A backend stuck on its store until the session is torn down
		// (unless the test removed the user, as the fuzz test does).
		b.mu.Lock()
		_, enabled := b.users["slow"]
		b.mu.Unlock()
		if enabled {
			<-ctx.Done()
			return nil, ctx.Err()
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if want, ok := b.users[user]; !ok || want != pass {
		return nil, ErrAuthFailed
	}
	if b.locked[user] {
		return nil, ErrInUse
	}
	b.locked[user] = true
	return &memMailbox{b: b, user: user}, nil
}

func (b *memBackend) Observe(_ context.Context, ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, ev)
}

func (b *memBackend) uids(user string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var u []string
	for _, m := range b.boxes[user] {
		u = append(u, m.uid)
	}
	return u
}

// eventsOf returns the events of one kind so far.
func (b *memBackend) eventsOf(kind EventKind) []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Event
	for _, e := range b.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

type memMailbox struct {
	b    *memBackend
	user string
}

func (m *memMailbox) Messages() ([]MessageInfo, error) {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	var out []MessageInfo
	for _, msg := range m.b.boxes[m.user] {
		out = append(out, MessageInfo{UID: msg.uid, Size: wireSize(msg.text)})
	}
	return out, nil
}

// wireSize counts octets as sent: every LF preceded by CR.
func wireSize(text string) int64 {
	return int64(len(text) + strings.Count(text, "\n") - strings.Count(text, "\r\n"))
}

func (m *memMailbox) Open(uid string) (io.ReadCloser, error) {
	switch uid {
	case "boom":
		panic("memMailbox: Open panics on purpose")
	case "unreadable":
		return nil, errors.New("memMailbox: message file missing")
	case "torn":
		// The store fails in the middle of the message.
		return io.NopCloser(io.MultiReader(strings.NewReader("Subject: torn\r\n\r\npartial"),
			iotest.ErrReader(errors.New("memMailbox: disk on fire")))), nil
	}
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	for _, msg := range m.b.boxes[m.user] {
		if msg.uid == uid {
			return io.NopCloser(strings.NewReader(msg.text)), nil
		}
	}
	return nil, fmt.Errorf("memMailbox: no message %q", uid)
}

func (m *memMailbox) Delete(uids []string) error {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	m.b.boxes[m.user] = slices.DeleteFunc(m.b.boxes[m.user], func(msg memMessage) bool {
		return slices.Contains(uids, msg.uid)
	})
	return nil
}

func (m *memMailbox) Close() error {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	if !m.b.locked[m.user] {
		return errors.New("memMailbox: closed twice")
	}
	delete(m.b.locked, m.user)
	return nil
}

// testServer is a running server on 127.0.0.1:0.
type testServer struct {
	srv     *Server
	backend *memBackend
	addr    string // plain, STLS offered
	tlsAddr string // implicit TLS
	logs    *syncBuffer
}

// startServer starts a plain and an implicit-TLS listener on loopback with
// a fresh memBackend; configure may adjust the server before it starts.
func startServer(t testing.TB, configure func(*Server)) *testServer {
	t.Helper()
	ts := &testServer{backend: newMemBackend(), logs: &syncBuffer{}}
	ts.srv = &Server{
		Backend:   ts.backend,
		Hostname:  "pop3.purpleharness.test",
		TLSConfig: testTLSConfig(t),
		ErrorLog:  log.New(ts.logs, "", 0),
	}
	if configure != nil {
		configure(ts.srv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	lt, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		l.Close()
		t.Fatalf("listen: %v", err)
	}
	ts.addr, ts.tlsAddr = l.Addr().String(), lt.Addr().String()
	errc := make(chan error, 2)
	go func() { errc <- ts.srv.Serve(l) }()
	go func() { errc <- ts.srv.ServeTLS(lt) }()
	t.Cleanup(func() {
		ts.srv.Close()
		for range 2 {
			if err := <-errc; !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		}
	})
	return ts
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var (
	certOnce sync.Once
	certTLS  tls.Certificate
	certErr  error
)

// testTLSConfig returns a config with an ephemeral self-signed certificate
// for 127.0.0.1, generated once per test binary.
func testTLSConfig(t testing.TB) *tls.Config {
	t.Helper()
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			certErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "pop3.purpleharness.test"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:     []string{"localhost", "pop3.purpleharness.test"},
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			certErr = err
			return
		}
		certTLS = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	if certErr != nil {
		t.Fatalf("test certificate: %v", certErr)
	}
	return &tls.Config{Certificates: []tls.Certificate{certTLS}}
}
