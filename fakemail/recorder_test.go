package fakemail

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// step is one chunk of a scripted connection: C client bytes, S server
// bytes, or "tls" when the tap would switch to TLS.
type step struct{ dir, data string }

// TestRecorderGolden replays scripted dialogues through the evidence
// parser and compares the session records with testdata/evidence/*.json
// (rewrite with -update).
func TestRecorderGolden(t *testing.T) {
	cases := []struct {
		name  string
		svc   Service
		steps []step
	}{
		{"smtp-starttls-auth-login-data-bdat", Submission, []step{
			{"S", "220 mail ESMTP\r\n"},
			{"C", "EHLO implant\r\n"}, {"S", "250-mail\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"},
			{"C", "STARTTLS\r\n"}, {"S", "220 2.0.0 Ready to start TLS\r\n"}, {"tls", ""},
			{"C", "EHLO implant\r\n"}, {"S", "250 mail\r\n"},
			{"C", "AUTH LOGIN\r\n"}, {"S", "334 VXNlcm5hbWU6\r\n"},
			{"C", "YzI=\r\n"}, {"S", "334 UGFzc3dvcmQ6\r\n"},
			{"C", "YXRvbWljLXJlZA==\r\n"}, {"S", "235 2.0.0 Authentication succeeded\r\n"},
			{"C", "MAIL FROM:<implant@victim.test> SIZE=40\r\nRCPT TO:<c2@purpleharness.test>\r\nDATA\r\n"},
			{"S", "250 ok\r\n250 ok\r\n354 go ahead\r\n"},
			{"C", "Subject: results\r\n\r\n..hidden dot line\r\nuid=0\r\n.\r\n"}, {"S", "250 queued\r\n"},
			{"C", "BDAT 5 LAST\r\nhello"}, {"S", "250 queued\r\n"},
			{"C", "QUIT\r\n"}, {"S", "221 bye\r\n"},
		}},
		{"smtp-starttls-injection", SMTP, []step{
			{"S", "220 mail ESMTP\r\n"},
			{"C", "EHLO x\r\nSTARTTLS\r\nMAIL FROM:<evil@x>\r\n"},
			{"S", "250 mail\r\n"}, {"S", "220 Ready\r\n"}, {"tls", ""},
			{"C", "QUIT\r\n"}, {"S", "221 bye\r\n"},
		}},
		{"pop3-failures-auth-retr", POP3, []step{
			{"S", "+OK POP3 ready\r\n"},
			{"C", "CAPA\r\n"}, {"S", "+OK\r\nUSER\r\nSASL PLAIN\r\nSTLS\r\n.\r\n"},
			{"C", "USER c2\r\nPASS wrong-one\r\n"}, {"S", "+OK\r\n-ERR [AUTH] invalid\r\n"},
			{"C", "AUTH PLAIN\r\n"}, {"S", "+ \r\n"},
			{"C", "AGMyAGF0b21pYy1yZWQ=\r\n"}, {"S", "+OK logged in\r\n"},
			{"C", "STAT\r\nRETR 1\r\n"}, {"S", "+OK 1 30\r\n+OK 30 octets\r\nSubject: t\r\n\r\n..dot\r\nbody\r\n.\r\n"},
			{"C", "TOP 1 0\r\n"}, {"S", "+OK\r\nSubject: t\r\n\r\n.\r\n"},
			{"C", "DELE 1\r\nQUIT\r\n"}, {"S", "+OK deleted\r\n+OK bye\r\n"},
		}},
		{"imap-literals-fetch-append-idle", IMAP, []step{
			{"S", "* OK IMAP4rev1 ready\r\n"},
			{"C", "a LOGIN c2 {10}\r\n"}, {"S", "+ Ready for literal\r\n"},
			{"C", "atomic-red\r\n"}, {"S", "a OK LOGIN completed\r\n"},
			{"C", "b SELECT INBOX\r\n"}, {"S", "* 1 EXISTS\r\nb OK [READ-WRITE] SELECT completed\r\n"},
			{"C", "c UID FETCH 1 (BODY.PEEK[])\r\n"}, {"S", "* 1 FETCH (UID 1 BODY[] {12}\r\nSubject: x\r\n)\r\nc OK done\r\n"},
			{"C", "d APPEND INBOX (\\Seen) {5}\r\n"}, {"S", "+ go\r\n"},
			{"C", "hello\r\n"}, {"S", "d OK [APPENDUID 1 2] APPEND completed\r\n"},
			{"C", "e APPEND INBOX {99999}\r\n"}, {"S", "e NO [TOOBIG] too big\r\n"},
			{"C", "f IDLE\r\n"}, {"S", "+ idling\r\n"}, {"C", "DONE\r\n"}, {"S", "f OK IDLE done\r\n"},
			{"C", "g LOGOUT\r\n"}, {"S", "* BYE\r\ng OK LOGOUT completed\r\n"},
		}},
		{"imap-authenticate-failures", IMAP, []step{
			{"S", "* OK ready\r\n"},
			{"C", "a AUTHENTICATE PLAIN AGMyAHdyb25n\r\n"}, {"S", "a NO [AUTHENTICATIONFAILED] no\r\n"},
			{"C", "b LOGIN \"c2\" \"wr\\\"ong\"\r\n"}, {"S", "b NO [AUTHENTICATIONFAILED] no\r\n"},
			{"C", "c AUTHENTICATE PLAIN\r\n"}, {"S", "+ \r\n"},
			{"C", "AGMyAHdyb25n\r\n"}, {"S", "c NO [AUTHENTICATIONFAILED] no\r\n"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder(1, tc.svc, Endpoint{"127.0.0.1", tc.svc.Port()}, Endpoint{"127.0.0.1", 40000}, DefaultLimits)
			for _, st := range tc.steps {
				switch st.dir {
				case "C":
					if err := r.client([]byte(st.data)); err != nil {
						t.Fatalf("client(%q): %v", st.data, err)
					}
				case "S":
					r.server([]byte(st.data))
				case "tls":
					if !r.takeStartTLS() {
						t.Fatalf("STARTTLS accepted but no switch signalled")
					}
					r.setTLS(TLSStartTLS, tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256})
				}
			}
			s := r.finish()
			s.Start, s.End = time.Time{}, time.Time{}
			for i := range s.Commands {
				s.Commands[i].Time = time.Time{}
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			enc.Encode(s)
			got := buf.Bytes()
			golden := filepath.Join("testdata", "evidence", tc.name+".json")
			if *update {
				os.WriteFile(golden, got, 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if string(got) != string(want) {
				t.Errorf("session record differs from %s:\n got: %s\nwant: %s", golden, got, want)
			}
		})
	}
}

// TestEvidenceKeepsLatest: whatever KeepSessions is, the session that just
// ended is in Evidence, and Dropped counts the rest.
func TestEvidenceKeepsLatest(t *testing.T) {
	for _, keep := range []int{1, 2, 3, 4} {
		l := evidenceLog{keep: keep}
		for id := uint64(1); id <= 10; id++ {
			l.add(Session{ID: id})
			all := l.all()
			if len(all) == 0 || all[len(all)-1].ID != id || len(all) > keep || len(all)+l.dropped != int(id) {
				t.Fatalf("keep %d, after adding session %d: kept %v, dropped %d; want at most %d ending with %d",
					keep, id, all, l.dropped, keep, id)
			}
		}
	}
}
