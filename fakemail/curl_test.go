package fakemail

import (
	"strings"
	"testing"
)

const mailText = "From: implant@victim.test\r\nTo: c2@purpleharness.test\r\nSubject: results\r\n\r\nuid=0(root) gid=0(root)\r\n"

func TestCurlSMTPThenIMAPAndPOP3(t *testing.T) {
	s := startTest(t, nil)
	runCurl(t, mailText, "smtp://"+s.Addr(SMTP), "--mail-from", "implant@victim.test",
		"--mail-rcpt", DefaultAddress, "-T", "-")

	// IMAP: the seeded tasking is 1, the mail just sent is 2.
	got := runCurl(t, "", "imap://"+s.Addr(IMAP)+"/INBOX;UID=2", "-u", DefaultLogin+":"+DefaultPassword)
	if !strings.Contains(got, "uid=0(root)") {
		t.Errorf("imap fetch UID=2 got %q, want the body sent over SMTP", got)
	}
	// POP3: LIST shows two messages, RETR 2 is the same mail.
	list := runCurl(t, "", "pop3://"+s.Addr(POP3)+"/", "-u", DefaultLogin+":"+DefaultPassword)
	if n := strings.Count(strings.TrimSpace(list), "\n") + 1; n != 2 {
		t.Errorf("pop3 LIST got %q, want 2 lines", list)
	}
	retr := runCurl(t, "", "pop3://"+s.Addr(POP3)+"/2", "-u", DefaultLogin+":"+DefaultPassword)
	if retr != mailText {
		t.Errorf("pop3 RETR 2 got %q, want %q", retr, mailText)
	}

	ev := waitSessions(t, s, 4)
	if len(ev) != 4 {
		t.Fatalf("got %d sessions, want 4: %+v", len(ev), ev)
	}
	smtpS := ev[0]
	if smtpS.Service != SMTP || len(smtpS.Messages) != 1 || smtpS.Messages[0].Size != int64(len(mailText)) {
		t.Errorf("smtp session evidence: %+v", smtpS)
	}
	for _, e := range ev {
		t.Logf("%s %s user=%q ended=%s cmds=%d msgs=%d", e.Service, e.Remote, e.User, e.Ended, len(e.Commands), len(e.Messages))
		for _, c := range e.Commands {
			t.Logf("   %q -> %q", c.Line, c.Reply)
			if strings.Contains(c.Line, DefaultPassword) {
				t.Errorf("password not redacted in %q", c.Line)
			}
		}
		for _, m := range e.Messages {
			t.Logf("   msg %s %s %d %s", m.Direction, m.Verb, m.Size, m.SHA256)
		}
	}
}
