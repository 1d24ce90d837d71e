package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func render(t testing.TB, msg string, lines int) (string, error) {
	t.Helper()
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	octets, err := writeMessage(w, strings.NewReader(msg), lines)
	w.Flush()
	// octets is the output without stuffing and terminator.
	if err == nil {
		if want := int64(len(unstuff(t, out.String()))); octets != want {
			t.Errorf("writeMessage(%.40q, %d) counted %d octets, sent %d", msg, lines, octets, want)
		}
	}
	return out.String(), err
}

func TestWriteMessage(t *testing.T) {
	long := strings.Repeat("x", 4096)
	tests := []struct {
		name  string
		msg   string
		lines int
		want  string
	}{
		{"empty", "", -1, ".\r\n"},
		{"no final newline", "a", -1, "a\r\n.\r\n"},
		{"bare LF", "a\nb\n", -1, "a\r\nb\r\n.\r\n"},
		{"CRLF kept", "a\r\nb\r\n", -1, "a\r\nb\r\n.\r\n"},
		{"lone dot is stuffed", "a\r\n.\r\nb\r\n", -1, "a\r\n..\r\nb\r\n.\r\n"},
		{"leading dots are stuffed once", "..x\n.\n", -1, "...x\r\n..\r\n.\r\n"},
		{"dot inside a line is not", "a.b\n a\n", -1, "a.b\r\n a\r\n.\r\n"},
		{"bare CR kept", "a\rb\n", -1, "a\rb\r\n.\r\n"},
		{"trailing CR without LF", "a\r", -1, "a\r\r\n.\r\n"},
		{"long line: dot after the buffer boundary is not stuffed", long + ".y\n.z\n", -1, long + ".y\r\n..z\r\n.\r\n"},
		{"long line: CRLF split across the buffer boundary", long[1:] + "\r\n.\n", -1, long[1:] + "\r\n..\r\n.\r\n"},
		{"top 0", "A: 1\nB: 2\n\nl1\nl2\nl3\n", 0, "A: 1\r\nB: 2\r\n\r\n.\r\n"},
		{"top 2", "A: 1\nB: 2\n\nl1\nl2\nl3\n", 2, "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n.\r\n"},
		{"top more than the body", "A: 1\r\n\r\nl1\r\n", 10, "A: 1\r\n\r\nl1\r\n.\r\n"},
		{"top without a body", "A: 1\r\nB: 2\r\n", 1, "A: 1\r\nB: 2\r\n.\r\n"},
		{"top counts a long line once", "A: 1\n\n" + long + long + "\nl2\n", 1, "A: 1\r\n\r\n" + long + long + "\r\n.\r\n"},
		{"top stuffs body lines", "A: 1\n\n.hidden\nl2\n", 1, "A: 1\r\n\r\n..hidden\r\n.\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := render(t, tt.msg, tt.lines)
			if err != nil {
				t.Fatalf("writeMessage(%.40q, %d) error %v", tt.msg, tt.lines, err)
			}
			if got != tt.want {
				t.Errorf("writeMessage(%.40q, %d):\ngot  %q\nwant %q", tt.msg, tt.lines, got, tt.want)
			}
		})
	}
}

func TestWriteMessageErrors(t *testing.T) {
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	readErr := errors.New("disk on fire")
	_, err := writeMessage(w, iotest.TimeoutReader(strings.NewReader("a\n")), -1)
	if err == nil || errors.Is(err, errWrite) {
		t.Errorf("read error: got %v, want a read error", err)
	}
	_, err = writeMessage(w, iotest.ErrReader(readErr), -1)
	if !errors.Is(err, readErr) || errors.Is(err, errWrite) {
		t.Errorf("read error: got %v, want it to wrap %v", err, readErr)
	}
	w = bufio.NewWriterSize(failWriter{}, 16)
	_, err = writeMessage(w, strings.NewReader(strings.Repeat("line\n", 100)), -1)
	if !errors.Is(err, errWrite) {
		t.Errorf("write error: got %v, want errWrite", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("connection gone") }

// normalize is what a message must look like on the wire before
// byte-stuffing: every line CRLF-terminated, bare LF made CRLF.
func normalize(msg string) string {
	var b strings.Builder
	segs := strings.Split(msg, "\n")
	for i, seg := range segs {
		if i == len(segs)-1 {
			if seg != "" {
				b.WriteString(seg + "\r\n")
			}
			break
		}
		b.WriteString(strings.TrimSuffix(seg, "\r") + "\r\n")
	}
	return b.String()
}

// unstuff decodes a multi-line response body; it fails on a body that is
// not CRLF lines ending in ".\r\n" or that contains an unstuffed ".".
func unstuff(t testing.TB, out string) string {
	t.Helper()
	body, ok := strings.CutSuffix(out, ".\r\n")
	if !ok {
		t.Fatalf("output %q does not end in .CRLF", out)
	}
	if body != "" && !strings.HasSuffix(body, "\r\n") {
		t.Fatalf("body %q does not end in CRLF", body)
	}
	lines := strings.SplitAfter(body, "\r\n")
	var b strings.Builder
	for _, l := range lines {
		if l == ".\r\n" {
			t.Fatalf("unstuffed terminator inside the body of %q", out)
		}
		if strings.Contains(strings.TrimSuffix(l, "\r\n"), "\n") {
			t.Fatalf("bare LF in line %q", l)
		}
		b.WriteString(strings.TrimPrefix(l, "."))
	}
	return b.String()
}

// FuzzWriteMessage checks RETR and TOP encoding round-trips: unstuffing
// the output gives the normalized message back (all of it for RETR, a
// prefix of it for TOP), whatever the bytes.
func FuzzWriteMessage(f *testing.F) {
	f.Add(tasking, -1)
	f.Add(lfMessage, 1)
	f.Add(".\r\n..\n\r.\r", -1)
	f.Add(strings.Repeat("y", 4095)+"\r\n.", 0)
	f.Fuzz(func(t *testing.T, msg string, lines int) {
		if lines < -1 {
			lines = -1
		}
		out, err := render(t, msg, lines)
		if err != nil {
			t.Fatalf("writeMessage: %v", err)
		}
		got, want := unstuff(t, out), normalize(msg)
		if lines < 0 && got != want {
			t.Fatalf("RETR round trip:\ngot  %q\nwant %q", got, want)
		}
		if lines >= 0 && !strings.HasPrefix(want, got) {
			t.Fatalf("TOP %d output %q is not a prefix of %q", lines, got, want)
		}
	})
}
