package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/purpleharness/purpleharness/atomics"
)

// atomicsUsage is the help of "validate atomics".
const atomicsUsage = `usage: validate atomics COMMAND [flags] [REF...]

Inspect an Atomic Red Team atomics folder (atomics/T*/T*.yaml).

commands:
  list            list the tests (REF filters)
  show REF...     show tests in full: arguments, dependencies, commands
  lint            lint the folder like upstream's validator (exit 1 on findings)
  check-prereqs   check whether each test can run here: platform, executor,
                  elevation and its prerequisites (exit 1 if one cannot)
  run REF...      run tests here, cleanup included, and show the evidence
                  (exit 1 unless every one succeeded). No telemetry, no rules:
                  that is "validate run"; this is for writing atomics.

REF is a technique ID (T1071.003), a test ID (T1071.003-2), a GUID or
TECHNIQUE:NAME.

flags:
  --path DIR        atomics folder or Atomic Red Team checkout (default atomics)
  --format FORMAT   text or json (default text)
  --get-prereqs     check-prereqs, run: run get_prereq_command for unmet ones
  --timeout D       check-prereqs, run: timeout of each command (default 1m)
  --input NAME=VAL  run, show: override an input argument (repeatable)
  --resolved        show: print the commands as they will run, arguments substituted
`

type atomicsFlags struct {
	path, format string
	getPrereqs   bool
	timeout      time.Duration
	inputs       atomicsInputs
	resolved     bool
}

// atomicsInputs collects repeated --input NAME=VALUE.
type atomicsInputs map[string]string

func (f atomicsInputs) String() string { return "" }

func (f atomicsInputs) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	f[name] = value
	return nil
}

// runAtomics is "validate atomics".
func runAtomics(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, atomicsUsage)
		return silentExit(exitUsage)
	}
	sub, args := args[0], args[1:]
	if sub == "-h" || sub == "--help" || sub == "help" {
		fmt.Fprint(stdout, atomicsUsage)
		return nil
	}
	var f atomicsFlags
	fs := flag.NewFlagSet("validate atomics "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.path, "path", "atomics", "")
	fs.StringVar(&f.format, "format", "text", "")
	fs.BoolVar(&f.getPrereqs, "get-prereqs", false, "")
	fs.DurationVar(&f.timeout, "timeout", time.Minute, "")
	f.inputs = atomicsInputs{}
	fs.Var(f.inputs, "input", "")
	fs.BoolVar(&f.resolved, "resolved", false, "")
	refs, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, atomicsUsage)
		return nil
	}
	if err != nil {
		return usageError(fmt.Errorf("atomics %s: %v", sub, err))
	}
	if f.format != "text" && f.format != "json" {
		return usageError(fmt.Errorf("atomics %s: --format %q: want text or json", sub, f.format))
	}
	switch sub {
	case "list", "show", "lint", "check-prereqs", "run":
	default:
		fmt.Fprint(stderr, atomicsUsage)
		return usageError(fmt.Errorf("atomics: unknown command %q", sub))
	}
	if (sub == "show" || sub == "run") && len(refs) == 0 {
		return usageError(fmt.Errorf("atomics %s: name at least one REF", sub))
	}

	cat, err := atomics.LoadDir(f.path)
	var list atomics.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(stderr, e)
		}
		fmt.Fprintf(stderr, "validate: atomics: %d load error(s) in %s\n", len(list), f.path)
		return silentExit(exitUsage)
	}
	if err != nil {
		return usageError(err)
	}
	tests, err := cat.Select(refs...)
	if err != nil {
		return usageError(fmt.Errorf("atomics %s: %w", sub, err))
	}

	switch sub {
	case "list":
		return atomicsList(stdout, tests, f.format)
	case "show":
		if f.resolved || len(f.inputs) > 0 {
			if tests, err = atomicsResolve(tests, f.inputs, cat.Dir); err != nil {
				return usageError(err)
			}
		}
		return atomicsShow(stdout, tests, f.format)
	case "lint":
		return atomicsLint(stdout, cat, f.format)
	case "run":
		return atomicsRun(ctx, stdout, stderr, tests, f)
	default:
		return atomicsCheckPrereqs(ctx, stdout, tests, f)
	}
}

func atomicsWriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// atomicsSummary is one test in "list --format json".
type atomicsSummary struct {
	ID                string                 `json:"id"`
	Technique         string                 `json:"technique"`
	Name              string                 `json:"name"`
	GUID              string                 `json:"guid"`
	Executor          atomics.ExecutorName   `json:"executor"`
	Platforms         []atomics.Platform     `json:"supported_platforms"`
	ElevationRequired bool                   `json:"elevation_required"`
	Arguments         map[string]interface{} `json:"input_arguments,omitempty"`
	File              string                 `json:"file"`
}

func atomicsList(w io.Writer, tests []*atomics.Test, format string) error {
	if format == "json" {
		out := make([]atomicsSummary, 0, len(tests))
		for _, t := range tests {
			s := atomicsSummary{ID: t.ID(), Technique: t.Technique, Name: t.Name, GUID: t.GUID,
				Platforms: t.SupportedPlatforms, File: t.File}
			if t.Executor != nil {
				s.Executor, s.ElevationRequired = t.Executor.Name, t.Executor.ElevationRequired
			}
			out = append(out, s)
		}
		return atomicsWriteJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TEST\tGUID\tEXECUTOR\tPLATFORMS\tNAME")
	for _, t := range tests {
		exec := "-"
		if t.Executor != nil {
			exec = string(t.Executor.Name)
			if t.Executor.ElevationRequired {
				exec += " (root)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID(), atomicsOrDash(t.GUID), exec, joinPlatforms(t.SupportedPlatforms), t.Name)
	}
	return tw.Flush()
}

func atomicsOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinPlatforms(ps []atomics.Platform) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return atomicsOrDash(strings.Join(s, ","))
}

func atomicsShow(w io.Writer, tests []*atomics.Test, format string) error {
	if format == "json" {
		return atomicsWriteJSON(w, tests)
	}
	for i, t := range tests {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s  %s\n", t.ID(), t.Name)
		fmt.Fprintf(w, "  guid:       %s\n", atomicsOrDash(t.GUID))
		fmt.Fprintf(w, "  file:       %s\n", t.Pos)
		fmt.Fprintf(w, "  platforms:  %s\n", joinPlatforms(t.SupportedPlatforms))
		if e := t.Executor; e != nil {
			fmt.Fprintf(w, "  executor:   %s (elevation required: %v)\n", e.Name, e.ElevationRequired)
		}
		fmt.Fprintf(w, "  description:\n%s", atomicsIndent(t.Description, "    "))
		if len(t.InputArguments) > 0 {
			fmt.Fprintln(w, "  input arguments:")
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			for _, a := range t.InputArguments {
				fmt.Fprintf(tw, "    %s\t%s\t%q\t%s\n", a.Name, a.Type, a.Default, a.Description)
			}
			tw.Flush()
		}
		if len(t.Dependencies) > 0 {
			dep := t.DependencyExecutor
			if dep == "" && t.Executor != nil {
				dep = t.Executor.Name
			}
			fmt.Fprintf(w, "  dependencies (%s):\n", dep)
			for _, d := range t.Dependencies {
				fmt.Fprintf(w, "  - %s\n", strings.TrimSpace(d.Description))
				fmt.Fprintf(w, "    check:\n%s", atomicsIndent(d.PrereqCommand, "      "))
				if strings.TrimSpace(d.GetPrereqCommand) != "" {
					fmt.Fprintf(w, "    get:\n%s", atomicsIndent(d.GetPrereqCommand, "      "))
				}
			}
		}
		if e := t.Executor; e != nil {
			if e.Name == atomics.Manual {
				fmt.Fprintf(w, "  steps:\n%s", atomicsIndent(e.Steps, "    "))
			} else {
				fmt.Fprintf(w, "  command:\n%s", atomicsIndent(e.Command, "    "))
			}
			if strings.TrimSpace(e.CleanupCommand) != "" {
				fmt.Fprintf(w, "  cleanup:\n%s", atomicsIndent(e.CleanupCommand, "    "))
			}
		}
	}
	return nil
}

func atomicsIndent(s, prefix string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return prefix + "-\n"
	}
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString(prefix + line)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func atomicsLint(w io.Writer, cat *atomics.Catalog, format string) error {
	findings := cat.Lint()
	if format == "json" {
		if findings == nil {
			findings = []atomics.Finding{}
		}
		if err := atomicsWriteJSON(w, findings); err != nil {
			return err
		}
	} else {
		for _, f := range findings {
			fmt.Fprintln(w, f)
		}
		fmt.Fprintf(w, "%d technique(s), %d test(s), %d finding(s)\n", len(cat.Techniques), len(cat.Tests()), len(findings))
	}
	if len(findings) > 0 {
		return silentExit(exitFailed)
	}
	return nil
}

// prereqStatus is one test in "check-prereqs".
type prereqStatus struct {
	ID     string           `json:"id"`
	Name   string           `json:"name"`
	Status string           `json:"status"` // ready, not-ready, n/a
	Reason string           `json:"reason,omitempty"`
	Checks []atomics.Prereq `json:"prereqs,omitempty"`
}

func atomicsCheckPrereqs(ctx context.Context, w io.Writer, tests []*atomics.Test, f atomicsFlags) error {
	here := atomics.CurrentPlatform()
	var out []prereqStatus
	notReady := 0
	for _, t := range tests {
		st := prereqStatus{ID: t.ID(), Name: t.Name}
		switch {
		case !t.Supports(here):
			st.Status, st.Reason = "n/a", fmt.Sprintf("not for %s", here)
		case t.Executor == nil:
			st.Status, st.Reason = "not-ready", "no executor"
		default:
			res, err := atomics.CheckPrereqs(ctx, t, atomics.RunOptions{GetPrereqs: f.getPrereqs, Timeout: f.timeout})
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				st.Status, st.Reason = "not-ready", err.Error()
			} else if res.Status == atomics.Succeeded {
				st.Status = "ready"
			} else {
				st.Status, st.Reason = "not-ready", res.Reason
			}
			st.Checks = res.Prereqs
		}
		if st.Status == "not-ready" {
			notReady++
		}
		out = append(out, st)
	}
	if f.format == "json" {
		if out == nil {
			out = []prereqStatus{}
		}
		if err := atomicsWriteJSON(w, out); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, st := range out {
			reason := ""
			if st.Reason != "" {
				reason = " (" + st.Reason + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s%s\n", st.ID, st.Status, st.Name, reason)
		}
		tw.Flush()
	}
	if notReady > 0 {
		return silentExit(exitFailed)
	}
	return nil
}

// atomicsRun runs each test with live output on stderr (text) and prints
// the outcome, or the whole evidence (json).
func atomicsRun(ctx context.Context, stdout, stderr io.Writer, tests []*atomics.Test, f atomicsFlags) error {
	// Check every override against every test before running anything.
	for _, t := range tests {
		if _, err := t.Resolve(f.inputs); err != nil {
			return usageError(err)
		}
	}
	var results []atomics.Result
	failed := 0
	for _, t := range tests {
		opts := atomics.RunOptions{Inputs: f.inputs, GetPrereqs: f.getPrereqs, Timeout: f.timeout}
		if f.format == "text" {
			fmt.Fprintf(stderr, "== %s %s\n", t.ID(), t.Name)
			opts.Output = stderr
		}
		res, err := atomics.Run(ctx, t, opts)
		results = append(results, res)
		if res.Status != atomics.Succeeded {
			failed++
		}
		if f.format == "text" {
			line := fmt.Sprintf("%s  %s", t.ID(), res.Status)
			if res.Exec != nil {
				line += fmt.Sprintf("  exit %d  %s", res.Exec.ExitCode, res.Exec.Duration().Round(time.Millisecond))
			}
			if res.Reason != "" {
				line += "  (" + res.Reason + ")"
			}
			fmt.Fprintln(stdout, line)
		}
		if ctx.Err() != nil {
			break // Ctrl-C: the tree is dead and cleanup has run; stop here
		}
		if err != nil {
			return err
		}
	}
	if f.format == "json" {
		if err := atomicsWriteJSON(stdout, results); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("atomics run: interrupted; process tree killed, cleanup run: %w", ctx.Err())
	}
	if failed > 0 {
		return silentExit(exitFailed)
	}
	return nil
}

// atomicsResolve returns copies of tests whose commands have their input
// arguments (defaults and overrides) and PathToAtomicsFolder substituted.
func atomicsResolve(tests []*atomics.Test, inputs map[string]string, dir string) ([]*atomics.Test, error) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	out := make([]*atomics.Test, 0, len(tests))
	for _, t := range tests {
		in, err := t.Resolve(inputs)
		if err != nil {
			return nil, err
		}
		sub := func(s string) (string, error) { return atomics.Substitute(s, in, dir) }
		c := *t
		if t.Executor != nil {
			e := *t.Executor
			for _, f := range []*string{&e.Command, &e.CleanupCommand, &e.Steps} {
				if *f, err = sub(*f); err != nil {
					return nil, fmt.Errorf("%s: %w", t.ID(), err)
				}
			}
			c.Executor = &e
		}
		c.Dependencies = nil
		for _, d := range t.Dependencies {
			dd := *d
			for _, f := range []*string{&dd.Description, &dd.PrereqCommand, &dd.GetPrereqCommand} {
				if *f, err = sub(*f); err != nil {
					return nil, fmt.Errorf("%s: %w", t.ID(), err)
				}
			}
			c.Dependencies = append(c.Dependencies, &dd)
		}
		out = append(out, &c)
	}
	return out, nil
}
