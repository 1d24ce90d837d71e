package main

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/fakemail"
	"github.com/purpleharness/purpleharness/prereq"
)

// TestServeMailCommand runs the built binary in the foreground, talks SMTP
// to it with curl, stops it with SIGINT and reads the NDJSON evidence it
// wrote to stdout.
func TestServeMailCommand(t *testing.T) {
	curl := prereq.LookPath(t, "curl")
	bin := buildValidate(t)
	cmd := exec.Command(bin, "serve-mail", "--ephemeral", "--evidence", "-")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil && cmd.Process != nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := map[string]string{}
	sc := bufio.NewScanner(stderr)
	for len(addrs) < 7 && sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[1] == "listening" {
			addrs[f[0]] = f[3]
		}
	}
	if len(addrs) != 7 {
		t.Fatalf("serve-mail printed %d listening addresses, want 7: %v", len(addrs), addrs)
	}
	for svc, a := range addrs {
		if host, _, _ := net.SplitHostPort(a); host != "127.0.0.1" {
			t.Errorf("%s bound %s, want loopback by default", svc, a)
		}
	}
	go func() {
		for sc.Scan() { // drain
		}
	}()
	out, err := exec.Command(curl, "-sS", "--max-time", "10", "smtp://"+addrs["smtp"], "--mail-from", "a@b.test",
		"--mail-rcpt", fakemail.DefaultAddress, "-T", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v %s", err, out)
	}
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve-mail after SIGINT: %v, want exit 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve-mail did not exit after SIGINT")
	}
	sessions, err := fakemail.ReadNDJSON(&stdout, false)
	if err != nil || len(sessions) != 1 || sessions[0].Service != fakemail.SMTP || len(sessions[0].Messages) != 1 {
		t.Fatalf("evidence on stdout: %v, %+v\n%s", err, sessions, stdout.String())
	}
}

func TestServeMailExitCodes(t *testing.T) {
	bin := buildValidate(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("users:\n  - login: c2\n    pasword: x\n"), 0o644)

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, port, _ := net.SplitHostPort(busy.Addr().String())
	clash := filepath.Join(dir, "clash.yaml")
	os.WriteFile(clash, []byte("services: [smtp]\nports:\n  smtp: "+port+"\n"), 0o644)

	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"bad config", []string{"serve-mail", "--config", bad}, 2, bad + ":3:5: unknown user key \"pasword\""},
		{"port in use", []string{"serve-mail", "--config", clash}, 3, "listen smtp on 127.0.0.1:" + port},
		{"bad config, container mode", []string{"serve-mail", "--container", "--config", bad}, 2, bad + ":3:5: unknown user key \"pasword\""},
		{"listen with a port", []string{"serve-mail", "--listen", "127.0.0.1:2525"}, 2, "--listen takes an address without a port"},
		{"stray argument", []string{"serve-mail", "now"}, 2, `unexpected argument "now"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runValidate(t, bin, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("validate %v: exit %d, stderr %q; want exit %d with %q", tc.args, code, stderr, tc.code, tc.stderr)
			}
		})
	}
}
