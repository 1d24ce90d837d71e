package fakemail

import (
	"strings"
	"testing"
)

// TestCurlTLS runs real curl over every TLS path: implicit TLS (465, 993,
// 995) and STARTTLS/STLS (587, 143, 110), and checks the evidence saw the
// plaintext commands and the client-facing TLS session.
func TestCurlTLS(t *testing.T) {
	s := startTest(t, nil)
	user := DefaultLogin + ":" + DefaultPassword
	cases := []struct {
		name   string
		svc    Service
		stdin  string
		args   []string
		want   string // in stdout
		mode   TLSMode
		verb   string // a command the evidence must hold
		msgDir Direction
	}{
		{"submission starttls auth", Submission, mailText,
			[]string{"smtp://" + s.Addr(Submission), "--ssl-reqd", "-k", "-u", user,
				"--mail-from", "implant@victim.test", "--mail-rcpt", DefaultAddress, "-T", "-"},
			"", TLSStartTLS, "DATA", ToServer},
		{"smtps", SMTPS, mailText,
			[]string{"smtps://" + s.Addr(SMTPS), "-k", "--mail-from", "implant@victim.test",
				"--mail-rcpt", DefaultAddress, "-T", "-"},
			"", TLSImplicit, "DATA", ToServer},
		{"imaps", IMAPS, "",
			[]string{"imaps://" + s.Addr(IMAPS) + "/INBOX;UID=1", "-k", "-u", user},
			"command: whoami", TLSImplicit, "UID FETCH", FromServer},
		{"imap starttls", IMAP, "",
			[]string{"imap://" + s.Addr(IMAP) + "/INBOX;UID=1", "--ssl-reqd", "-k", "-u", user},
			"command: whoami", TLSStartTLS, "UID FETCH", FromServer},
		{"pop3s", POP3S, "",
			[]string{"pop3s://" + s.Addr(POP3S) + "/1", "-k", "-u", user},
			"command: whoami", TLSImplicit, "RETR", FromServer},
		{"pop3 stls", POP3, "",
			[]string{"pop3://" + s.Addr(POP3) + "/1", "--ssl-reqd", "-k", "-u", user},
			"command: whoami", TLSStartTLS, "RETR", FromServer},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := runCurl(t, tc.stdin, tc.args...)
			if !strings.Contains(out, tc.want) {
				t.Errorf("curl %v: stdout %q lacks %q", tc.args, out, tc.want)
			}
			ev := waitSessions(t, s, i+1)
			if len(ev) != i+1 {
				t.Fatalf("got %d sessions, want %d", len(ev), i+1)
			}
			e := ev[i]
			if e.Service != tc.svc {
				t.Errorf("session service %s, want %s", e.Service, tc.svc)
			}
			if e.TLS == nil || e.TLS.Mode != tc.mode || !strings.HasPrefix(e.TLS.Version, "TLS 1.") {
				t.Errorf("session TLS %+v, want mode %s", e.TLS, tc.mode)
			}
			if e.Ended != EndQuit {
				t.Errorf("session ended %q (%s), want %q", e.Ended, e.Error, EndQuit)
			}
			found := false
			for _, c := range e.Commands {
				found = found || c.Verb == tc.verb
				if strings.Contains(c.Line, DefaultPassword) {
					t.Errorf("password not redacted: %q", c.Line)
				}
			}
			if !found {
				t.Errorf("no %s command in evidence: %+v", tc.verb, e.Commands)
			}
			if len(e.Messages) != 1 || e.Messages[0].Direction != tc.msgDir || !e.Messages[0].Complete {
				t.Errorf("messages %+v, want one complete %s", e.Messages, tc.msgDir)
			}
			if tc.svc != SMTPS && e.User != DefaultLogin {
				t.Errorf("user %q, want %q", e.User, DefaultLogin)
			}
		})
	}
}

// TestSMTPAuthLogin: the LOGIN SASL mechanism (our server side) with curl,
// over STARTTLS on submission; the evidence names the user, not the
// password.
func TestSMTPAuthLogin(t *testing.T) {
	s := startTest(t, func(c *Config) { c.Services = []Service{Submission} })
	runCurl(t, mailText, "smtp://"+s.Addr(Submission), "--ssl-reqd", "-k", "--login-options", "AUTH=LOGIN",
		"-u", DefaultLogin+":"+DefaultPassword, "--mail-from", "implant@victim.test", "--mail-rcpt", DefaultAddress, "-T", "-")
	e := lastSession(t, s, 1)
	if e.User != DefaultLogin || len(e.Messages) != 1 {
		t.Errorf("session user %q, %d messages; want %q and 1", e.User, len(e.Messages), DefaultLogin)
	}
	for _, c := range e.Commands {
		if c.Verb == "AUTH" && (c.Line != "AUTH LOGIN" || !strings.HasPrefix(c.Reply, "235")) {
			t.Errorf("AUTH command %+v, want AUTH LOGIN answered 235", c)
		}
	}
}
