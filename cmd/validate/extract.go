package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/purpleharness/purpleharness/harness"
	"github.com/purpleharness/purpleharness/harness/report"
)

var extractCommand = command{"extract", "write one scenario's telemetry from a run directory, for a recorded scenario", runExtract}

const extractUsage = `usage: validate extract DIR SCENARIO [--out FILE]

Writes, as NDJSON, the events the run recorded in DIR (validate run --out,
live mode included: a real agent's events) attributed to SCENARIO: its
process tree within its slice of the telemetry. A suite then names the
file as a recorded scenario (recorded: FILE), judged on every change.

  --out FILE   where to write (default standard output)
`

func runExtract(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate extract", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("out", "", "")
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, extractUsage)
		return nil
	}
	if err == nil && len(pos) != 2 {
		err = fmt.Errorf("extract: want DIR and SCENARIO, got %d arguments", len(pos))
	}
	if err != nil {
		fmt.Fprint(stderr, extractUsage)
		return usageError(err)
	}
	rec, err := report.ReadRun(pos[0])
	if err != nil {
		return usageError(fmt.Errorf("extract: %w", err))
	}
	docs, err := harness.ScenarioDocuments(rec, pos[1])
	if err != nil {
		return usageError(fmt.Errorf("extract: %s: %w", pos[0], err))
	}
	// The run's own NDJSON writer, over these documents.
	scenario := &harness.Result{Documents: docs}
	if *out == "" {
		return report.Telemetry(stdout, scenario)
	}
	f, err := os.Create(*out)
	if err != nil {
		return usageError(fmt.Errorf("extract: %w", err))
	}
	if err := report.Telemetry(f, scenario); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
