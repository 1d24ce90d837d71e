package report

import (
	"fmt"
	"io"
	"time"

	"github.com/purpleharness/purpleharness/harness"
)

// Progress returns a harness progress callback writing live status to w.
// On a terminal (tty) a running scenario's line is rewritten in place when
// it finishes; otherwise each step is a line of its own, which is what CI
// logs want.
func Progress(w io.Writer, tty bool) func(harness.Progress) {
	start := time.Now()
	return func(p harness.Progress) {
		el := time.Since(start).Round(10 * time.Millisecond)
		switch {
		case p.Step == "servers" && p.Done:
			fmt.Fprintf(w, "mail servers: %s\n", p.Message)
		case p.Step == "sensor" && p.Done:
			fmt.Fprintf(w, "sensor: %s\n", p.Message)
		case p.Step == "scenario" && !p.Done:
			if tty {
				fmt.Fprintf(w, "[%2d/%d] %-40s running…", p.Index, p.Total, p.Scenario)
			}
		case p.Step == "scenario":
			status := "ok"
			if p.Exec != nil && p.Exec.Status != harness.StatusOK {
				status = string(p.Exec.Status) + ": " + p.Exec.Reason
			}
			if tty {
				fmt.Fprint(w, "\r\033[K")
			}
			took := time.Duration(0)
			if p.Exec != nil {
				took = p.Exec.End.Sub(p.Exec.Start).Round(10 * time.Millisecond)
			}
			fmt.Fprintf(w, "[%2d/%d] %-40s %s (%s)\n", p.Index, p.Total, p.Scenario, status, took)
		case p.Step == "evaluate":
			fmt.Fprintf(w, "evaluating rules (%s after start)\n", el)
		}
	}
}
