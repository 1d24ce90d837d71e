package pop3

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGoldenTranscript runs one session covering every command over a real
// socket and compares the transcript, both sides, with
// testdata/session.golden. Rewrite it with go test -run Golden -update
// and review the diff.
func TestGoldenTranscript(t *testing.T) {
	ts := startServer(t, nil)
	c, greeting := dial(t, ts.addr)
	var tr strings.Builder
	tr.WriteString("S: " + greeting + "\n")

	dialogue := []struct {
		send  string
		multi bool // a "+OK" reply is followed by a body ending in "."
	}{
		{"CAPA", true},
		{"AUTH", true},
		{"STAT", false},
		{"USER c2", false},
		{"PASS wrong", false},
		{"AUTH PLAIN", false},
		{"AGMyAGF0b21pYy1yZWQ=", false},
		{"STAT", false},
		{"LIST", true},
		{"LIST 2", false},
		{"UIDL", true},
		{"TOP 1 1", true},
		{"RETR 1", true},
		{"RETR 2", true},
		{"DELE 1", false},
		{"RETR 1", true},
		{"LIST", true},
		{"RSET", false},
		{"DELE 2", false},
		{"NOOP", false},
		{"XYZZY", false},
		{"CAPA", true},
		{"QUIT", false},
	}
	for _, d := range dialogue {
		tr.WriteString("C: " + d.send + "\n")
		reply := c.cmd(d.send)
		tr.WriteString("S: " + reply + "\n")
		if d.multi && strings.HasPrefix(reply, "+OK") {
			for l := c.line(); ; l = c.line() {
				tr.WriteString("S: " + l + "\n")
				if l == "." || l == "<EOF>" {
					break
				}
			}
		}
	}
	tr.WriteString("S: " + c.line() + "\n")

	golden := filepath.Join("testdata", "session.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(tr.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got := tr.String(); got != string(want) {
		t.Errorf("transcript differs from %s (rerun with -update and review the diff):\n%s", golden, diffLines(string(want), got))
	}
	waitFor(t, func() bool { return len(ts.backend.eventsOf(EventClose)) == 1 })
	if got := ts.backend.uids("c2"); len(got) != 1 || got[0] != "uid-tasking-1" {
		t.Errorf("maildrop after the session = %q, want [uid-tasking-1]", got)
	}
}

// diffLines shows the first differing line with its number.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  want %q\n  got  %q", i+1, wl, gl)
		}
	}
	return "(no line differs)"
}
