package pop3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/prereq"
)

// run runs a real client with a timeout and returns its stdout.
func run(t *testing.T, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	path := prereq.LookPath(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		t.Logf("%s %s: %v\nstderr:\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), err
}

// TestCurl drives the server with curl, which uses CAPA and, seeing SASL
// PLAIN, logs in with AUTH PLAIN only (it does not fall back to USER/PASS).
func TestCurl(t *testing.T) {
	ts := startServer(t, nil)
	tests := []struct {
		name string
		args []string
		want string
		tls  bool // the session must have run over TLS
	}{
		{"list", []string{"pop3://" + ts.addr + "/"}, "1 114\r\n2 51\r\n", false},
		{"retr unstuffs and keeps CRLF", []string{"pop3://" + ts.addr + "/1"}, tasking, false},
		{"retr LF message arrives as CRLF", []string{"pop3://" + ts.addr + "/2"},
			strings.ReplaceAll(lfMessage, "\n", "\r\n"), false},
		{"sasl initial response", []string{"--sasl-ir", "pop3://" + ts.addr + "/1"}, tasking, false},
		{"uidl via custom request", []string{"-X", "UIDL", "pop3://" + ts.addr + "/"},
			"1 uid-tasking-1\r\n2 uid-second-2\r\n", false},
		{"top via custom request", []string{"-X", "TOP 2 1", "pop3://" + ts.addr + "/"},
			"Subject: second\r\n\r\nline one\r\n", false},
		{"pop3s implicit TLS", []string{"-k", "pop3s://" + ts.tlsAddr + "/1"}, tasking, true},
		{"stls with --ssl-reqd", []string{"-k", "--ssl-reqd", "pop3://" + ts.addr + "/1"}, tasking, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(ts.backend.eventsOf(EventClose))
			tlsBefore := len(ts.backend.eventsOf(EventTLS))
			args := append([]string{"-sS", "--max-time", "10", "-u", "c2:atomic-red"}, tt.args...)
			got, err := run(t, "", "curl", args...)
			if err != nil {
				t.Fatalf("curl %s failed", strings.Join(args, " "))
			}
			if got != tt.want {
				t.Errorf("curl %s:\ngot  %q\nwant %q", strings.Join(args, " "), got, tt.want)
			}
			waitFor(t, func() bool { return len(ts.backend.eventsOf(EventClose)) > before })
			if gotTLS := len(ts.backend.eventsOf(EventTLS)) > tlsBefore; gotTLS != tt.tls {
				t.Errorf("session over TLS = %v, want %v", gotTLS, tt.tls)
			}
			var authed bool
			for _, e := range ts.backend.eventsOf(EventCommand) {
				if e.Verb == "AUTH" && e.OK {
					authed = true
				}
			}
			if !authed {
				t.Errorf("curl did not log in with AUTH PLAIN")
			}
		})
	}

	t.Run("wrong password fails", func(t *testing.T) {
		_, err := run(t, "", "curl", "-sS", "--max-time", "10", "-u", "c2:wrong", "pop3://"+ts.addr+"/")
		// curl's exit code 67 is CURLE_LOGIN_DENIED: the server said no to
		// the credentials, not to the protocol.
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 67 {
			t.Fatalf("curl with a wrong password: %v, want exit status 67 (login denied)", err)
		}
	})
	// curl needs -I with -X DELE: otherwise it waits for a multi-line body.
	t.Run("dele via custom request", func(t *testing.T) {
		ts := startServer(t, nil)
		if _, err := run(t, "", "curl", "-sS", "--max-time", "10", "-u", "c2:atomic-red",
			"-X", "DELE", "-I", "pop3://"+ts.addr+"/1"); err != nil {
			t.Fatalf("curl DELE failed")
		}
		waitFor(t, func() bool { return len(ts.backend.eventsOf(EventClose)) == 1 })
		if got := ts.backend.uids("c2"); strings.Join(got, " ") != "uid-second-2" {
			t.Errorf("maildrop after curl -X DELE = %q, want [uid-second-2]", got)
		}
	})
}

// TestNetcat pipes whole POP3 dialogues through netcat-openbsd, as the
// T1071.003 atomic does, and compares everything the server sent.
func TestNetcat(t *testing.T) {
	greeting := "+OK pop3.purpleharness.test POP3 server ready\r\n" +
		"+OK send PASS\r\n" +
		"+OK c2's maildrop has 2 messages (165 octets)\r\n" +
		"+OK 2 165\r\n" +
		"+OK 114 octets\r\n" +
		strings.Replace(tasking, "\r\n.hidden", "\r\n..hidden", 1) + ".\r\n"
	tests := []struct {
		name     string
		flags    []string
		dialogue string
		want     string
		left     string // UIDs in the maildrop afterwards
	}{
		{
			// The atomic's own command line: no -N, so nc relies on the
			// server closing after QUIT.
			name:     "atomic poll",
			flags:    []string{"-w", "5"},
			dialogue: "USER c2\r\nPASS atomic-red\r\nSTAT\r\nRETR 1\r\nQUIT\r\n",
			want:     greeting + "+OK bye (2 messages left)\r\n",
			left:     "uid-tasking-1 uid-second-2",
		},
		{
			name:     "fetch and delete with -N",
			flags:    []string{"-N", "-w", "10"},
			dialogue: "USER c2\r\nPASS atomic-red\r\nSTAT\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n",
			want:     greeting + "+OK message 1 deleted\r\n+OK bye (1 message left)\r\n",
			left:     "uid-second-2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, nil)
			host, port, _ := strings.Cut(ts.addr, ":")
			got, err := run(t, tt.dialogue, "nc", append(tt.flags, host, port)...)
			if err != nil {
				t.Fatalf("nc failed")
			}
			if got != tt.want {
				t.Errorf("nc transcript:\ngot  %q\nwant %q", got, tt.want)
			}
			waitFor(t, func() bool { return len(ts.backend.eventsOf(EventClose)) == 1 })
			if uids := ts.backend.uids("c2"); strings.Join(uids, " ") != tt.left {
				t.Errorf("maildrop after QUIT = %q, want %s", uids, tt.left)
			}
		})
	}
}

// TestFetchmail fetches the maildrop with fetchmail, which drives
// USER/PASS or AUTH itself, uses UIDL/LIST/RETR and deletes what it fetched
// (DELE then QUIT), once in clear and once upgraded with STLS.
func TestFetchmail(t *testing.T) {
	prereq.LookPath(t, "fetchmail")
	tests := []struct {
		name, tlsOpts string
		wantTLS       bool
	}{
		{"plain", "sslproto ''", false},
		{"stls", "sslproto tls1.2+ no sslcertck", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, nil)
			dir := t.TempDir()
			_, port, _ := strings.Cut(ts.addr, ":")
			out := filepath.Join(dir, "delivered")
			rc := fmt.Sprintf("poll 127.0.0.1 proto POP3 port %s\n"+
				"  user \"c2\" there with password \"atomic-red\" is \"root\" here %s\n"+
				"  mda \"/bin/sh -c 'cat >> %s'\"\n", port, tt.tlsOpts, out)
			rcPath := filepath.Join(dir, "fetchmailrc")
			if err := os.WriteFile(rcPath, []byte(rc), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("HOME", dir)
			t.Setenv("FETCHMAILHOME", dir)
			if _, err := run(t, "", "fetchmail", "-f", rcPath, "--nosyslog", "-N", "--all",
				"--pidfile", filepath.Join(dir, "pid"), "-i", filepath.Join(dir, "ids")); err != nil {
				t.Fatalf("fetchmail failed")
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("nothing delivered: %v", err)
			}
			for _, want := range []string{"Subject: tasking", "\n.hidden line\n", "Subject: second", "line three"} {
				if !strings.Contains(string(got), want) {
					t.Errorf("delivered mail lacks %q:\n%s", want, got)
				}
			}
			waitFor(t, func() bool { return len(ts.backend.eventsOf(EventClose)) >= 1 })
			if uids := ts.backend.uids("c2"); len(uids) != 0 {
				t.Errorf("maildrop after fetchmail = %q, want empty (fetched mail is deleted)", uids)
			}
			if gotTLS := len(ts.backend.eventsOf(EventTLS)) > 0; gotTLS != tt.wantTLS {
				t.Errorf("fetchmail used TLS = %v, want %v", gotTLS, tt.wantTLS)
			}
		})
	}
}
