package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/harness"
	"github.com/purpleharness/purpleharness/harness/sensor"
)

var recordCommand = command{
	name:    "record",
	summary: "run a command under the kernel sensor and write its telemetry as NDJSON ECS",
	run:     runRecord,
}

// runRecord implements
//
//	validate record [--profile endpoint|auditbeat|sysmon-linux] [--out FILE] [--all-processes] -- COMMAND [ARGS...]
//
// The exit code is COMMAND's (128+signal when a signal killed it), 3 when
// the sensor cannot start, 2 for bad usage.
func runRecord(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("record", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := fs.String("profile", "endpoint", "data source to imitate: endpoint, auditbeat or sysmon-linux")
	out := fs.String("out", "-", "NDJSON output file (- for stdout; COMMAND's stdout then goes to stderr)")
	all := fs.Bool("all-processes", false, "record every process on the host, not only COMMAND and its descendants")
	raw := fs.String("raw", "", "also write the raw audit records, audit.log style, to this file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: validate record [--profile endpoint|auditbeat|sysmon-linux] [--out FILE] [--all-processes] -- COMMAND [ARGS...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError(err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError(errors.New("record: no command given"))
	}
	prof, err := ecs.ParseProfile(*profile)
	if err != nil {
		return usageError(fmt.Errorf("record: %w", err))
	}
	host, err := ecs.LocalHost()
	if err != nil {
		return envError(fmt.Errorf("record: %w", err))
	}
	renderer := harness.NewRenderer(prof, host)

	var docs io.Writer = stdout
	cmdOut := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return envError(fmt.Errorf("record: %w", err))
		}
		defer f.Close()
		docs = f
	} else {
		cmdOut = stderr
	}
	cfg := sensor.Config{AllProcesses: *all}
	if *raw != "" {
		f, err := os.Create(*raw)
		if err != nil {
			return envError(fmt.Errorf("record: %w", err))
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		defer bw.Flush()
		cfg.Raw = bw
	}

	s, err := sensor.Start(ctx, cfg)
	if err != nil {
		if errors.Is(err, sensor.ErrNotRoot) || errors.Is(err, sensor.ErrNoAudit) {
			return envError(fmt.Errorf("record: %w", err))
		}
		return fmt.Errorf("record: %w", err)
	}
	defer s.Close()

	cmd := exec.CommandContext(ctx, fs.Arg(0), fs.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, cmdOut, stderr
	// On Ctrl-C the child, in our process group, gets SIGINT from the
	// terminal; when cancelled otherwise (SIGTERM) pass the interrupt on
	// and give it time to finish before killing it.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	code, runErr := exitStatus(cmd.Run())
	if runErr != nil {
		// As a shell would: 127 for a command that does not exist, 126
		// for one that cannot be executed.
		fmt.Fprintf(stderr, "validate: record: %v\n", runErr)
		if errors.Is(runErr, exec.ErrNotFound) || errors.Is(runErr, os.ErrNotExist) {
			return silentExit(127)
		}
		return silentExit(126)
	}

	syncCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Sync(syncCtx); err != nil {
		fmt.Fprintf(stderr, "record: warning: %v; writing what was captured\n", err)
	}
	obs := s.Observations()
	stats := s.Stats()
	if err := s.Close(); err != nil {
		fmt.Fprintf(stderr, "record: warning: %v\n", err)
	}

	bw := bufio.NewWriter(docs)
	enc := json.NewEncoder(bw)
	var written, notEmitted int
	for _, o := range obs {
		var d ecs.Document
		var err error
		if o.Exec != nil {
			d, err = renderer.Exec(*o.Exec)
		} else {
			d, err = renderer.Connect(*o.Connect)
		}
		if errors.Is(err, ecs.ErrNotEmitted) {
			notEmitted++
			continue
		}
		if err != nil {
			return fmt.Errorf("record: %w", err)
		}
		if err := enc.Encode(d); err != nil {
			return fmt.Errorf("record: write: %w", err)
		}
		written++
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("record: write: %w", err)
	}
	summary := fmt.Sprintf("record: %d documents (%s), %d lost", written, prof, stats.Lost())
	if notEmitted > 0 {
		summary += fmt.Sprintf(", %d observations %s would not send", notEmitted, prof)
	}
	if stats.Multicast {
		summary += ", read from the audit multicast group"
	}
	fmt.Fprintln(stderr, summary)
	for _, w := range stats.Warnings {
		fmt.Fprintf(stderr, "record: note: %s\n", w)
	}
	if stats.Lost() > 0 {
		fmt.Fprintf(stderr, "record: warning: capture incomplete: kernel lost %d, %d serial gaps, %d dropped\n", stats.KernelLost, stats.Gaps, stats.Dropped)
	}
	if code != 0 {
		return silentExit(code)
	}
	return nil
}

// exitStatus maps a finished command to its exit code: its own, or
// 128+signal as shells report a signal death. A command that could not
// start is an error.
func exitStatus(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 0, err
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ee.ExitCode(), nil
}
