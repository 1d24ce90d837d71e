package fakemail

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/smtp"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestGoClientsOneStore sends with Go's net/smtp over STARTTLS+AUTH on
// submission, reads and deletes with the go-imap v2 client, appends over
// IMAP, and checks with nc's piped POP3 dialogue that POP3 sees exactly
// what IMAP left: one store behind all three protocols.
func TestGoClientsOneStore(t *testing.T) {
	s := startTest(t, nil)

	// net/smtp: STARTTLS then AUTH PLAIN (RFC 4954) on submission.
	c, err := smtp.Dial(s.Addr(Submission))
	if err != nil {
		t.Fatalf("smtp.Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	if err := c.Auth(smtp.PlainAuth("", DefaultLogin, DefaultPassword, "127.0.0.1")); err != nil {
		t.Fatalf("Auth: %v", err)
	}
	if err := c.Mail("implant@victim.test"); err != nil {
		t.Fatalf("Mail: %v", err)
	}
	if err := c.Rcpt(DefaultAddress); err != nil {
		t.Fatalf("Rcpt: %v", err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatalf("Data: %v", err)
	}
	fmt.Fprint(w, mailText)
	if err := w.Close(); err != nil {
		t.Fatalf("Data close: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}

	// go-imap: the mail is there; search, fetch, delete the seed.
	ic, err := imapclient.DialTLS(s.Addr(IMAPS), &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatalf("imapclient.DialTLS: %v", err)
	}
	t.Cleanup(func() { ic.Close() })
	if err := ic.Login(DefaultLogin, DefaultPassword).Wait(); err != nil {
		t.Fatalf("Login: %v", err)
	}
	sel, err := ic.Select(Inbox, nil).Wait()
	if err != nil || sel.NumMessages != 2 {
		t.Fatalf("Select: %v, %+v; want 2 messages", err, sel)
	}
	found, err := ic.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "results"}}}, nil).Wait()
	if err != nil || len(found.AllUIDs()) != 1 || found.AllUIDs()[0] != 2 {
		t.Fatalf("UIDSearch subject results: %v, %v; want UID 2", err, found)
	}
	msgs, err := ic.Fetch(imap.UIDSetNum(2), &imap.FetchOptions{Envelope: true,
		BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Fetch: %v, %d messages", err, len(msgs))
	}
	if msgs[0].Envelope.Subject != "results" || !bytes.Equal(msgs[0].FindBodySection(&imap.FetchItemBodySection{}), []byte(mailText)) {
		t.Errorf("fetched %q / %q", msgs[0].Envelope.Subject, msgs[0].FindBodySection(&imap.FetchItemBodySection{}))
	}
	if err := ic.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
		t.Fatalf("Store: %v", err)
	}
	if _, err := ic.Expunge().Collect(); err != nil {
		t.Fatalf("Expunge: %v", err)
	}
	note := "task-id: 2\r\n"
	ac := ic.Append(Inbox, int64(len(note)), nil)
	ac.Write([]byte(note))
	ac.Close()
	if _, err := ac.Wait(); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := ic.Logout().Wait(); err != nil {
		t.Fatalf("Logout: %v", err)
	}

	// nc: a piped POP3 dialogue sees the SMTP mail and the APPEND, not the
	// expunged seed.
	nc := needTool(t, "nc")
	host, port, _ := net.SplitHostPort(s.Addr(POP3))
	dialogue := "USER c2\r\nPASS atomic-red\r\nSTAT\r\nRETR 1\r\nQUIT\r\n"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nc, "-N", "-w", "5", host, port)
	cmd.Stdin = strings.NewReader(dialogue)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nc: %v, output %q", err, out)
	}
	lines := bufio.NewScanner(bytes.NewReader(out))
	var got []string
	for lines.Scan() {
		got = append(got, lines.Text())
	}
	if len(got) < 4 || !strings.HasPrefix(got[3], "+OK 2 ") || !strings.Contains(string(out), "uid=0(root)") {
		t.Errorf("nc POP3 dialogue output:\n%s\nwant STAT +OK 2 and the SMTP mail as message 1", out)
	}

	ev := waitSessions(t, s, 3)
	if len(ev) != 3 {
		t.Fatalf("%d sessions, want 3", len(ev))
	}
	pop := ev[2]
	if pop.Service != POP3 || pop.User != DefaultLogin || pop.Commands[1].Line != "PASS [redacted]" {
		t.Errorf("pop3 evidence: %+v", pop)
	}
	im := ev[1]
	if len(im.Messages) != 2 || im.Messages[0].Direction != FromServer || im.Messages[1].Direction != ToServer ||
		im.Messages[1].Size != int64(len(note)) {
		t.Errorf("imap message evidence: %+v", im.Messages)
	}
	if ev[0].User != DefaultLogin || ev[0].TLS == nil || ev[0].Messages[0].From != "implant@victim.test" {
		t.Errorf("smtp evidence: %+v", ev[0])
	}
}

// TestIMAPMoveAndNamespace: MOVE (RFC 6851) moves the tasking to a new
// mailbox and POP3, which serves INBOX, no longer sees it.
func TestIMAPMoveAndNamespace(t *testing.T) {
	s := startTest(t, nil)
	c, err := imapclient.DialInsecure(s.Addr(IMAP), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(DefaultLogin, DefaultPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	ns, err := c.Namespace().Wait()
	if err != nil || len(ns.Personal) != 1 || ns.Personal[0].Delim != imapDelim {
		t.Errorf("Namespace = %+v, %v", ns, err)
	}
	if err := c.Create("Done", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(Inbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	md, err := c.Move(imap.SeqSetNum(1), "Done").Wait()
	if err != nil || md.DestUIDs == nil || md.DestUIDs.String() != "1" {
		t.Fatalf("Move = %+v, %v", md, err)
	}
	if mb := c.Mailbox(); mb.NumMessages != 0 {
		t.Errorf("INBOX has %d messages after MOVE, want 0", mb.NumMessages)
	}
	done, _ := s.Store().Messages(DefaultLogin, "Done")
	inbox, _ := s.Store().Messages(DefaultLogin, Inbox)
	if len(done) != 1 || len(inbox) != 0 {
		t.Errorf("store: Done %d, INBOX %d; want 1, 0", len(done), len(inbox))
	}
	c.Logout().Wait()
}

// TestIMAPIdleSeesSMTPDelivery: an implant waiting in IDLE is told about a
// message delivered over SMTP (EXISTS, RFC 2177) and one deleted over POP3
// (EXPUNGE), live, because all three protocols share the store.
func TestIMAPIdleSeesSMTPDelivery(t *testing.T) {
	s := startTest(t, nil)
	exists := make(chan uint32, 4)
	expunged := make(chan uint32, 4)
	c, err := imapclient.DialInsecure(s.Addr(IMAP), &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- *d.NumMessages
				}
			},
			Expunge: func(seq uint32) { expunged <- seq },
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(DefaultLogin, DefaultPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(Inbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatalf("Idle: %v", err)
	}
	sc, err := smtp.Dial(s.Addr(SMTP))
	if err != nil {
		t.Fatal(err)
	}
	sc.Mail("operator@purpleharness.test")
	sc.Rcpt(DefaultAddress)
	w, err := sc.Data()
	if err != nil {
		t.Fatalf("DATA: %v", err)
	}
	fmt.Fprint(w, "Subject: task 2\r\n\r\nwhoami\r\n")
	if err := w.Close(); err != nil {
		t.Fatalf("DATA end: %v", err)
	}
	sc.Quit()
	select {
	case n := <-exists:
		if n != 2 {
			t.Errorf("EXISTS %d, want 2", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no EXISTS during IDLE after delivery")
	}
	// POP3 deletes the seed (message 1).
	nc, err := net.Dial("tcp", s.Addr(POP3))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(nc, "USER c2\r\nPASS atomic-red\r\nDELE 1\r\nQUIT\r\n")
	bufio.NewReader(nc).ReadString('!') // until the server closes
	nc.Close()
	select {
	case seq := <-expunged:
		if seq != 1 {
			t.Errorf("EXPUNGE %d, want 1", seq)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no EXPUNGE during IDLE after POP3 DELE+QUIT")
	}
	if err := idle.Close(); err != nil {
		t.Fatalf("IDLE done: %v", err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatalf("IDLE: %v", err)
	}
}

// TestIMAPIdleSeesMailDeliveredBeforeIdle: mail delivered between SELECT
// and IDLE is announced once IDLE starts. imapserver only reports pending
// changes after a command, and the tracker's Idle only wakes for changes
// made after it starts listening, so such a message went unannounced until
// the next change (and TestIMAPIdleSeesSMTPDelivery failed when the
// delivery beat the IDLE goroutine).
func TestIMAPIdleSeesMailDeliveredBeforeIdle(t *testing.T) {
	s := startTest(t, nil)
	exists := make(chan uint32, 4)
	c, err := imapclient.DialInsecure(s.Addr(IMAP), &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- *d.NumMessages
				}
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(DefaultLogin, DefaultPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(Inbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store().Deliver(DefaultAddress, []byte("Subject: task 2\r\n\r\nwhoami\r\n")); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatalf("Idle: %v", err)
	}
	select {
	case n := <-exists:
		if n != 2 {
			t.Errorf("EXISTS %d, want 2", n)
		}
	case <-time.After(3 * time.Second):
		t.Error("no EXISTS during IDLE for the mail delivered before it")
	}
	if err := idle.Close(); err != nil {
		t.Fatalf("IDLE done: %v", err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatalf("IDLE: %v", err)
	}
}
