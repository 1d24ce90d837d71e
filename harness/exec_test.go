package harness

import (
	"context"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/scenarios"
)

// TestRunCommandBackgroundChild: a command that leaves a child running in
// the background (holding its stdout) ends when the command does; the
// child is killed with its group, and the scenario is not a timeout.
func TestRunCommandBackgroundChild(t *testing.T) {
	start := time.Now()
	ex, err := runCommand(context.Background(), scenarios.Command{Shell: "sleep 30 & echo started"}, 10*time.Second, nil, nil, "")
	if err != nil {
		t.Fatalf("runCommand: %v", err)
	}
	if took := time.Since(start); ex.Status != StatusOK || took > 5*time.Second {
		t.Errorf("runCommand = %s (%s) after %s, want ok at once", ex.Status, ex.Reason, took.Round(time.Millisecond))
	}
	if ex.Stdout != "started\n" {
		t.Errorf("stdout = %q, want %q", ex.Stdout, "started\n")
	}
}

// TestRunCommandTimeout: a command that outlives its timeout is killed
// with its group and reported as timed out.
func TestRunCommandTimeout(t *testing.T) {
	start := time.Now()
	ex, err := runCommand(context.Background(), scenarios.Command{Shell: "sleep 30"}, 200*time.Millisecond, nil, nil, "")
	if err != nil {
		t.Fatalf("runCommand: %v", err)
	}
	if took := time.Since(start); ex.Status != StatusFailed || ex.Reason != "timed out after 200ms" || took > 5*time.Second {
		t.Errorf("runCommand = %s (%s) after %s, want failed (timed out after 200ms) at once", ex.Status, ex.Reason, took.Round(time.Millisecond))
	}
}
