package fakemail

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadConfigFull(t *testing.T) {
	cfg, err := LoadConfig("testdata/config/full.yaml")
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	want := Config{
		Host: "127.0.0.1", Domain: "c2.example",
		Ports:             map[Service]int{SMTP: 2525, IMAP: 1143},
		Services:          []Service{SMTP, IMAP, POP3},
		RequireTLSForAuth: true,
		Limits: Limits{MaxLineLength: 2048, MaxMessageBytes: 1 << 20, IdleTimeout: 30 * time.Second,
			MaxConnections: 8, MaxAuthFailures: 2},
		Users: []User{{Login: "implant", Password: "s3cret", Address: "implant@c2.example",
			Aliases: []string{"beacon@c2.example"},
			Messages: []SeedMessage{{Subject: "tasking", Body: "command: id"},
				{Mailbox: "Archive", Raw: "Subject: old\n\ndone\n"}}}},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("LoadConfig(full.yaml) =\n%+v\nwant\n%+v", cfg, want)
	}
	st, err := NewStore(cfg)
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	for _, mb := range []string{"INBOX", "Archive"} {
		if msgs, err := st.Messages("implant", mb); err != nil || len(msgs) != 1 {
			t.Errorf("Messages(implant, %s) = %d, %v; want 1 seeded message", mb, len(msgs), err)
		}
	}
	if !st.HasRecipient("BEACON@c2.example") {
		t.Error("alias beacon@c2.example (any case) should deliver")
	}
}

func TestParseConfigEmptyMeansDefault(t *testing.T) {
	cfg, err := ParseConfig("empty.yaml", nil)
	if err != nil || !reflect.DeepEqual(cfg.Users, []User{DefaultUser()}) {
		t.Errorf("ParseConfig(empty) = %+v, %v; want the default user", cfg, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown key", "hots: 1.2.3.4\n", `c.yaml:1:1: unknown key "hots" (want host, domain, ports, services, limits, require_tls_for_auth or users)`},
		{"unknown service port", "ports:\n  smtp: 25\n  gopher: 70\n", `c.yaml:3:3: unknown service "gopher" (want one of [smtp submission smtps pop3 pop3s imap imaps])`},
		{"port range", "ports:\n  imap: 70000\n", `c.yaml:2:9: port 70000 out of range 0-65535`},
		{"port type", "ports:\n  imap: high\n", `c.yaml:2:9: imap: cannot read "high" as *int`},
		{"bad duration", "limits:\n  idle_timeout: soon\n", `c.yaml:2:17: idle_timeout: want a positive duration like 60s, got "soon"`},
		{"user without login", "users:\n  - password: x\n", `c.yaml:2:5: user needs a login`},
		{"address without at", "users:\n  - login: a\n    address: nobody\n", `c.yaml:3:14: address "nobody" has no @`},
		{"duplicate user", "users:\n  - login: a\n  - login: a\n", `c.yaml:3:5: duplicate user "a"`},
		{"message key", "users:\n  - login: a\n    messages:\n      - subjet: x\n", `c.yaml:4:9: unknown message key "subjet" (want mailbox, from, subject, body or raw)`},
		{"not a mapping", "- a\n- b\n", `c.yaml:1:1: config must be a mapping`},
		{"syntax", "users: [\n", `c.yaml:1:8: did not find expected node content`},
		{"syntax line 2", "a: b\n  c: d\n", `c.yaml:2:4: mapping values are not allowed in this context`},
		{"duplicate key", "host: a\nhost: b\n", `c.yaml:2:1: duplicate key "host" in config`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("c.yaml", []byte(tc.yaml))
			if err == nil || err.Error() != tc.want {
				t.Errorf("ParseConfig(%q) error\n got: %v\nwant: %s", tc.yaml, err, tc.want)
			}
		})
	}
}

func TestParseConfigCollectsAllErrors(t *testing.T) {
	_, err := ParseConfig("c.yaml", []byte("hots: x\nlimits:\n  max_conns: 3\n"))
	if err == nil || strings.Count(err.Error(), "c.yaml:") != 2 {
		t.Errorf("want both errors reported together, got %v", err)
	}
}

// FuzzParseConfig: any input either parses or fails with positioned errors
// whose line lies inside the input.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("users:\n  - login: a\n    password: b\n"))
	f.Add([]byte("ports: {smtp: 1}\nlimits: {idle_timeout: 1s}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParseConfig("f.yaml", data)
		if err == nil {
			return
		}
		// YAML breaks lines at LF, CRLF and a lone CR.
		norm := strings.ReplaceAll(string(data), "\r\n", "\n")
		lines := strings.Count(norm, "\n") + strings.Count(norm, "\r") + 2
		for _, line := range strings.Split(err.Error(), "\n") {
			var l, c int
			rest, ok := strings.CutPrefix(line, "f.yaml:")
			if !ok {
				t.Fatalf("error without position: %q", line)
			}
			if _, serr := fmtSscanf(rest, &l, &c); serr != nil || l < 1 || l > lines || c < 1 {
				t.Fatalf("position out of input (%d lines): %q", lines, line)
			}
		}
	})
}

func fmtSscanf(s string, l, c *int) (int, error) { return fmt.Sscanf(s, "%d:%d:", l, c) }
