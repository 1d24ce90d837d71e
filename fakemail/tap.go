package fakemail

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The tap is how evidence is taken: every listener is wrapped, every
// accepted connection becomes a tapConn that shows each byte to a recorder
// before or after passing it on, unchanged.
//
// TLS would hide the bytes, so the tap terminates the client's TLS itself
// ("outer") and speaks TLS again to the protocol library over an in-memory
// net.Pipe ("inner"), copying plaintext between the two and recording it
// on the way. The library still sees a real *tls.Conn and decides
// everything a server decides (STARTTLS offered or not, AUTH allowed or
// not); the client sees the tap's certificate, which is the same one. For
// implicit TLS the tap does this from the first byte; for STARTTLS it
// switches the moment the recorder has seen the positive reply go out,
// which is the last plaintext the library writes before its handshake.
type tapListener struct {
	net.Listener
	svc    Service
	srv    *Servers
	active atomic.Int64
}

func (l *tapListener) Accept() (net.Conn, error) {
	for {
		raw, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c := l.srv.newTapConn(l, raw)
		if l.active.Add(1) > int64(l.srv.limits.MaxConnections) && !l.srv.evictFor(l, c) {
			c.refuse()
			continue
		}
		if l.svc.ImplicitTLS() {
			c.startMITM(TLSImplicit)
		}
		return c, nil
	}
}

// busyReply is what a refused client reads, in its protocol's words.
func busyReply(p Protocol) string {
	switch p {
	case ProtoSMTP:
		return "421 4.7.0 Too many connections, try again later\r\n" // RFC 5321 4.2.3
	case ProtoPOP3:
		return "-ERR [SYS/TEMP] Too many connections\r\n" // RFC 3206 4
	case ProtoIMAP:
		return "* BYE Too many connections\r\n" // RFC 3501 7.1.5
	}
	return ""
}

type tapConn struct {
	raw  net.Conn
	l    *tapListener
	srv  *Servers
	rec  *recorder
	idle time.Duration // after login
	pre  time.Duration // before login

	lastRead atomic.Int64 // unix nanoseconds of the last byte from the client (or of the accept)
	evicted  atomic.Bool

	mu           sync.Mutex
	inner        net.Conn // server's end of the pipe once TLS is terminated here
	readDeadline time.Time
	closed       bool

	refs      atomic.Int32 // server side + copy loops still running
	closeOnce sync.Once
}

func (s *Servers) newTapConn(l *tapListener, raw net.Conn) *tapConn {
	id := s.nextID.Add(1)
	rec := newRecorder(id, l.svc, endpoint(raw.LocalAddr()), endpoint(raw.RemoteAddr()), s.limits)
	c := &tapConn{raw: raw, l: l, srv: s, rec: rec, idle: s.limits.IdleTimeout, pre: s.limits.PreAuthIdleTimeout}
	c.lastRead.Store(time.Now().UnixNano())
	c.refs.Store(1)
	s.track(c)
	return c
}

// idleLimit is how long the client may stay silent now: the shorter
// pre-login limit until a login succeeds.
func (c *tapConn) idleLimit() time.Duration {
	if c.rec.loggedIn() {
		return c.idle
	}
	return c.pre
}

// evictFor closes, to make room on l, the connection of l that has not
// logged in and has been quiet longest, other than newcomer. It reports whether there was one.
// The evicted connection's slot is released when its server side ends, so
// l's count may exceed the limit for that moment; the protocol libraries'
// own limits sit above it (see Servers.serve).
func (s *Servers) evictFor(l *tapListener, newcomer *tapConn) bool {
	s.mu.Lock()
	var victim *tapConn
	var oldest int64
	for c := range s.conns {
		if c.l != l || c == newcomer || c.evicted.Load() || c.rec.loggedIn() {
			continue
		}
		if t := c.lastRead.Load(); victim == nil || t < oldest {
			victim, oldest = c, t
		}
	}
	if victim != nil {
		victim.evicted.Store(true)
	}
	s.mu.Unlock()
	if victim == nil {
		return false
	}
	victim.rec.end(EndEvicted, nil)
	victim.raw.Close()
	if in := victim.current(); in != nil {
		in.Close()
	}
	return true
}

// refuse answers a connection beyond MaxConnections and records it.
func (c *tapConn) refuse() {
	c.rec.end(EndTooManyConns, nil)
	if !c.l.svc.ImplicitTLS() {
		c.raw.SetWriteDeadline(time.Now().Add(time.Second))
		msg := busyReply(c.l.svc.Protocol())
		c.raw.Write([]byte(msg))
		c.rec.server([]byte(msg))
	}
	c.Close()
}

func (c *tapConn) current() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inner
}

func (c *tapConn) Read(b []byte) (int, error) {
	if in := c.current(); in != nil {
		return in.Read(b)
	}
	c.mu.Lock()
	dl := c.readDeadline
	c.mu.Unlock()
	idleAt := time.Now().Add(c.idleLimit())
	ours := dl.IsZero() || idleAt.Before(dl)
	if ours {
		dl = idleAt
	}
	c.raw.SetReadDeadline(dl)
	n, err := c.raw.Read(b)
	if n > 0 {
		c.lastRead.Store(time.Now().UnixNano())
		if rerr := c.rec.client(b[:n]); rerr != nil {
			c.raw.Close()
			return 0, rerr
		}
	}
	if err != nil {
		c.noteReadError(err, ours)
	}
	return n, err
}

// noteReadError records why reading from the client stopped.
func (c *tapConn) noteReadError(err error, idleDeadline bool) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		c.rec.end(EndClient, nil)
	case errors.As(err, &ne) && ne.Timeout():
		if idleDeadline {
			c.rec.end(EndIdle, nil)
		} else {
			c.rec.end(EndIdle, errors.New("server read timeout"))
		}
	case errors.Is(err, net.ErrClosed):
		// we or the server closed it; the reason is already known
	default:
		c.rec.end(EndNetworkError, err)
	}
}

func (c *tapConn) Write(b []byte) (int, error) {
	if in := c.current(); in != nil {
		return in.Write(b)
	}
	// The reply is recorded before it goes out: a client that has read
	// "235" or "+OK" must find the login already counted, or a client
	// connecting right after could evict it as one not logged in.
	c.rec.server(b)
	n, err := c.raw.Write(b)
	if n < len(b) {
		c.rec.shortWrite(n, len(b))
	}
	if c.rec.takeStartTLS() {
		c.startMITM(TLSStartTLS)
	}
	if reason := c.rec.wantClose(); reason != "" {
		c.raw.Close()
	}
	return n, err
}

// startMITM terminates the client's TLS in the tap (see tapListener).
func (c *tapConn) startMITM(mode TLSMode) {
	serverEnd, tapEnd := net.Pipe()
	c.mu.Lock()
	c.inner = serverEnd
	if !c.readDeadline.IsZero() {
		serverEnd.SetReadDeadline(c.readDeadline)
	}
	c.mu.Unlock()
	c.refs.Add(1)
	go func() {
		defer c.release()
		c.mitm(mode, tapEnd)
	}()
}

func (c *tapConn) mitm(mode TLSMode, tapEnd net.Conn) {
	defer tapEnd.Close()
	outer := tls.Server(c.raw, c.srv.tlsConfig)
	outer.SetDeadline(time.Now().Add(min(c.pre, 30*time.Second)))
	if err := outer.Handshake(); err != nil {
		c.rec.end(EndTLSFailed, err)
		c.raw.Close()
		return
	}
	outer.SetDeadline(time.Time{})
	st := outer.ConnectionState()
	c.rec.setTLS(mode, st)
	inner := tls.Client(tapEnd, &tls.Config{
		InsecureSkipVerify: true, // our own certificate, over an in-memory pipe
		MinVersion:         st.Version,
		MaxVersion:         st.Version,
		ServerName:         st.ServerName,
	})
	if err := inner.Handshake(); err != nil {
		c.rec.end(EndNetworkError, err)
		c.raw.Close()
		return
	}
	done := make(chan struct{})
	go func() { // server to client
		defer close(done)
		buf := make([]byte, 32<<10)
		for {
			n, err := inner.Read(buf)
			if n > 0 {
				c.rec.server(buf[:n])
				if _, werr := outer.Write(buf[:n]); werr != nil {
					c.rec.end(EndNetworkError, werr)
					break
				}
				if c.rec.wantClose() != "" {
					break
				}
			}
			if err != nil {
				break
			}
		}
		outer.Close() // close_notify, then the socket
	}()
	buf := make([]byte, 32<<10)
	for { // client to server
		outer.SetReadDeadline(time.Now().Add(c.idleLimit()))
		n, err := outer.Read(buf)
		if n > 0 {
			c.lastRead.Store(time.Now().UnixNano())
			if rerr := c.rec.client(buf[:n]); rerr != nil {
				break
			}
			if _, werr := inner.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			c.noteReadError(err, true)
			break
		}
	}
	inner.Close()
	c.raw.Close()
	<-done
}

func (c *tapConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		in := c.inner
		c.mu.Unlock()
		if in != nil {
			in.Close()
			// Let the copy loops drain what the server wrote last (its
			// "221 Bye"), then close the socket; they stop on EOF.
		} else {
			err = c.raw.Close()
		}
		c.release()
	})
	return err
}

// release drops one reference; the last one finishes the record.
func (c *tapConn) release() {
	if c.refs.Add(-1) == 0 {
		c.raw.Close()
		c.l.active.Add(-1)
		// Record before untracking: Shutdown returns once nothing is
		// tracked, and its caller reads Evidence.
		c.srv.evidence.add(c.rec.finish())
		c.srv.untrack(c)
	}
}

// shutdown ends the connection for Servers.Shutdown.
func (c *tapConn) shutdown() {
	c.rec.end(EndShutdown, nil)
	c.raw.Close()
	if in := c.current(); in != nil {
		in.Close()
	}
}

func (c *tapConn) LocalAddr() net.Addr  { return c.raw.LocalAddr() }
func (c *tapConn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

func (c *tapConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

func (c *tapConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDeadline = t
	in := c.inner
	c.mu.Unlock()
	if in != nil {
		return in.SetReadDeadline(t)
	}
	return nil // applied, with the idle limit, at each Read
}

func (c *tapConn) SetWriteDeadline(t time.Time) error {
	if in := c.current(); in != nil {
		return in.SetWriteDeadline(t)
	}
	return c.raw.SetWriteDeadline(t)
}
