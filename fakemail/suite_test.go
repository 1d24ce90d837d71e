package fakemail_test

import (
	"context"
	"io"
	"log"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/fakemail"
	"github.com/purpleharness/purpleharness/fakemail/mailtest"
)

// TestClientSuiteInProcess runs the shared client suite (curl, nc,
// net/smtp, go-imap over every port and TLS mode) against Start.
func TestClientSuiteInProcess(t *testing.T) {
	cfg := fakemail.DefaultConfig()
	cfg.Ports = fakemail.EphemeralPorts()
	cfg.ErrorLog = log.New(io.Discard, "", 0)
	s, err := fakemail.Start(context.Background(), cfg)
	t.Cleanup(func() {
		if s != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s.Shutdown(ctx)
		}
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	mailtest.Run(t, s)
}
