package fakemail_test

import (
	"context"
	"fmt"
	"net/smtp"
	"strings"
	"time"

	"github.com/purpleharness/purpleharness/fakemail"
)

// Start the servers on free loopback ports, send the implant's results over
// SMTP, and read the server's side of the story.
func ExampleStart() {
	cfg := fakemail.DefaultConfig() // login c2, password atomic-red, one tasking
	cfg.Ports = fakemail.EphemeralPorts()
	srv, err := fakemail.Start(context.Background(), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())

	// Port 25 offers STARTTLS; an implant in plaintext simply ignores it.
	if err := send(srv.Addr(fakemail.SMTP), "Subject: results\r\n\r\nuid=0(root)\r\n"); err != nil {
		fmt.Println(err)
		return
	}

	var sessions []fakemail.Session
	for i := 0; i < 100 && len(sessions) == 0; i++ {
		time.Sleep(10 * time.Millisecond)
		sessions = srv.Evidence()
	}
	s := sessions[0]
	var verbs []string
	for _, c := range s.Commands {
		verbs = append(verbs, c.Verb)
	}
	fmt.Println(s.Service, s.Remote.IP, strings.Join(verbs, " "), s.Ended)
	m := s.Messages[0]
	fmt.Println(m.Direction, m.Size, m.From, m.To)
	msgs, _ := srv.Store().Messages(fakemail.DefaultLogin, fakemail.Inbox)
	fmt.Println(len(msgs), "messages in c2's INBOX")
	// Output:
	// smtp 127.0.0.1 EHLO MAIL RCPT DATA QUIT quit
	// to-server 33 implant@victim.test [c2@purpleharness.test]
	// 2 messages in c2's INBOX
}

func send(addr, body string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
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
	fmt.Fprint(w, body)
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
