package fakemail

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// Session is the evidence of one accepted TCP connection: what the client
// did, as seen on the wire. It is recorded for every connection, including
// ones refused or closed before the greeting.
type Session struct {
	ID       uint64    `json:"id"`
	Service  Service   `json:"service"`
	Protocol Protocol  `json:"protocol"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Local    Endpoint  `json:"local"`
	Remote   Endpoint  `json:"remote"`
	// TLS is set once a handshake succeeded (implicit TLS or STARTTLS).
	TLS *TLSInfo `json:"tls,omitempty"`
	// Greeting is the server's first line; empty if the client left first.
	Greeting string `json:"greeting,omitempty"`
	// User is the login that authenticated successfully (never a password).
	User         string `json:"user,omitempty"`
	AuthFailures int    `json:"auth_failures,omitempty"`
	// Commands are the client's commands in order, secrets redacted.
	Commands []Command `json:"commands"`
	// CommandsDropped counts commands beyond the recording cap.
	CommandsDropped int `json:"commands_dropped,omitempty"`
	// Messages are the messages that crossed the wire, either way.
	Messages []MessageEvidence `json:"messages,omitempty"`
	BytesIn  int64             `json:"bytes_in"`
	BytesOut int64             `json:"bytes_out"`
	Ended    EndReason         `json:"ended"`
	Error    string            `json:"error,omitempty"`
	// Notes are protocol oddities worth a detection engineer's eye
	// (plaintext pipelined after STARTTLS, an unfinished message, ...).
	Notes []string `json:"notes,omitempty"`
}

// Endpoint is an IP address and port.
type Endpoint struct {
	IP   string `json:"ip"`
	Port int    `json:"port"`
}

func (e Endpoint) String() string { return net.JoinHostPort(e.IP, strconv.Itoa(e.Port)) }

func endpoint(a net.Addr) Endpoint {
	if t, ok := a.(*net.TCPAddr); ok {
		return Endpoint{IP: t.IP.String(), Port: t.Port}
	}
	if a == nil {
		return Endpoint{}
	}
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return Endpoint{IP: a.String()}
	}
	p, _ := strconv.Atoi(port)
	return Endpoint{IP: host, Port: p}
}

// TLSMode says how TLS started.
type TLSMode string

// TLS modes.
const (
	TLSImplicit TLSMode = "implicit" // from the first byte (465, 993, 995)
	TLSStartTLS TLSMode = "starttls" // upgraded by STARTTLS/STLS
)

// TLSInfo describes the client-facing TLS session.
type TLSInfo struct {
	Mode        TLSMode `json:"mode"`
	Version     string  `json:"version"`
	CipherSuite string  `json:"cipher_suite"`
	ServerName  string  `json:"server_name,omitempty"`
	ALPN        string  `json:"alpn,omitempty"`
}

// Command is one client command. Line is the command as sent, except that
// passwords and SASL payloads read "[redacted]".
type Command struct {
	Time time.Time `json:"time"`
	Verb string    `json:"verb"`
	Line string    `json:"line"`
	// Reply is the first line of the server's final reply, if one came.
	Reply string `json:"reply,omitempty"`
}

// Direction says which way a message travelled.
type Direction string

// Directions, relative to the server.
const (
	ToServer   Direction = "to-server"   // SMTP DATA/BDAT, IMAP APPEND
	FromServer Direction = "from-server" // POP3 RETR, IMAP FETCH BODY[]
)

// MessageEvidence identifies a message without keeping it.
type MessageEvidence struct {
	Direction Direction `json:"direction"`
	Verb      string    `json:"verb"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	// Head is the first bytes of the message (HeadBytes at most).
	Head string `json:"head"`
	// From and To are the SMTP envelope, for messages sent over SMTP.
	From string   `json:"from,omitempty"`
	To   []string `json:"to,omitempty"`
	// Complete is false if the transfer stopped before its end.
	Complete bool `json:"complete"`
}

// HeadBytes is how much of a message evidence keeps.
const HeadBytes = 64

// EndReason says how a session ended.
type EndReason string

// Ways a session ends (the same words as pop3.CloseReason).
const (
	EndQuit         EndReason = "quit"                 // QUIT/LOGOUT answered
	EndClient       EndReason = "client-closed"        // the client closed first
	EndServer       EndReason = "server-closed"        // the server closed first
	EndIdle         EndReason = "idle-timeout"         // Limits.IdleTimeout
	EndLineTooLong  EndReason = "line-too-long"        // Limits.MaxLineLength
	EndAuthFailures EndReason = "auth-failures"        // Limits.MaxAuthFailures
	EndTooManyConns EndReason = "too-many-connections" // Limits.MaxConnections
	EndEvicted      EndReason = "evicted"              // not logged in, quiet longest, when a new client came to a full service
	EndTLSFailed    EndReason = "tls-handshake-failed" // implicit TLS or STARTTLS
	EndShutdown     EndReason = "server-shutdown"      // Servers.Shutdown
	EndNetworkError EndReason = "network-error"        // any other error
)

// evidenceLog collects finished sessions and hands them to subscribers.
type evidenceLog struct {
	mu       sync.Mutex
	sessions []Session
	keep     int // sessions kept in memory; older ones are dropped
	dropped  int
	subs     map[int]chan Session
	nextSub  int
	onEnd    func(Session)
}

func (l *evidenceLog) add(s Session) {
	if l.onEnd != nil {
		l.onEnd(s)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sessions = append(l.sessions, s)
	if l.keep > 0 && len(l.sessions) > l.keep {
		// Drop the oldest half-window at once so appends stay amortised,
		// but always keep the session just added (KeepSessions 1).
		n := len(l.sessions) - max(l.keep/2, 1)
		l.dropped += n
		l.sessions = append([]Session(nil), l.sessions[n:]...)
	}
	for _, ch := range l.subs {
		select {
		case ch <- s:
		default: // a slow subscriber loses sessions rather than stalling a server
		}
	}
}

func (l *evidenceLog) all() []Session {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Session(nil), l.sessions...)
}

func (l *evidenceLog) subscribe(buf int) (<-chan Session, func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.subs == nil {
		l.subs = make(map[int]chan Session)
	}
	id := l.nextSub
	l.nextSub++
	ch := make(chan Session, buf)
	l.subs[id] = ch
	return ch, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if c, ok := l.subs[id]; ok {
			delete(l.subs, id)
			close(c)
		}
	}
}

// NDJSONWriter writes sessions as newline-delimited JSON, one object per
// line, safe for concurrent use.
type NDJSONWriter struct {
	mu  sync.Mutex
	w   io.Writer
	enc *json.Encoder
}

// NewNDJSONWriter returns a writer on w.
func NewNDJSONWriter(w io.Writer) *NDJSONWriter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &NDJSONWriter{w: w, enc: enc}
}

// Write writes one session.
func (w *NDJSONWriter) Write(s Session) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.enc.Encode(s)
}

// ReadNDJSON parses sessions written by NDJSONWriter; lines that are not
// JSON objects (a container's other output, say) are an error with the
// line number unless skipOther is set.
func ReadNDJSON(r io.Reader, skipOther bool) ([]Session, error) {
	var out []Session
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var s Session
		if line[0] != '{' || json.Unmarshal(line, &s) != nil || s.Service == "" {
			if skipOther {
				continue
			}
			return out, fmt.Errorf("evidence line %d: not a session record", n)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}
