package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/purpleharness/purpleharness/atomics"
	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/fakemail/container"
	"github.com/purpleharness/purpleharness/harness"
	"github.com/purpleharness/purpleharness/harness/elastic"
	"github.com/purpleharness/purpleharness/harness/report"
	"github.com/purpleharness/purpleharness/harness/sensor"
	"github.com/purpleharness/purpleharness/rules"
	"github.com/purpleharness/purpleharness/scenarios"
)

// runCmd is "validate run" (and bare "validate"): the whole suite under the
// sensor, every rule against every scenario, reports in --out.
func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// A closed stdout or stderr (validate run | head) must not kill the
	// run before its deferred cleanup: with SIGPIPE ignored, writes fail
	// with EPIPE instead and teardown still happens.
	signal.Ignore(syscall.SIGPIPE)
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	suite := fs.String("suite", "scenarios", "scenario suite: a directory of *.yaml files or one file")
	rulesDir := fs.String("rules", "rules", "rules: a directory or one rule file (.toml, .ndjson, .eql)")
	atomicsDir := fs.String("atomics", "atomics", "Atomic Red Team atomics folder")
	out := fs.String("out", "validate-out", "directory for the reports")
	only := fs.String("scenario", "", "run only these scenarios (comma-separated names)")
	profile := fs.String("profile", "endpoint", "telemetry profile: endpoint (Elastic Defend), auditbeat, sysmon-linux")
	getPrereqs := fs.Bool("get-prereqs", false, "fetch unmet atomic prerequisites (get_prereq_command)")
	servers := fs.String("servers", "auto", "mail servers: container (Docker, host network), in-process, or auto (container when Docker answers, else in-process)")
	backend := fs.String("backend", "auto", "rule engine: embedded, elasticsearch, both (report any difference), auto (Elasticsearch when --es-url is given or its image is present locally)")
	live := fs.Bool("live", false, "live purple-team mode: a real agent on this host ships telemetry to --es-url, and the cluster (not our sensor) answers")
	liveDelay := fs.Duration("live-delay", 15*time.Second, "live mode: how long to wait after each scenario for the agent to ship its events")
	esFlags := addElasticFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError(err)
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Errorf("run: unexpected argument %q", fs.Arg(0)))
	}
	es := esFlags.options()
	// testcontainers reads its configuration once, at first use (which may
	// be the Elasticsearch image check): no registry is reachable, so the
	// Ryuk reaper image cannot be pulled, and /.dockerenv must not send it
	// looking for the daemon on a gateway. Cleanup is ours (Shutdown).
	for k, v := range map[string]string{"TESTCONTAINERS_RYUK_DISABLED": "true", "TESTCONTAINERS_HOST_OVERRIDE": "127.0.0.1"} {
		if _, set := os.LookupEnv(k); !set {
			os.Setenv(k, v)
		}
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
		Suites: suites, Rules: rs, Profile: string(prof), RunID: harness.NewRunID(),
		Explainer: harness.Embedded{},
		StartServers: func(ctx context.Context) (harness.MailServers, error) {
			return startServers(ctx, *servers, stderr)
		},
		StartSensor: func(ctx context.Context) (harness.Sensor, error) {
			return harness.StartAuditSensor(ctx, prof)
		},
		Progress: report.Progress(stderr, isTerminal(stderr)),
	}
	switch *servers {
	case "auto", "container", "in-process":
	default:
		return usageError(fmt.Errorf("run: --servers %q: want container, in-process or auto", *servers))
	}
	// "a, b" names a and b, as a user writes a list.
	for _, name := range strings.Split(*only, ",") {
		if name = strings.TrimSpace(name); name != "" {
			cfg.Only = append(cfg.Only, name)
		}
	}
	if needsAtomics(suites) {
		cat, err := atomics.LoadDir(*atomicsDir)
		if err != nil {
			return usageError(err)
		}
		cfg.Atomics = &harness.Catalog{C: cat, GetPrereqs: *getPrereqs}
	}
	// Bad input fails before anything is started or probed.
	if err := harness.Check(cfg); err != nil {
		return usageError(err)
	}
	if *live {
		closeLive, err := setUpLive(ctx, &cfg, es, prof, *liveDelay, stderr)
		if err != nil {
			return err
		}
		defer closeLive()
	} else {
		engine, closeEngine, err := chooseEngine(ctx, *backend, es, cfg.RunID, stderr)
		if err != nil {
			return err
		}
		defer closeEngine()
		cfg.Engine = engine
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

// startServers starts the fake mail servers as asked; auto prefers a
// container and falls back to in-process when no Docker daemon answers.
// A dynamically linked validate ("go run") cannot run in the FROM-scratch
// image: the container package then builds a static one from this source
// tree (CGO_ENABLED=0, cached by the Go build cache), and says so.
func startServers(ctx context.Context, mode string, stderr io.Writer) (harness.MailServers, error) {
	if mode == "in-process" {
		return harness.StartInProcessServers(ctx, nil)
	}
	if !container.UsesRunningBinary() {
		fmt.Fprintln(stderr, "mail servers: building a static validate (CGO_ENABLED=0) for the FROM-scratch image")
	}
	s, err := harness.StartContainerServers(ctx, nil)
	if err == nil {
		return s, nil
	}
	if mode == "auto" && errors.Is(err, container.ErrNoDocker) {
		m, ierr := harness.StartInProcessServers(ctx, nil)
		if ierr != nil {
			return nil, ierr
		}
		m.Why = "no Docker daemon"
		return m, nil
	}
	return nil, err
}

// setUpLive points the run at a cluster a real agent on this host ships
// to: the cluster is both the telemetry source and the rule engine.
func setUpLive(ctx context.Context, cfg *harness.Config, o elastic.Options, prof ecs.Profile, delay time.Duration, stderr io.Writer) (func(), error) {
	if o.URL == "" {
		return nil, usageError(fmt.Errorf("run: --live needs --es-url: the cluster the agent on this host ships to"))
	}
	host, err := ecs.LocalHost()
	if err != nil {
		return nil, envError(fmt.Errorf("live: describe this host: %w", err))
	}
	c, err := elastic.Open(ctx, o)
	if err != nil {
		return nil, envError(err)
	}
	fmt.Fprintf(stderr, "engine: live, %s, host.name %q, waiting %s per scenario for the agent\n", c, host.Name, delay)
	cfg.Engine = &harness.LiveEngine{Client: c, Host: host.Name, From: time.Now().UTC()}
	cfg.StartSensor = func(ctx context.Context) (harness.Sensor, error) {
		return harness.NewLiveTelemetry(c, []string{ecs.IndexPattern(prof)}, host.Name, delay), nil
	}
	return func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = c.Close(cctx)
	}, nil
}

// chooseEngine picks the rule engine and says which in one line. The
// returned func releases it (deleting the run's Elasticsearch data).
func chooseEngine(ctx context.Context, backend string, o elastic.Options, runID string, stderr io.Writer) (harness.Engine, func(), error) {
	nop := func() {}
	switch backend {
	case "embedded":
		fmt.Fprintln(stderr, "engine: embedded EQL")
		return harness.Embedded{}, nop, nil
	case "auto":
		if o.URL == "" && !elastic.CanStart(ctx, o) {
			fmt.Fprintln(stderr, "engine: embedded EQL (no --es-url and no local Elasticsearch image)")
			return harness.Embedded{}, nop, nil
		}
	case "elasticsearch", "both":
	default:
		return nil, nop, usageError(fmt.Errorf("run: --backend %q: want embedded, elasticsearch, both or auto", backend))
	}
	c, err := elastic.Open(ctx, o)
	if err != nil {
		return nil, nop, envError(err)
	}
	es := c.NewEngine(runID)
	release := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := errors.Join(es.Close(cctx), c.Close(cctx)); err != nil {
			fmt.Fprintf(stderr, "validate: clean up Elasticsearch: %v\n", err)
		}
	}
	if backend == "both" {
		fmt.Fprintf(stderr, "engine: embedded EQL and %s, compared\n", c)
		return &harness.Both{Primary: harness.Embedded{}, Secondary: es}, release, nil
	}
	fmt.Fprintf(stderr, "engine: %s\n", c)
	return es, release, nil
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
