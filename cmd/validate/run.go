package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/purpleharness/purpleharness/atomics"
	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/harness"
	"github.com/purpleharness/purpleharness/harness/report"
	"github.com/purpleharness/purpleharness/harness/sensor"
	"github.com/purpleharness/purpleharness/rules"
	"github.com/purpleharness/purpleharness/scenarios"
)

// runCmd is "validate run" (and bare "validate"): the whole suite under the
// sensor, every rule against every scenario, reports in --out.
func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	suite := fs.String("suite", "scenarios", "scenario suite: a directory of *.yaml files or one file")
	rulesDir := fs.String("rules", "rules", "rules: a directory or one rule file (.toml, .ndjson, .eql)")
	atomicsDir := fs.String("atomics", "atomics", "Atomic Red Team atomics folder")
	out := fs.String("out", "validate-out", "directory for the reports")
	only := fs.String("scenario", "", "run only these scenarios (comma-separated names)")
	profile := fs.String("profile", "endpoint", "telemetry profile: endpoint (Elastic Defend), auditbeat, sysmon-linux")
	getPrereqs := fs.Bool("get-prereqs", false, "fetch unmet atomic prerequisites (get_prereq_command)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError(err)
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Errorf("run: unexpected argument %q", fs.Arg(0)))
	}
	prof, err := ecs.ParseProfile(*profile)
	if err != nil {
		return usageError(err)
	}

	suites, err := loadSuites(*suite)
	if err != nil {
		return usageError(err)
	}
	rs, err := loadRules(*rulesDir)
	if err != nil {
		return usageError(err)
	}
	cfg := harness.Config{
		Suites: suites, Rules: rs, Profile: string(prof),
		Engine: harness.Embedded{}, Explainer: harness.Embedded{},
		StartServers: func(ctx context.Context) (harness.MailServers, error) {
			return harness.StartInProcessServers(ctx, nil)
		},
		StartSensor: func(ctx context.Context) (harness.Sensor, error) {
			return harness.StartAuditSensor(ctx, prof)
		},
		Progress: report.Progress(stderr, isTerminal(stderr)),
	}
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
	}
	if needsAtomics(suites) {
		cat, err := atomics.LoadDir(*atomicsDir)
		if err != nil {
			return usageError(err)
		}
		cfg.Atomics = &harness.Catalog{C: cat, GetPrereqs: *getPrereqs}
	}

	res, err := harness.Run(ctx, cfg)
	var inErr *harness.InputError
	var envErr *harness.EnvError
	switch {
	case errors.As(err, &inErr):
		return usageError(err)
	case errors.As(err, &envErr):
		if errors.Is(err, sensor.ErrNotRoot) || errors.Is(err, sensor.ErrNoAudit) || errors.Is(err, os.ErrPermission) {
			return envError(fmt.Errorf("%w (the run needs root and kernel audit: run it with sudo)", err))
		}
		return envError(err)
	}
	if res != nil && len(res.Scenarios) > 0 {
		if _, werr := report.WriteAll(*out, res); werr != nil && err == nil {
			err = werr
		}
		if err == nil {
			if terr := report.Table(stdout, res); terr != nil {
				return terr
			}
			fmt.Fprintf(stdout, "reports: %s\n", *out)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "validate: interrupted; servers, sensor and child processes were stopped")
			return silentExit(exitFailed)
		}
		return err
	}
	if res.Failed() {
		return silentExit(exitFailed)
	}
	return nil
}

func loadSuites(p string) ([]*scenarios.Suite, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("suite: %w", err)
	}
	if st.IsDir() {
		return scenarios.LoadDir(p)
	}
	s, err := scenarios.Load(p)
	if err != nil {
		return nil, err
	}
	return []*scenarios.Suite{s}, nil
}

func loadRules(p string) ([]rules.Rule, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if st.IsDir() {
		return rules.LoadDir(p)
	}
	return rules.Load(filepath.Clean(p))
}

func needsAtomics(suites []*scenarios.Suite) bool {
	for _, s := range suites {
		for _, sc := range s.Scenarios {
			if sc.Atomic != nil {
				return true
			}
		}
	}
	return false
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
