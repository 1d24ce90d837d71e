package atomics_test

import (
	"context"
	"io"
	"log"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/atomics"
	"github.com/purpleharness/purpleharness/fakemail"
	"github.com/purpleharness/purpleharness/prereq"
)

// startMail starts the fake mail servers on ephemeral loopback ports.
func startMail(t *testing.T) *fakemail.Servers {
	t.Helper()
	cfg := fakemail.DefaultConfig()
	cfg.Ports = fakemail.EphemeralPorts()
	cfg.ErrorLog = log.New(io.Discard, "", 0)
	srv, err := fakemail.Start(context.Background(), cfg)
	t.Cleanup(func() {
		if srv != nil {
			srv.Shutdown(context.Background())
		}
	})
	if err != nil {
		t.Fatalf("fakemail.Start: %v", err)
	}
	return srv
}

func port(t *testing.T, srv *fakemail.Servers, svc fakemail.Service) string {
	t.Helper()
	addr := srv.Addr(svc)
	p := addr[strings.LastIndexByte(addr, ':')+1:]
	if _, err := strconv.Atoi(p); err != nil {
		t.Fatalf("%s address %q", svc, addr)
	}
	return p
}

// sessions waits until the servers have recorded want sessions (they are
// recorded when the connection ends) and counts them per service.
func sessions(srv *fakemail.Servers, want int) map[fakemail.Service][]fakemail.Session {
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.Evidence()) < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	out := map[fakemail.Service][]fakemail.Session{}
	for _, s := range srv.Evidence() {
		out[s.Service] = append(out[s.Service], s)
	}
	return out
}

func verbs(s fakemail.Session) string {
	var v []string
	for _, c := range s.Commands {
		v = append(v, c.Verb)
	}
	return strings.Join(v, " ")
}

// TestShippedAtomicsAgainstFakemail runs every T1071.003 atomic against the
// real fake mail servers and checks, from the servers' own evidence, that
// each did what its description says: the right protocol, the number of
// connections, the C2 account, the retrieval or the send.
func TestShippedAtomicsAgainstFakemail(t *testing.T) {
	cat, err := atomics.LoadDir(".")
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	type want struct {
		svc      fakemail.Service
		sessions int
		verb     string // a command some session must contain
	}
	tests := []struct {
		name   string
		needs  string // client binary
		inputs func(srv *fakemail.Servers) map[string]string
		want   []want
	}{
		{"SMTP C2 exfiltration with PowerShell Send-MailMessage", "pwsh", func(srv *fakemail.Servers) map[string]string {
			return map[string]string{"port": port(t, srv, fakemail.SMTP)}
		}, []want{{fakemail.SMTP, 3, "DATA"}}},
		{"POP3 command retrieval with nc", "nc", func(srv *fakemail.Servers) map[string]string {
			return map[string]string{"port": port(t, srv, fakemail.POP3), "interval": "0"}
		}, []want{{fakemail.POP3, 3, "RETR"}}},
		{"IMAP C2 channel with curl", "curl", func(srv *fakemail.Servers) map[string]string {
			return map[string]string{"port": port(t, srv, fakemail.IMAP)}
		}, []want{{fakemail.IMAP, 6, "FETCH"}}},
		{"SMTP C2 exfiltration with curl", "curl", func(srv *fakemail.Servers) map[string]string {
			return map[string]string{"port": port(t, srv, fakemail.SMTP), "exfil_file": t.TempDir() + "/exfil.eml"}
		}, []want{{fakemail.SMTP, 3, "DATA"}}},
		{"Mail C2 over implicit TLS with curl", "curl", func(srv *fakemail.Servers) map[string]string {
			return map[string]string{"smtps_port": port(t, srv, fakemail.SMTPS), "pop3s_port": port(t, srv, fakemail.POP3S), "imaps_port": port(t, srv, fakemail.IMAPS)}
		}, []want{{fakemail.SMTPS, 2, "DATA"}, {fakemail.POP3S, 2, "RETR"}, {fakemail.IMAPS, 2, "FETCH"}}},
		{"POP3 polling from a single bash process over /dev/tcp", "bash", func(srv *fakemail.Servers) map[string]string {
			return map[string]string{"port": port(t, srv, fakemail.POP3), "interval": "0"}
		}, []want{{fakemail.POP3, 3, "RETR"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needs == "pwsh" {
				if _, err := atomics.Shell(atomics.PowerShell); err != nil {
					prereq.Skip(t, prereq.Pwsh, err.Error())
				}
			} else {
				prereq.LookPath(t, tt.needs)
			}
			test := cat.Find("T1071.003", tt.name)
			if test == nil {
				t.Fatalf("Find(T1071.003, %q): no such test", tt.name)
			}
			srv := startMail(t)
			res, err := atomics.Run(context.Background(), test, atomics.RunOptions{Inputs: tt.inputs(srv), Timeout: 60 * time.Second})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Status != atomics.Succeeded {
				t.Fatalf("Run: %s (%s)\nstdout: %s\nstderr: %s", res.Status, res.Reason, res.Exec.Stdout, res.Exec.Stderr)
			}
			total := 0
			for _, w := range tt.want {
				total += w.sessions
			}
			got := sessions(srv, total)
			for _, w := range tt.want {
				ss := got[w.svc]
				if len(ss) != w.sessions {
					t.Errorf("%s: %d sessions, want %d", w.svc, len(ss), w.sessions)
				}
				seen := false
				for _, s := range ss {
					seen = seen || strings.Contains(" "+verbs(s)+" ", " "+w.verb+" ")
					if w.verb != "DATA" && s.User != fakemail.DefaultLogin {
						t.Errorf("%s session %d: user %q, want %q", w.svc, s.ID, s.User, fakemail.DefaultLogin)
					}
				}
				if !seen {
					t.Errorf("%s: no session sent %s", w.svc, w.verb)
				}
			}
			if t.Failed() {
				t.Logf("stdout: %s\nstderr: %s", res.Exec.Stdout, res.Exec.Stderr)
			}
		})
	}
}
