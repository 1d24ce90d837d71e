package pop3

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"
)

// Sentinel errors a Backend returns from Login so the server can pick the
// reply. Anything else is reported to the client as a temporary system error
// ("-ERR [SYS/TEMP]") and logged.
var (
	// ErrAuthFailed means the user name or password is wrong. The client gets
	// "-ERR [AUTH] ..." (RFC 3206 section 5) and the failure counts towards
	// Server.MaxAuthFailures.
	ErrAuthFailed = errors.New("pop3: authentication failed")
	// ErrInUse means the credentials are right but the maildrop is locked by
	// another session. RFC 1939 section 4 lets a server refuse a second
	// session on one maildrop; the client gets "-ERR [IN-USE] ..." (RFC 2449
	// section 8.1.1). It does not count as an authentication failure.
	ErrInUse = errors.New("pop3: maildrop in use")
)

// ErrServerClosed is returned by Serve and ServeTLS after Shutdown or Close.
var ErrServerClosed = errors.New("pop3: server closed")

// Backend owns the mail; the Server owns only the wire. Login is called once
// per successful USER/PASS or AUTH PLAIN exchange.
//
// ctx is cancelled when the connection ends; ConnFromContext(ctx) returns the
// connection as the listener accepted it, so a backend that wraps its
// listener (to tee a transcript, say) can tie the login to its own record.
type Backend interface {
	Login(ctx context.Context, username, password string) (Mailbox, error)
}

// MessageInfo describes one message of a maildrop.
type MessageInfo struct {
	// UID is the message's unique-id listing (RFC 1939 section 7): 1 to 70
	// characters in the range 0x21 to 0x7E, stable across sessions. The
	// server sends it verbatim in UIDL replies and passes it back to Open and
	// Delete.
	UID string
	// Size is the message's size in octets as the server sends it: with
	// CRLF line endings and before byte-stuffing (RFC 1939 section 11). The
	// server converts bare LF to CRLF on the wire, so a backend storing LF
	// text must count the CRs it does not store.
	Size int64
}

// Mailbox is one user's maildrop for the length of one session.
//
// Messages is called once, right after Login: the slice it returns fixes the
// message numbers for the session (message n is element n-1), as RFC 1939
// section 4 requires, even if new mail arrives meanwhile. Open and Delete
// refer to messages by UID rather than by number because the mail store is
// shared with SMTP and IMAP and its own indices may move under the session.
//
// The server calls the methods of one Mailbox from one goroutine.
type Mailbox interface {
	// Messages lists the maildrop in order.
	Messages() ([]MessageInfo, error)
	// Open returns the full message (headers and body). The server closes it.
	Open(uid string) (io.ReadCloser, error)
	// Delete removes the messages for good. It is called at most once, in
	// the UPDATE state (RFC 1939 section 6), that is only after the client
	// sent QUIT in the TRANSACTION state and only if it marked messages
	// with DELE and did not RSET them.
	Delete(uids []string) error
	// Close releases the maildrop (its lock, say). It is called exactly once
	// per successful Login, however the session ends.
	Close() error
}

// Observer is an optional interface a Backend implements to be told what
// happens on each connection: connect, TLS handshakes, every command with
// its reply status, logins and how the session ended. Secrets are redacted
// before Observe sees them. Observe is called synchronously from the
// session's goroutine, so it must be quick and must not block.
type Observer interface {
	Observe(ctx context.Context, ev Event)
}

// EventKind says what an Event reports.
type EventKind string

// Event kinds, in the order a session produces them.
const (
	EventConnect EventKind = "connect" // connection accepted, before the greeting
	EventTLS     EventKind = "tls"     // TLS handshake done (implicit TLS or STLS); Event.TLS set
	EventCommand EventKind = "command" // one command line handled; Verb, Args, OK set
	EventLogin   EventKind = "login"   // a login attempt; User, OK and (on failure) Err set
	EventClose   EventKind = "close"   // session over; Reason set
)

// CloseReason says how a session ended.
type CloseReason string

// Ways a session ends.
const (
	CloseQuit          CloseReason = "quit"                 // the client sent QUIT
	CloseClient        CloseReason = "client-closed"        // the client closed the connection (EOF)
	CloseIdle          CloseReason = "idle-timeout"         // nothing read or written for Server.IdleTimeout
	CloseLineTooLong   CloseReason = "line-too-long"        // a line exceeded Server.MaxLineLength
	CloseAuthFailures  CloseReason = "auth-failures"        // Server.MaxAuthFailures reached
	CloseTooManyConns  CloseReason = "too-many-connections" // refused at the greeting: Server.MaxConnections reached
	CloseTLSFailed     CloseReason = "tls-handshake-failed" // a TLS handshake failed, or clear text followed STLS
	CloseShutdown      CloseReason = "server-shutdown"      // Shutdown or Close
	CloseInternalError CloseReason = "internal-error"       // a panic in the server or the backend
	CloseNetworkError  CloseReason = "network-error"        // any other read or write error
)

// Event is one thing that happened on a connection.
type Event struct {
	Kind EventKind
	Time time.Time
	// Verb is the command keyword in upper case ("RETR"); Args the rest of
	// the line. PASS arguments and SASL responses are replaced by
	// RedactedArg. An AUTH continuation line is its own EventCommand with
	// Verb "" and Args RedactedArg, reported before the AUTH command's
	// event, which comes once the exchange is over.
	Verb string
	Args string
	// OK is the reply status of a command or the outcome of a login.
	OK bool
	// User is the login name of an EventLogin (also on failure) and, once
	// logged in, of every later event of the session.
	User string
	// TLS is the connection state after a handshake (EventTLS).
	TLS *tls.ConnectionState
	// Err is the error behind a failed login, a failed handshake or an
	// abnormal end of session.
	Err error
	// Reason is set on EventClose.
	Reason CloseReason
}

// RedactedArg replaces secrets in Event.Args.
const RedactedArg = "<redacted>"

type connKey struct{}

// ConnFromContext returns the connection of the session ctx belongs to, as
// the listener returned it (not the *tls.Conn layered on it).
func ConnFromContext(ctx context.Context) (net.Conn, bool) {
	c, ok := ctx.Value(connKey{}).(net.Conn)
	return c, ok
}
