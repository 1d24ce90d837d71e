package pop3

import (
	"bytes"
	"io"
	"log"
	"net"
	"strings"
	"testing"
	"time"
)

// pipeConn is a net.Conn whose client side is a fixed input: it lets the
// fuzzer drive the command loop without sockets. Deadlines are accepted and
// ignored (the input never blocks).
type pipeConn struct {
	in  io.Reader
	out bytes.Buffer
}

func (c *pipeConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *pipeConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *pipeConn) Close() error                { return nil }
func (c *pipeConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 110} }
func (c *pipeConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (c *pipeConn) SetDeadline(time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(time.Time) error { return nil }

// maxReply bounds what one client line can make the server send with the
// fuzz backend (its largest response is RETR of the 114-octet message).
const maxReply = 512

// FuzzPOP3Session feeds arbitrary client bytes through a whole session and
// checks the server's side of the wire:
//   - it ends (no hang) without a panic escaping;
//   - every line ends in CRLF and no bare LF is sent;
//   - every line is a status line ("+OK", "-ERR", or "+ " for a SASL
//     continuation) or part of a multi-line body that follows a "+OK" and
//     ends with "." before the next status line;
//   - at most one status line per client line, plus the greeting;
//   - output is bounded by the input (bounded memory).
func FuzzPOP3Session(f *testing.F) {
	for _, seed := range []string{
		"USER c2\r\nPASS atomic-red\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 2 1\r\nDELE 1\r\nRSET\r\nNOOP\r\nQUIT\r\n",
		"CAPA\r\nAUTH PLAIN\r\nAGMyAGF0b21pYy1yZWQ=\r\nRETR 2\r\nQUIT\r\n",
		"AUTH PLAIN AGMyAGF0b21pYy1yZWQ=\nLIST 1\nUIDL 2\nTOP 1 0\n",
		"AUTH\r\nAUTH PLAIN\r\n*\r\nAUTH LOGIN\r\nAPOP a b\r\nSTLS x\r\nSTLS\r\n",
		"STLS\r\n\x16\x03\x01\x00\x05hello",
		"USER c2\r\nPASS x\r\nUSER c2\r\nPASS y\r\nUSER c2\r\nPASS z\r\nUSER c2\r\n",
		"USER bomb\r\nPASS x\r\nRETR 1\r\n",
		"USER panic\r\nPASS x\r\n",
		strings.Repeat("A", 100) + "\r\n",
		"\x00\xff\r\n\r\n \r\nLIST -1\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		backend := newMemBackend()
		delete(backend.users, "slow")  // would block until the session ends
		delete(backend.users, "flaky") // a torn RETR legitimately ends mid-body
		srv := &Server{Backend: backend, MaxLineLength: 64, TLSConfig: testTLSConfig(t),
			ErrorLog: log.New(io.Discard, "", 0)}
		conn := &pipeConn{in: bytes.NewReader(input)}
		srv.serveConn(conn)
		out := conn.out.Bytes()
		// After a successful STLS the rest is TLS records (here: an alert
		// for the fuzzer's handshake bytes), not POP3 lines.
		if i := bytes.Index(out, []byte("+OK begin TLS negotiation\r\n")); i >= 0 {
			out = out[:i+len("+OK begin TLS negotiation\r\n")]
		}
		checkReplies(t, input, out)
	})
}

func checkReplies(t *testing.T, input, out []byte) {
	t.Helper()
	inLines := bytes.Count(input, []byte{'\n'}) + 1
	if len(out) > (inLines+1)*maxReply {
		t.Fatalf("%d octets of output for %d input lines", len(out), inLines)
	}
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		t.Fatalf("output does not end in CRLF: %q", out)
	}
	var (
		status   int
		inBody   bool // inside a multi-line body
		afterOK  bool // the previous line was "+OK ..."
		lines    = strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n")
		isStatus = func(l string) bool {
			return l == "+OK" || l == "-ERR" || l == "+ " ||
				strings.HasPrefix(l, "+OK ") || strings.HasPrefix(l, "-ERR ")
		}
	)
	if len(out) == 0 {
		lines = nil
	}
	for i, l := range lines {
		if strings.Contains(l, "\n") {
			t.Fatalf("line %d %q has a bare LF", i, l)
		}
		switch {
		case inBody && l == ".":
			inBody, afterOK = false, false
		case inBody:
			if isStatus(l) {
				t.Fatalf("line %d %q: status line inside an unterminated body\n%s", i, l, out)
			}
		case isStatus(l):
			status++
			afterOK = strings.HasPrefix(l, "+OK")
		case afterOK:
			inBody = l != "."
			afterOK = false
		default:
			t.Fatalf("line %d %q is neither a status line nor in a body\n%s", i, l, out)
		}
	}
	if inBody {
		t.Fatalf("output ends inside a multi-line body\n%s", out)
	}
	if status > inLines+1 {
		t.Fatalf("%d status lines for %d input lines", status, inLines)
	}
}
