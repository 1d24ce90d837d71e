package fakemail

import (
	"bytes"
	"context"
	"io"
	"log"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/prereq"
)

// startTest starts all services on ephemeral loopback ports with the
// default account and shuts them down when the test ends.
func startTest(t testing.TB, mod func(*Config)) *Servers {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Ports = EphemeralPorts()
	cfg.ErrorLog = log.New(io.Discard, "", 0)
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg)
	t.Cleanup(func() {
		if s != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		}
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s
}

func needTool(t testing.TB, name string) string {
	t.Helper()
	return prereq.LookPath(t, name)
}

// runCurl runs curl with args and returns stdout; it fails the test on a
// non-zero exit, showing stderr.
func runCurl(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	curl := needTool(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, curl, append([]string{"-sS", "--max-time", "15"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl %s: %v\nstderr: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// waitSessions waits until n sessions have been recorded and returns them
// in connection order (by ID; Evidence is in end order, which two
// back-to-back clients can swap).
func waitSessions(t testing.TB, s *Servers, n int) []Session {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ev := s.Evidence()
		if len(ev) >= n || time.Now().After(deadline) {
			sort.Slice(ev, func(i, j int) bool { return ev[i].ID < ev[j].ID })
			return ev
		}
		time.Sleep(10 * time.Millisecond)
	}
}
