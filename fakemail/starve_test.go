package fakemail

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// TestIdleClientsCannotLockOutLogin opens 300 connections to one service
// that never say anything (more than DefaultLimits.MaxConnections), then
// logs in with curl, as a client would: the login must succeed, with the
// default limits, for POP3, SMTP submission and IMAP.
func TestIdleClientsCannotLockOutLogin(t *testing.T) {
	needTool(t, "curl")
	const idle = 300
	user := DefaultLogin + ":" + DefaultPassword
	for _, tc := range []struct {
		svc  Service
		curl func(addr string) []string
		want string
	}{
		{POP3, func(a string) []string { return []string{"pop3://" + a + "/", "-u", user} }, "1 "},
		{IMAP, func(a string) []string { return []string{"imap://" + a + "/INBOX;UID=1", "-u", user} }, "command: whoami"},
		{Submission, func(a string) []string {
			return []string{"smtp://" + a, "-u", user, "--mail-from", "implant@victim.test", "--mail-rcpt", DefaultAddress, "-T", "-"}
		}, ""},
	} {
		t.Run(string(tc.svc), func(t *testing.T) {
			s := startTest(t, func(c *Config) { c.Services = []Service{tc.svc} })
			for i := 0; i < idle; i++ {
				c, err := net.Dial("tcp", s.Addr(tc.svc))
				if err != nil {
					t.Fatalf("idle connection %d: %v", i, err)
				}
				t.Cleanup(func() { c.Close() })
			}
			got := runCurl(t, mailText, tc.curl(s.Addr(tc.svc))...)
			if !strings.Contains(got, tc.want) {
				t.Errorf("curl after %d idle connections got %q, want %q", idle, got, tc.want)
			}
			var login *Session
			evicted := 0
			for _, e := range waitSessions(t, s, idle+1-DefaultLimits.MaxConnections+1) {
				switch {
				case e.User == DefaultLogin:
					login = &e
				case e.Ended == EndEvicted:
					evicted++
				case e.Ended == EndTooManyConns:
					t.Errorf("session %d refused: an idle client must make room instead", e.ID)
				}
			}
			if login == nil {
				t.Fatalf("no session logged in as %s", DefaultLogin)
			}
			if wantMin := idle + 1 - DefaultLimits.MaxConnections; evicted < wantMin {
				t.Errorf("%d idle sessions evicted, want at least %d", evicted, wantMin)
			}
			t.Log(fmt.Sprintf("%d idle connections, %d evicted, login session %d ended %s", idle, evicted, login.ID, login.Ended))
		})
	}
}
