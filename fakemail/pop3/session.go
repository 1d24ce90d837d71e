package pop3

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// state is the RFC 1939 session state. UPDATE is not stored: it is the
// moment between QUIT and closing the connection (RFC 1939 section 6).
type state int

const (
	stateAuthorization state = iota
	stateTransaction
)

// session is one connection.
type session struct {
	srv    *Server
	raw    net.Conn // as accepted
	conn   net.Conn // raw, or the *tls.Conn on it
	ctx    context.Context
	cancel context.CancelFunc
	obs    Observer

	implicitTLS bool
	tls         bool
	br          *bufio.Reader
	bw          *bufio.Writer
	dw          deadlineWriter

	state        state
	pendingUser  string // name given by a successful USER, awaiting PASS
	user         string // logged-in user
	authFailures int
	mbox         Mailbox
	msgs         []MessageInfo
	deleted      []bool

	lastOK  bool        // status of the last reply written
	reason  CloseReason // why the session ends, once decided
	endErr  error
	stopped bool // the command loop must end
}

// errLineTooLong is the read error for a line over MaxLineLength.
var errLineTooLong = errors.New("pop3: line too long")

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}
)

func newSession(srv *Server, c net.Conn, implicitTLS bool) *session {
	s := &session{srv: srv, raw: c, conn: c, implicitTLS: implicitTLS}
	s.obs, _ = srv.Backend.(Observer)
	s.ctx, s.cancel = context.WithCancel(context.WithValue(srv.baseCtx, connKey{}, c))
	return s
}

// interrupt wakes a session blocked reading a command so it notices the
// shutdown. Shutdown sets Server.closing first; run sets its read deadline
// before checking closing, so one of the two always sees the other.
func (s *session) interrupt() {
	s.raw.SetReadDeadline(time.Unix(1, 0))
}

// run is the session's goroutine.
func (s *session) run(refuse bool) {
	defer s.cancel()
	defer s.closeConn()
	s.observe(Event{Kind: EventConnect})
	s.setupIO(s.raw)
	defer s.releaseIO()
	defer s.finish()

	if refuse {
		// RFC 3206 section 4: [SYS/TEMP] tells the client to retry later.
		s.end(CloseTooManyConns, nil)
		s.reply(false, "[SYS/TEMP] too many connections, try again later")
		s.flush()
		return
	}
	if s.implicitTLS {
		if !s.handshake() {
			return
		}
	}
	// No "<...>" in the greeting: RFC 1939 section 7 makes that the APOP
	// timestamp, and clients such as mutt would then try APOP first.
	s.reply(true, s.srv.hostname()+" POP3 server ready")
	s.loop()
}

// Bounds of the lingering close.
const (
	lingerTime  = 500 * time.Millisecond
	lingerBytes = 256 << 10
)

// closeConn closes the connection. When the server ends the session while
// the client may still be sending (a line too long, a brute force, a
// shutdown), closing a socket with unread input makes the kernel answer
// with a RST, which can destroy the final "-ERR" before the client reads
// it. So in those cases it half-closes, drains the input for a bounded time
// and amount, then closes, as net/http does for the same reason.
func (s *session) closeConn() {
	switch s.reason {
	case CloseLineTooLong, CloseAuthFailures, CloseInternalError, CloseShutdown,
		CloseTooManyConns, CloseTLSFailed:
		if tc, ok := s.conn.(*tls.Conn); ok {
			tc.SetWriteDeadline(time.Now().Add(lingerTime))
			tc.CloseWrite() // close_notify
		}
		if cw, ok := s.raw.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			s.raw.SetReadDeadline(time.Now().Add(lingerTime))
			io.CopyN(io.Discard, s.raw, lingerBytes)
		}
	}
	s.raw.Close()
}

func (s *session) setupIO(c net.Conn) {
	s.conn = c
	s.dw = deadlineWriter{conn: c, timeout: s.srv.idleTimeout()}
	if s.br == nil {
		s.br = readerPool.Get().(*bufio.Reader)
		s.bw = writerPool.Get().(*bufio.Writer)
	}
	s.br.Reset(c)
	s.bw.Reset(&s.dw)
}

func (s *session) releaseIO() {
	s.br.Reset(nil)
	s.bw.Reset(nil)
	readerPool.Put(s.br)
	writerPool.Put(s.bw)
}

// finish ends the session: it releases the maildrop and reports the close.
func (s *session) finish() {
	// Free the connection slot first: a session reported closed must not
	// keep counting against MaxConnections while its socket lingers.
	s.srv.active.Add(-1)
	if s.mbox != nil {
		mb := s.mbox
		s.mbox = nil
		func() {
			defer func() {
				if v := recover(); v != nil {
					s.srv.logf("pop3: %s: panic in Mailbox.Close: %v\n%s", s.raw.RemoteAddr(), v, debug.Stack())
				}
			}()
			if err := mb.Close(); err != nil {
				s.srv.logf("pop3: %s: close maildrop of %q: %v", s.raw.RemoteAddr(), s.user, err)
			}
		}()
	}
	if s.reason == "" {
		s.reason = CloseNetworkError
	}
	s.observe(Event{Kind: EventClose, Reason: s.reason, Err: s.endErr})
}

// end records why the session ends; the first reason wins.
func (s *session) end(r CloseReason, err error) {
	s.stopped = true
	if s.reason == "" {
		s.reason, s.endErr = r, err
	}
}

func (s *session) handshake() bool {
	tc := tls.Server(s.raw, s.srv.TLSConfig)
	tc.SetDeadline(time.Now().Add(s.srv.idleTimeout()))
	if err := tc.HandshakeContext(s.ctx); err != nil {
		s.end(CloseTLSFailed, err)
		return false
	}
	tc.SetDeadline(time.Time{})
	s.tls = true
	s.setupIO(tc)
	st := tc.ConnectionState()
	s.observe(Event{Kind: EventTLS, TLS: &st})
	return true
}

// loop reads and dispatches commands until the session ends.
func (s *session) loop() {
	for !s.stopped {
		// RFC 2449 section 6.6 (PIPELINING): replies to pipelined commands
		// may be sent together, so flush only when no input is waiting.
		if s.br.Buffered() == 0 && !s.flush() {
			return
		}
		line, err := s.readLine()
		if err != nil {
			s.readFailed(err)
			s.flush()
			return
		}
		s.command(line)
	}
	s.flush()
}

// readLine reads one line, without its CRLF (or bare LF), in at most
// IdleTimeout. The returned slice is valid until the next read.
func (s *session) readLine() ([]byte, error) {
	s.conn.SetReadDeadline(time.Now().Add(s.srv.idleTimeout()))
	if s.srv.closing.Load() {
		return nil, ErrServerClosed
	}
	max := s.srv.maxLineLength()
	var line []byte
	for {
		chunk, err := s.br.ReadSlice('\n')
		if len(line)+len(chunk) > max {
			return nil, errLineTooLong
		}
		if err == nil {
			if line == nil {
				line = chunk
			} else {
				line = append(line, chunk...)
			}
			break
		}
		if err != bufio.ErrBufferFull {
			return nil, err
		}
		// The bufio buffer may be smaller than MaxLineLength.
		line = append(line, chunk...)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// readFailed ends the session after a read error, replying where RFC 1939
// lets us.
func (s *session) readFailed(err error) {
	switch {
	case errors.Is(err, errLineTooLong):
		s.end(CloseLineTooLong, err)
		s.reply(false, "line too long")
	case errors.Is(err, ErrServerClosed) || s.srv.closing.Load() && errors.Is(err, os.ErrDeadlineExceeded):
		s.end(CloseShutdown, nil)
		s.reply(false, "[SYS/TEMP] server shutting down")
	case errors.Is(err, os.ErrDeadlineExceeded):
		// RFC 1939 section 3: on autologout the server closes the
		// connection without a response and without entering UPDATE.
		s.end(CloseIdle, err)
	case errors.Is(err, io.EOF):
		s.end(CloseClient, nil)
	default:
		s.end(CloseNetworkError, err)
	}
}

// reply writes a one-line response. RFC 1939 section 3: responses are
// "+OK" or "-ERR", optionally followed by text.
func (s *session) reply(ok bool, text string) {
	s.lastOK = ok
	if ok {
		s.bw.WriteString("+OK")
	} else {
		s.bw.WriteString("-ERR")
	}
	if text != "" {
		s.bw.WriteByte(' ')
		s.bw.WriteString(text)
	}
	s.bw.WriteString("\r\n")
}

func (s *session) flush() bool {
	if err := s.bw.Flush(); err != nil {
		s.end(classifyWriteError(err), err)
		return false
	}
	return true
}

func classifyWriteError(err error) CloseReason {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return CloseIdle
	}
	return CloseNetworkError
}

// deadlineWriter bounds each write on the connection by the idle timeout, so
// a client that stops reading (a full TCP window) cannot pin the session.
type deadlineWriter struct {
	conn    net.Conn
	timeout time.Duration
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	return w.conn.Write(p)
}

// command handles one command line, turning a panic into "-ERR" and the end
// of the session: after a panic the session's state cannot be trusted.
func (s *session) command(line []byte) {
	verb, args := splitCommand(line)
	ev := Event{Kind: EventCommand, Verb: verb, Args: args}
	defer func() {
		if v := recover(); v != nil {
			if _, logged := v.(backendPanic); !logged {
				s.srv.logf("pop3: %s: panic handling %s: %v\n%s", s.raw.RemoteAddr(), verb, v, debug.Stack())
			}
			s.end(CloseInternalError, fmt.Errorf("panic: %v", v))
			s.reply(false, "[SYS/TEMP] internal server error")
			ev.OK = false
			s.observe(ev)
		}
	}()
	switch verb {
	case "PASS":
		ev.Args = RedactedArg
	case "AUTH":
		if mech, ir, ok := strings.Cut(args, " "); ok && ir != "" {
			ev.Args = mech + " " + RedactedArg
		}
	}
	s.dispatch(verb, args)
	ev.OK = s.lastOK
	s.observe(ev)
}

// splitCommand splits a line into its keyword, upper-cased (RFC 1939
// section 3: keywords are case-insensitive), and the rest.
func splitCommand(line []byte) (verb, args string) {
	line = bytes.TrimLeft(line, " ")
	v, a, _ := bytes.Cut(line, []byte{' '})
	return strings.ToUpper(string(v)), string(a)
}

func (s *session) dispatch(verb, args string) {
	switch verb {
	case "CAPA":
		s.capa()
		return
	case "QUIT":
		s.quit()
		return
	case "APOP":
		s.reply(false, "APOP not supported")
		return
	}
	if s.state == stateAuthorization {
		s.authorization(verb, args)
		return
	}
	s.transaction(verb, args)
}

// transactionVerbs are valid only after login.
var transactionVerbs = map[string]bool{
	"STAT": true, "LIST": true, "UIDL": true, "RETR": true, "TOP": true,
	"DELE": true, "NOOP": true, "RSET": true,
}

func (s *session) authorization(verb, args string) {
	wasUser := s.pendingUser
	s.pendingUser = ""
	switch verb {
	case "STLS":
		s.stls(args)
	case "USER":
		switch {
		case s.srv.RequireTLS && !s.tls:
			s.reply(false, "[AUTH] STLS first")
		case args == "" || strings.ContainsRune(args, ' '):
			s.reply(false, "usage: USER name")
		default:
			s.pendingUser = args
			// The reply must not reveal whether the user exists.
			s.reply(true, "send PASS")
		}
	case "PASS":
		switch {
		case wasUser == "":
			s.reply(false, "USER first")
		default:
			// RFC 1939 section 7: the password is the rest of the line,
			// spaces included.
			s.login(wasUser, args)
		}
	case "AUTH":
		s.auth(args)
	default:
		if transactionVerbs[verb] || verb == "STLS" {
			s.reply(false, "command not valid before login")
		} else {
			s.reply(false, "unknown command")
		}
	}
}

// capa answers RFC 2449 section 5. Capabilities depend on the state: STLS
// only before TLS, USER and SASL only before login (RFC 2449 section 6).
func (s *session) capa() {
	s.reply(true, "capability list follows")
	w := s.bw
	w.WriteString("TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n")
	if s.state == stateAuthorization {
		if s.srv.TLSConfig != nil && !s.tls {
			w.WriteString("STLS\r\n")
		}
		if !s.srv.RequireTLS || s.tls {
			w.WriteString("USER\r\nSASL PLAIN\r\n")
		}
	}
	w.WriteString("IMPLEMENTATION purpleharness\r\n.\r\n")
}

// stls upgrades the connection (RFC 2595 section 4).
func (s *session) stls(args string) {
	switch {
	case args != "":
		s.reply(false, "STLS takes no argument")
		return
	case s.srv.TLSConfig == nil:
		s.reply(false, "STLS not available")
		return
	case s.tls:
		s.reply(false, "already using TLS")
		return
	}
	s.reply(true, "begin TLS negotiation")
	if !s.flush() {
		return
	}
	// Anything the client sent after STLS and before the handshake was
	// sent in clear and may have been injected by a man in the middle
	// (the STARTTLS command injection of CVE-2011-0411): drop it.
	if n := s.br.Buffered(); n > 0 {
		s.br.Discard(n)
		s.end(CloseTLSFailed, errors.New("pop3: data pipelined after STLS"))
		return
	}
	if !s.handshake() {
		return
	}
	// RFC 2595 section 4: the client must discard what it knew (CAPA) and
	// the server forgets any pending USER.
	s.pendingUser = ""
}

// auth implements RFC 5034 AUTH for the PLAIN mechanism (RFC 4616).
func (s *session) auth(args string) {
	if s.srv.RequireTLS && !s.tls {
		s.reply(false, "[AUTH] STLS first")
		return
	}
	if args == "" {
		// Not in RFC 5034, but widely implemented (it was in the draft):
		// "AUTH" alone lists the mechanisms.
		s.reply(true, "")
		s.bw.WriteString("PLAIN\r\n.\r\n")
		return
	}
	mech, ir, hasIR := strings.Cut(args, " ")
	if !strings.EqualFold(mech, "PLAIN") {
		s.reply(false, "unsupported authentication mechanism")
		return
	}
	if !hasIR {
		// RFC 5034 section 4: a continuation is "+ " and base64 data.
		s.bw.WriteString("+ \r\n")
		if !s.flush() {
			return
		}
		line, err := s.readLine()
		if err != nil {
			s.readFailed(err)
			return
		}
		ir = string(line)
		s.observe(Event{Kind: EventCommand, Args: RedactedArg, OK: true})
		if ir == "*" {
			s.reply(false, "authentication cancelled")
			return
		}
	} else if ir == "=" {
		// RFC 5034 section 4: "=" is an empty initial response.
		ir = ""
	}
	resp, err := base64.StdEncoding.DecodeString(ir)
	if err != nil {
		s.reply(false, "invalid base64 in SASL response")
		return
	}
	// RFC 4616 section 2: message = [authzid] NUL authcid NUL passwd.
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		s.reply(false, "malformed PLAIN response")
		return
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && authz != user {
		// We cannot act as another user: treat like a bad password.
		s.loginFailed(user, fmt.Errorf("%w: authorization identity %q differs from %q", ErrAuthFailed, authz, user))
		return
	}
	s.login(user, pass)
}

// login asks the backend and enters TRANSACTION on success.
func (s *session) login(user, pass string) {
	var (
		mb   Mailbox
		msgs []MessageInfo
		err  error
	)
	s.guard("Backend.Login", func() { mb, err = s.srv.Backend.Login(s.ctx, user, pass) })
	if err == nil && mb == nil {
		err = errors.New("backend returned no mailbox")
	}
	if err != nil {
		s.loginFailed(user, err)
		return
	}
	s.mbox = mb // from here on finish() closes it, even after a panic
	s.guard("Mailbox.Messages", func() { msgs, err = mb.Messages() })
	for _, m := range msgs {
		if err == nil && (!validUID(m.UID) || m.Size < 0) {
			// A backend bug: a UID with a space or CRLF would corrupt
			// UIDL replies. Refuse the maildrop rather than the wire.
			err = fmt.Errorf("backend listed an invalid message: UID %q (RFC 1939 section 7: 1-70 characters 0x21-0x7E), size %d", m.UID, m.Size)
		}
	}
	if err != nil {
		s.srv.logf("pop3: %s: list maildrop of %q: %v", s.raw.RemoteAddr(), user, err)
		s.mbox = nil
		s.guard("Mailbox.Close", func() { mb.Close() })
		s.observe(Event{Kind: EventLogin, User: user, Err: err})
		s.reply(false, "[SYS/TEMP] cannot read maildrop")
		return
	}
	s.state, s.user, s.msgs = stateTransaction, user, msgs
	s.deleted = make([]bool, len(msgs))
	s.observe(Event{Kind: EventLogin, User: user, OK: true})
	n, size := s.stat()
	s.reply(true, fmt.Sprintf("%s's maildrop has %s (%d octets)", user, messages(n), size))
}

func (s *session) loginFailed(user string, err error) {
	s.observe(Event{Kind: EventLogin, User: user, Err: err})
	switch {
	case errors.Is(err, ErrInUse):
		s.reply(false, "[IN-USE] maildrop locked by another session")
		return
	case errors.Is(err, ErrAuthFailed):
	default:
		s.srv.logf("pop3: %s: login %q: %v", s.raw.RemoteAddr(), user, err)
		s.reply(false, "[SYS/TEMP] cannot log in now")
		return
	}
	s.authFailures++
	if s.authFailures >= s.srv.maxAuthFailures() {
		s.end(CloseAuthFailures, err)
		s.reply(false, "[AUTH] invalid credentials; too many failures, closing")
		return
	}
	s.reply(false, "[AUTH] invalid credentials")
}

// guard runs a backend call. If it panics, guard logs the panic with the
// name of the call and its stack, then re-raises it as a backendPanic, which
// command's recover turns into "-ERR [SYS/TEMP]" and the end of the session
// without logging it a second time.
func (s *session) guard(what string, fn func()) {
	defer func() {
		if v := recover(); v != nil {
			s.srv.logf("pop3: %s: panic in %s: %v\n%s", s.raw.RemoteAddr(), what, v, debug.Stack())
			panic(backendPanic{what, v})
		}
	}()
	fn()
}

// backendPanic re-raises a backend panic once logged, so command() replies
// "-ERR" and ends the session without logging it twice.
type backendPanic struct {
	what string
	v    any
}

func (p backendPanic) String() string { return fmt.Sprintf("%s: %v", p.what, p.v) }

// validUID reports whether uid is a unique-id as RFC 1939 section 7
// defines it: 1 to 70 characters from 0x21 to 0x7E.
func validUID(uid string) bool {
	if len(uid) < 1 || len(uid) > 70 {
		return false
	}
	for i := 0; i < len(uid); i++ {
		if uid[i] < 0x21 || uid[i] > 0x7e {
			return false
		}
	}
	return true
}

func (s *session) stat() (n int, size int64) {
	for i, m := range s.msgs {
		if !s.deleted[i] {
			n++
			size += m.Size
		}
	}
	return n, size
}

func (s *session) transaction(verb, args string) {
	switch verb {
	case "STAT":
		if args != "" {
			s.reply(false, "STAT takes no argument")
			return
		}
		n, size := s.stat()
		s.reply(true, strconv.Itoa(n)+" "+strconv.FormatInt(size, 10))
	case "LIST", "UIDL":
		s.list(verb, args)
	case "RETR":
		i, ok := s.message(args)
		if ok {
			s.retrieve(i, -1)
		}
	case "TOP":
		msg, lines, _ := strings.Cut(args, " ")
		i, ok := s.message(msg)
		if !ok {
			return
		}
		n, err := strconv.Atoi(lines)
		if err != nil || n < 0 || !allDigits(lines) {
			s.reply(false, "usage: TOP msg lines")
			return
		}
		s.retrieve(i, n)
	case "DELE":
		i, ok := s.message(args)
		if ok {
			s.deleted[i] = true
			s.reply(true, "message "+strconv.Itoa(i+1)+" deleted")
		}
	case "NOOP":
		s.reply(true, "")
	case "RSET":
		clear(s.deleted)
		n, size := s.stat()
		s.reply(true, fmt.Sprintf("maildrop has %s (%d octets)", messages(n), size))
	default:
		if verb == "USER" || verb == "PASS" || verb == "AUTH" || verb == "STLS" {
			s.reply(false, "command not valid after login")
		} else {
			s.reply(false, "unknown command")
		}
	}
}

// message parses a message-number argument (RFC 1939 section 5) and checks
// it names a message not marked as deleted.
func (s *session) message(arg string) (int, bool) {
	if !allDigits(arg) {
		s.reply(false, "invalid message number")
		return 0, false
	}
	n, err := strconv.Atoi(arg)
	if err != nil || n < 1 || n > len(s.msgs) {
		s.reply(false, "no such message")
		return 0, false
	}
	if s.deleted[n-1] {
		s.reply(false, "message "+arg+" already deleted")
		return 0, false
	}
	return n - 1, true
}

func allDigits(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// list serves LIST and UIDL, with or without an argument.
func (s *session) list(verb, args string) {
	item := func(i int) string {
		if verb == "LIST" {
			return strconv.Itoa(i+1) + " " + strconv.FormatInt(s.msgs[i].Size, 10)
		}
		return strconv.Itoa(i+1) + " " + s.msgs[i].UID
	}
	if args != "" {
		if i, ok := s.message(args); ok {
			s.reply(true, item(i))
		}
		return
	}
	if verb == "LIST" {
		n, size := s.stat()
		s.reply(true, fmt.Sprintf("%s (%d octets)", messages(n), size))
	} else {
		s.reply(true, "unique-id listing follows")
	}
	for i := range s.msgs {
		if !s.deleted[i] {
			s.bw.WriteString(item(i))
			s.bw.WriteString("\r\n")
		}
	}
	s.bw.WriteString(".\r\n")
}

// retrieve sends message i, whole (lines < 0) or its headers and the first
// lines of its body (TOP).
func (s *session) retrieve(i, lines int) {
	var (
		rc  io.ReadCloser
		err error
	)
	s.guard("Mailbox.Open", func() { rc, err = s.mbox.Open(s.msgs[i].UID) })
	if err == nil && rc == nil {
		err = errors.New("backend returned no message")
	}
	if err != nil {
		s.srv.logf("pop3: %s: open message %s of %q: %v", s.raw.RemoteAddr(), s.msgs[i].UID, s.user, err)
		s.reply(false, "[SYS/TEMP] cannot read message")
		return
	}
	defer rc.Close()
	if lines < 0 {
		s.reply(true, strconv.FormatInt(s.msgs[i].Size, 10)+" octets")
	} else {
		s.reply(true, "top of message follows")
	}
	octets, err := writeMessage(s.bw, rc, lines)
	if err == nil && lines < 0 && octets != s.msgs[i].Size {
		// The client was told Size octets. Most clients cope, but the
		// backend has a bug (often: counting LF line ends as one octet).
		s.srv.logf("pop3: %s: message %s of %q: backend size %d, but %d octets sent (RFC 1939 section 11 counts CRLF line ends)",
			s.raw.RemoteAddr(), s.msgs[i].UID, s.user, s.msgs[i].Size, octets)
	}
	if err != nil {
		// The "+OK" is out: the only honest signal left is to close.
		if errors.Is(err, errWrite) {
			s.end(classifyWriteError(err), err)
		} else {
			s.srv.logf("pop3: %s: read message %s of %q: %v", s.raw.RemoteAddr(), s.msgs[i].UID, s.user, err)
			s.end(CloseInternalError, err)
		}
	}
}

// quit ends the session; from TRANSACTION it enters UPDATE and deletes the
// marked messages (RFC 1939 section 6).
func (s *session) quit() {
	s.end(CloseQuit, nil)
	if s.state != stateTransaction {
		s.reply(true, "bye")
		return
	}
	var uids []string
	for i, d := range s.deleted {
		if d {
			uids = append(uids, s.msgs[i].UID)
		}
	}
	if len(uids) > 0 {
		var err error
		s.guard("Mailbox.Delete", func() { err = s.mbox.Delete(uids) })
		if err != nil {
			s.srv.logf("pop3: %s: delete messages of %q: %v", s.raw.RemoteAddr(), s.user, err)
			s.reply(false, "[SYS/TEMP] some deleted messages not removed")
			return
		}
	}
	n, _ := s.stat()
	s.reply(true, fmt.Sprintf("bye (%s left)", messages(n)))
}

// observe reports ev to the backend's Observer, if any. A panicking
// observer is logged and forgotten: it must not take the session down.
func (s *session) observe(ev Event) {
	if s.obs == nil {
		return
	}
	ev.Time = time.Now()
	if ev.User == "" {
		ev.User = s.user
	}
	defer func() {
		if v := recover(); v != nil {
			s.srv.logf("pop3: %s: panic in Observer.Observe: %v\n%s", s.raw.RemoteAddr(), v, debug.Stack())
			s.obs = nil
		}
	}()
	s.obs.Observe(s.ctx, ev)
}

// messages renders a message count for reply texts.
func messages(n int) string {
	if n == 1 {
		return "1 message"
	}
	return strconv.Itoa(n) + " messages"
}
