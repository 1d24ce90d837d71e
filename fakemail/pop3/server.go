// Package pop3 implements an RFC 1939 server: the Post Office Protocol,
// version 3, with the CAPA command and response codes of RFC 2449, STLS from
// RFC 2595 and SASL AUTH PLAIN from RFC 5034 (RFC 4616).
//
// The package owns the wire only. The mail comes from a Backend, which
// authenticates users and hands out a Mailbox per session; purpleharness's
// fakemail package implements it on the store shared with its SMTP and IMAP
// servers, so a message delivered over SMTP is fetched over POP3, as a C2
// channel over mail (MITRE ATT&CK T1071.003) would do.
//
// Commands: USER, PASS, AUTH PLAIN (with initial response or continuation),
// STLS, CAPA, STAT, LIST, UIDL, RETR, TOP, DELE, NOOP, RSET, QUIT. APOP is
// not offered (RFC 1939 makes it optional; it needs the clear-text password
// on the server and MD5). Replies carry RFC 2449/3206 response codes
// ([AUTH], [IN-USE], [SYS/TEMP]) so a client can tell a wrong password from
// a server problem.
//
// The server is meant to face hostile clients: every line is bounded
// (MaxLineLength), every read and write is bounded in time (IdleTimeout),
// failed logins end the session after MaxAuthFailures, connections beyond
// MaxConnections are refused with a response code, and a panic in the
// server or in the backend becomes "-ERR" plus a log line for that session
// only. ListenAndServe binds loopback unless given an explicit host.
package pop3

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults for the zero values of Server's limits.
const (
	// DefaultMaxLineLength bounds a command line, CRLF included. RFC 2449
	// section 4 allows command lines of 255 octets; AUTH PLAIN responses
	// (RFC 5034 section 4) may be longer, so the default leaves room.
	DefaultMaxLineLength = 1024
	// DefaultIdleTimeout is RFC 1939 section 3's minimum inactivity
	// autologout timer.
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultMaxAuthFailures is how many failed logins end a session.
	DefaultMaxAuthFailures = 3
	// DefaultMaxConnections bounds concurrent sessions per Server.
	DefaultMaxConnections = 100
	// DefaultHostname appears in the greeting.
	DefaultHostname = "localhost"
)

// Canonical addresses ListenAndServe and ListenAndServeTLS use for "".
const (
	DefaultAddr    = "127.0.0.1:110"
	DefaultTLSAddr = "127.0.0.1:995"
)

// Server is a POP3 server. Set the fields before calling Serve; do not
// change them afterwards. The zero value of every limit means its default.
type Server struct {
	// Backend authenticates users and provides the mail. Required.
	Backend Backend
	// Hostname appears in the greeting. Default DefaultHostname.
	Hostname string
	// TLSConfig enables STLS on Serve (RFC 2595) and is required by
	// ServeTLS (implicit TLS, port 995, RFC 8314).
	TLSConfig *tls.Config
	// RequireTLS refuses USER, PASS and AUTH until the connection is
	// encrypted (RFC 2595 section 2.3). It is off by default because the
	// atomics this server exists for log in over plain POP3 on port 110.
	RequireTLS bool

	// MaxLineLength bounds a client line, CRLF included; a longer line ends
	// the session. Default DefaultMaxLineLength; at least 64.
	MaxLineLength int
	// IdleTimeout bounds the time to receive one command line and the time
	// any single write may block. Default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxAuthFailures failed logins end the session. Default
	// DefaultMaxAuthFailures.
	MaxAuthFailures int
	// MaxConnections bounds concurrent sessions; the next client gets
	// "-ERR [SYS/TEMP]" and is disconnected. Default DefaultMaxConnections.
	MaxConnections int

	// ErrorLog receives backend errors, panics and accept errors. Default:
	// the standard logger.
	ErrorLog *log.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	closing   atomic.Bool
	active    atomic.Int64
	wg        sync.WaitGroup
	baseCtx   context.Context
	cancel    context.CancelFunc
}

// ListenAndServe listens on addr and calls Serve. An empty addr means
// DefaultAddr, and an address without a host (":110") means loopback too:
// binding every interface must be asked for explicitly ("0.0.0.0:110").
func (s *Server) ListenAndServe(addr string) error {
	l, err := listen(loopbackDefault(addr, DefaultAddr))
	if err != nil {
		return fmt.Errorf("pop3: %w", err)
	}
	return s.Serve(l)
}

// ListenAndServeTLS is ListenAndServe for implicit TLS; "" means
// DefaultTLSAddr.
func (s *Server) ListenAndServeTLS(addr string) error {
	if s.TLSConfig == nil {
		return errors.New("pop3: ListenAndServeTLS needs Server.TLSConfig")
	}
	l, err := listen(loopbackDefault(addr, DefaultTLSAddr))
	if err != nil {
		return fmt.Errorf("pop3: %w", err)
	}
	return s.ServeTLS(l)
}

// listen listens on addr without TCP keep-alive: IdleTimeout already bounds
// every read and write, and keep-alive would cost four setsockopt calls per
// accepted connection. Callers of Serve may do the same with
// net.ListenConfig{KeepAlive: -1}.
func listen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(context.Background(), "tcp", addr)
}

func loopbackDefault(addr, def string) string {
	if addr == "" {
		return def
	}
	host, port, err := net.SplitHostPort(addr)
	if err == nil && host == "" {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// Serve accepts plain POP3 connections on l, offering STLS when TLSConfig is
// set, until Shutdown or Close; then it returns ErrServerClosed. It closes l.
func (s *Server) Serve(l net.Listener) error { return s.serve(l, false) }

// ServeTLS accepts implicit-TLS connections (POP3S, RFC 8314) on l.
func (s *Server) ServeTLS(l net.Listener) error {
	if s.TLSConfig == nil {
		l.Close()
		return errors.New("pop3: ServeTLS needs Server.TLSConfig")
	}
	return s.serve(l, true)
}

func (s *Server) serve(l net.Listener, implicitTLS bool) error {
	if s.Backend == nil {
		l.Close()
		return errors.New("pop3: Server.Backend is nil")
	}
	if !s.track(l) {
		l.Close()
		return ErrServerClosed
	}
	defer s.untrack(l)

	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			if transientAcceptError(err) {
				// Out of file descriptors or a transient error: back off
				// rather than spin, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logf("pop3: accept: %v; retrying in %v", err, delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("pop3: accept: %w", err)
		}
		delay = 0
		s.start(c, implicitTLS)
	}
}

// track registers l; it reports false once the server is closing.
func (s *Server) track(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.initLocked()
	s.listeners[l] = struct{}{}
	return true
}

// initLocked allocates the server's bookkeeping on first use; s.mu is held.
func (s *Server) initLocked() {
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
		s.sessions = make(map[*session]struct{})
		s.baseCtx, s.cancel = context.WithCancel(context.Background())
	}
}

func (s *Server) untrack(l net.Listener) {
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
	l.Close()
}

// start runs one connection on its own goroutine.
func (s *Server) start(c net.Conn, implicitTLS bool) {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		c.Close()
		return
	}
	sess := newSession(s, c, implicitTLS)
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()

	refuse := s.active.Add(1) > int64(s.maxConnections())
	go s.runSession(sess, refuse)
}

// runSession runs sess and forgets it when it ends.
func (s *Server) runSession(sess *session, refuse bool) {
	defer func() {
		s.mu.Lock()
		delete(s.sessions, sess)
		s.mu.Unlock()
		s.wg.Done()
	}()
	sess.run(refuse)
}

// serveConn runs one session on c synchronously, as if c had been accepted
// by Serve: the fuzz test drives the command loop through it without
// sockets.
func (s *Server) serveConn(c net.Conn) {
	s.mu.Lock()
	s.initLocked()
	sess := newSession(s, c, false)
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.runSession(sess, s.active.Add(1) > int64(s.maxConnections()))
}

// Shutdown stops accepting connections, tells idle sessions the server is
// going away, lets sessions in the middle of a command finish it, and waits
// for all of them to end. If ctx ends first it closes the remaining
// connections and returns ctx's error. Sessions ended this way never reach
// the UPDATE state: no message marked with DELE is deleted.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeListeners()
	s.mu.Lock()
	for sess := range s.sessions {
		sess.interrupt()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.closeSessions()
		<-done
		return ctx.Err()
	}
}

// Close closes the listeners and every connection at once and waits for
// the session goroutines to return.
func (s *Server) Close() error {
	s.closeListeners()
	s.closeSessions()
	s.wg.Wait()
	return nil
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing.Store(true)
	for l := range s.listeners {
		l.Close()
	}
}

func (s *Server) closeSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
	for sess := range s.sessions {
		sess.raw.Close()
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}

func (s *Server) hostname() string {
	if s.Hostname != "" {
		return s.Hostname
	}
	return DefaultHostname
}

func (s *Server) maxLineLength() int {
	if s.MaxLineLength <= 0 {
		return DefaultMaxLineLength
	}
	return max(s.MaxLineLength, 64)
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout <= 0 {
		return DefaultIdleTimeout
	}
	return s.IdleTimeout
}

func (s *Server) maxAuthFailures() int {
	if s.MaxAuthFailures <= 0 {
		return DefaultMaxAuthFailures
	}
	return s.MaxAuthFailures
}

func (s *Server) maxConnections() int {
	if s.MaxConnections <= 0 {
		return DefaultMaxConnections
	}
	return s.MaxConnections
}

// transientAcceptError reports accept errors worth retrying: running out of
// file descriptors (a connection flood) or a connection aborted before
// accept returned it.
func transientAcceptError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() ||
		errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED)
}
