// Command validate is purpleharness's command line: it runs atomic tests
// against fake mail servers under a kernel telemetry sensor and checks that
// detection rules fire, or stay silent, as each scenario expects.
//
// main is thin: it picks the subcommand, hands it a context cancelled on
// SIGINT/SIGTERM, and maps the returned error to an exit code. os.Exit is
// called here and nowhere else, so deferred cleanup in the subcommands
// always runs.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/purpleharness/purpleharness/harness/sandbox"
)

// Exit codes shared by every subcommand.
const (
	exitOK     = 0 // all expectations met / command succeeded
	exitFailed = 1 // an expectation failed, lint found problems
	exitUsage  = 2 // bad input: usage, YAML, TOML, EQL
	exitEnv    = 3 // environment: not root, no audit, no Docker, cannot bind
	// exitInterrupted: SIGINT or SIGTERM stopped the command (128+SIGINT,
	// as a shell reports it), at whatever moment; everything it started
	// was stopped and removed.
	exitInterrupted = 130
)

// exitCodeTable is the one text of the exit codes: "validate help" prints
// it, and a test holds README.md and docs/harness.md to the same lines.
const exitCodeTable = `exit codes:
  0    every expectation met; the command succeeded
  1    an expectation failed, or lint found a problem
  2    bad input (flags, --out, suite YAML, atomics, rule files, EQL, with file:line:col); nothing started
  3    environment (not root, no kernel audit, no network namespace, no Docker or Elasticsearch where one was required)
  130  interrupted (Ctrl-C, SIGTERM) at any moment: everything started is stopped and removed; a started run's reports are written and marked incomplete
`

// exitError carries the exit code a subcommand wants for its error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as bad input (exit 2).
func usageError(err error) error { return &exitError{exitUsage, err} }

// envError marks err as an environment problem (exit 3).
func envError(err error) error { return &exitError{exitEnv, err} }

// silentExit ends the command with code and no further message (the command
// has already printed what it had to say).
func silentExit(code int) error { return &exitError{code, errSilent} }

var errSilent = errors.New("")

// A command is one subcommand. run gets the arguments after the subcommand's
// name; it writes results to stdout and diagnostics to stderr.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists the subcommands in the order help shows them. Each lives in
// a file of its own named after it.
func commands() []command {
	return []command{
		{"run", "run the scenario suite under the sensor and check every rule (default)", runCmd},
		recordCommand,
		{"atomics", "list, show, lint and check Atomic Red Team tests", runAtomics},
		lintCommand,
		diffCommand,
		extractCommand,
		queryCommand,
		conformanceCommand,
		serveMailCommand,
	}
}

func main() {
	// The run's reaper is this executable again (harness/sandbox): it
	// does nothing else.
	if sandbox.IsReaper() {
		os.Exit(sandbox.ReapMain(reapActions()))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches args to a subcommand and returns the process exit code.
// With no subcommand (or only flags) it runs "run", the main job.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	name := "run"
	switch {
	case len(args) > 0 && isHelpFlag(args[0]):
		name, args = "help", nil // "validate --help" lists the commands, not run's flags
	case len(args) > 0 && !strings.HasPrefix(args[0], "-"):
		name, args = args[0], args[1:]
	}
	switch {
	case name == "help" && len(args) > 0:
		// "validate help CMD" is "validate CMD -h".
		name, args = args[0], []string{"-h"}
	case name == "help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == name {
			err := c.run(ctx, args, stdout, stderr)
			if err != nil && ctx.Err() != nil {
				// Whatever failed once the user interrupted is the
				// interruption's doing: one code for it, at any moment.
				if !errors.Is(err, errSilent) {
					fmt.Fprintf(stderr, "validate: interrupted: %v\n", err)
				}
				return exitInterrupted
			}
			return exitCode(err, stderr)
		}
	}
	fmt.Fprintf(stderr, "validate: unknown command %q\n", name)
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: validate [command] [flags]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'validate COMMAND -h' (or 'validate help COMMAND') for a command's flags.")
	fmt.Fprintln(w)
	fmt.Fprint(w, exitCodeTable)
}

func isHelpFlag(a string) bool {
	switch a {
	case "-h", "-help", "--help", "--h":
		return true
	}
	return false
}

// exitCode prints err (unless silent) and maps it to an exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	code := exitFailed
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if !errors.Is(err, errSilent) {
		fmt.Fprintf(stderr, "validate: %v\n", err)
	}
	return code
}
