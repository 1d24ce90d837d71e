package prereq_test

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/purpleharness/purpleharness/prereq"
)

// recorder is a prereq.TB that records what the helper did instead of
// stopping the goroutine.
type recorder struct {
	skipped, failed string
}

func (r *recorder) Helper()           {}
func (r *recorder) Skip(args ...any)  { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatal(args ...any) { r.failed = fmt.Sprint(args...) }

var errAuditSocket = errors.New("audit socket: protocol not supported")

func TestSkipOrFail(t *testing.T) {
	missing := prereq.New(prereq.Audit, errAuditSocket)
	tests := []struct {
		name        string
		require     string
		err         error
		wantSkip    string
		wantFail    string
		wantNothing bool
	}{
		{name: "nil error", err: nil, wantNothing: true},
		{name: "environment cause skips",
			err:      fmt.Errorf("sensor: %w", missing),
			wantSkip: "needs audit: sensor: audit socket: protocol not supported [missing audit]"},
		{name: "our own failure fails",
			err:      fmt.Errorf("sensor: kernel refused rule %q: %w", "-a always,exit", syscall.EINVAL),
			wantFail: `sensor: kernel refused rule "-a always,exit": invalid argument`},
		{name: "required cause fails", require: "root, audit",
			err:      missing,
			wantFail: "PURPLEHARNESS_REQUIRE=root, audit requires audit, but: audit socket: protocol not supported [missing audit]"},
		{name: "other cause required still skips", require: "docker",
			err:      missing,
			wantSkip: "needs audit: audit socket: protocol not supported [missing audit]"},
		{name: "unknown name in the list fails", require: "root,audti",
			err:      missing,
			wantFail: `PURPLEHARNESS_REQUIRE="root,audti": unknown cause "audti" (known: root,audit,bpf,docker,port,pwsh,elasticsearch,corpus,upstream,tool,cgroup)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(prereq.EnvRequire, tt.require)
			var r recorder
			prereq.SkipOrFail(&r, tt.err)
			if r.skipped != tt.wantSkip || r.failed != tt.wantFail {
				t.Errorf("SkipOrFail(%v) with %s=%q:\n skipped %q\n failed  %q\nwant\n skipped %q\n failed  %q",
					tt.err, prereq.EnvRequire, tt.require, r.skipped, r.failed, tt.wantSkip, tt.wantFail)
			}
		})
	}
}

func TestMissingKeepsSentinel(t *testing.T) {
	err := fmt.Errorf("start sensor: %w", prereq.New(prereq.Audit, fmt.Errorf("wrap: %w", errAuditSocket)))
	if !errors.Is(err, errAuditSocket) {
		t.Errorf("errors.Is(%v, errAuditSocket) = false, want true", err)
	}
	m, ok := prereq.As(err)
	if !ok || m.Cause != prereq.Audit {
		t.Errorf("As(%v) = %v, %v; want cause audit", err, m, ok)
	}
	if _, ok := prereq.As(errAuditSocket); ok {
		t.Errorf("As(plain error) = true, want false")
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		text string
		want prereq.Cause
		ok   bool
	}{
		{"validate: start sensor: kernel audit unavailable [missing audit]\n", prereq.Audit, true},
		{"engine: embedded\nvalidate: start mail servers: listen 127.0.0.1:25: address already in use: held by pid 7 (exim4) [missing port]\n", prereq.Port, true},
		{"validate: start mail servers: generate certificate: boom\n", "", false},
		{"validate: [missing nonsense]", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := prereq.Parse(tt.text)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Parse(%q) = %q, %v; want %q, %v", tt.text, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSkipOrFailText(t *testing.T) {
	t.Setenv(prereq.EnvRequire, "")
	var r recorder
	prereq.SkipOrFailText(&r, "validate run exit 3", "engine: embedded\nvalidate: start sensor: no audit [missing audit]\n")
	if want := "needs audit: validate run exit 3: validate: start sensor: no audit [missing audit]"; r.skipped != want || r.failed != "" {
		t.Errorf("tagged text: skipped %q failed %q; want skipped %q", r.skipped, r.failed, want)
	}
	r = recorder{}
	prereq.SkipOrFailText(&r, "validate run exit 3", "validate: start mail servers: certificate: boom")
	if want := "validate run exit 3: validate: start mail servers: certificate: boom"; r.failed != want || r.skipped != "" {
		t.Errorf("untagged text: skipped %q failed %q; want failed %q", r.skipped, r.failed, want)
	}
}

func TestSkipMakesOneLine(t *testing.T) {
	t.Setenv(prereq.EnvRequire, "")
	var r recorder
	prereq.Skip(&r, prereq.Tool, "curl not installed\nsecond line")
	if want := "needs tool: curl not installed …"; r.skipped != want {
		t.Errorf("skipped %q, want %q", r.skipped, want)
	}
}

func TestLookPath(t *testing.T) {
	t.Setenv(prereq.EnvRequire, "tool")
	var r recorder
	if got := prereq.LookPath(&r, "purpleharness-no-such-program"); got != "" || r.failed == "" {
		t.Errorf("LookPath(missing) under REQUIRE=tool = %q, failed %q; want \"\" and a failure", got, r.failed)
	}
	if !strings.Contains(r.failed, "purpleharness-no-such-program not installed") {
		t.Errorf("failure %q does not name the program", r.failed)
	}
}

// TestBindErrorHolder: a port held by another program is the environment;
// a port held by this process (our own leak) is not.
func TestBindErrorHolder(t *testing.T) {
	nc, err := exec.LookPath("nc")
	if err != nil {
		prereq.Skip(t, prereq.Tool, "nc not installed")
	}
	// Ours first: this process holds the port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_, err = net.Listen("tcp", addr)
	if got := prereq.BindError(addr, err); got == nil {
		t.Fatalf("second listen on %s succeeded", addr)
	} else if _, ok := prereq.As(got); ok {
		t.Errorf("BindError for a port this process holds = %v, want a plain error (our leak is a bug)", got)
	}
	ln.Close()

	// Another program (netcat) holds it.
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(nc, "-l", "-k", "127.0.0.1", port)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var bindErr error
	for i := 0; i < 100; i++ {
		var l net.Listener
		if l, bindErr = net.Listen("tcp", addr); bindErr != nil {
			break
		}
		l.Close()
		syscall.Nanosleep(&syscall.Timespec{Nsec: 20e6}, nil)
	}
	got := prereq.BindError(addr, bindErr)
	m, ok := prereq.As(got)
	if !ok || m.Cause != prereq.Port {
		t.Fatalf("BindError for a port nc holds = %v, want cause port", got)
	}
	if want := fmt.Sprintf("held by pid %d (", cmd.Process.Pid); !strings.Contains(got.Error(), want) {
		t.Errorf("BindError = %q, want it to contain %q", got, want)
	}
}
