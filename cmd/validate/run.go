package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	stdlog "log"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	tclog "github.com/testcontainers/testcontainers-go/log"
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
	sensorFlag := fs.String("sensor", "auto", "kernel sensor: ebpf, audit, or auto (eBPF when it loads, else audit; the run says which)")
	servers := fs.String("servers", "auto", "mail servers: container (Docker, host network), in-process, or auto (container when Docker answers, else in-process)")
	backend := fs.String("backend", "auto", "rule engine: embedded, elasticsearch, both (report any difference), auto (Elasticsearch when --es-url is given or its image is present locally)")
	live := fs.Bool("live", false, "live purple-team mode: a real agent on this host ships telemetry to --es-url, and the cluster (not our sensor) answers")
	c2Flag := fs.String("c2-address", "127.0.0.1", "the mail servers' address inside the run's network namespace (added to its loopback): an address Elastic's rules do not exclude makes destination.ip carry it")
	liveDelay := fs.Duration("live-delay", 15*time.Second, "live mode: how long to wait after each scenario for the agent to ship its events")
	allTechniques := fs.Bool("all-techniques", false, "judge every rule on every scenario (by default a rule tagged with ATT&CK techniques meets only the scenarios of those techniques)")
	replay := fs.String("replay", "", "judge the rules on what an earlier run recorded in this directory (its --out): nothing runs, no root needed")
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
	// --out is checked, not created: a bad one costs nothing, and bad
	// input elsewhere leaves no empty directory behind.
	if err := report.CheckDir(*out); err != nil {
		return usageError(fmt.Errorf("run: --out: %w", err))
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
	// Its ten-line "Connected to docker" banner would break into the
	// run's progress lines; the run says in one line where the servers
	// are, and Docker's own errors name the daemon it could not reach.
	tclog.SetDefault(stdlog.New(io.Discard, "", 0))
	prof, err := ecs.ParseProfile(*profile)
	if err != nil {
		return usageError(err)
	}
	c2, err := parseC2(*c2Flag)
	if err != nil {
		return usageError(err)
	}
	sensorChoice, err := harness.ParseSensorChoice(*sensorFlag)
	if err != nil {
		return usageError(fmt.Errorf("run: %w", err))
	}

	suites, err := loadSuites(*suite)
	if err != nil {
		return usageError(err)
	}
	ruleList, err := loadRules(*rulesDir)
	if err != nil {
		return usageError(err)
	}
	var rs *runSandbox
	cfg := harness.Config{
		Suites: suites, Rules: ruleList, Profile: string(prof), RunID: harness.NewRunID(),
		Explainer: harness.Embedded{},
		StartServers: func(ctx context.Context) (harness.MailServers, error) {
			return startServers(ctx, *servers, rs.serverOptions(stderr))
		},
		StartSensor: func(ctx context.Context) (harness.Sensor, error) {
			return harness.StartSensor(ctx, prof, sensorChoice)
		},
		Progress:      report.Progress(stderr, isTerminal(stderr)),
		AllTechniques: *allTechniques,
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
	if *replay != "" {
		profileSet := false
		fs.Visit(func(f *flag.Flag) { profileSet = profileSet || f.Name == "profile" })
		if !profileSet {
			cfg.Profile = ""
		}
		return replayRun(ctx, cfg, *replay, *out, *live, *backend, es, stdout, stderr)
	}
	// Bad input fails before anything is started or probed.
	if err := harness.Check(cfg); err != nil {
		return usageError(err)
	}
	// The run's network namespace, cgroup and reaper come before anything
	// they isolate or clean up.
	if rs, err = setUpSandbox(ctx, c2, stderr); err != nil {
		if os.Geteuid() != 0 {
			err = fmt.Errorf("%w (the run needs root: run it with sudo)", err)
		}
		return envError(err)
	}
	defer func() {
		if cerr := rs.Close(); cerr != nil {
			fmt.Fprintf(stderr, "validate: remove sandbox: %v\n", cerr)
		}
	}()
	rs.apply(&cfg)
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
			return silentExit(exitInterrupted)
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
// Either way they listen in the run's network namespace (opts.Listen).
func startServers(ctx context.Context, mode string, opts harness.ServerOptions) (harness.MailServers, error) {
	if mode == "in-process" {
		return harness.StartInProcessServersWith(ctx, opts)
	}
	s, err := harness.StartContainerServersWith(ctx, opts)
	if err == nil {
		return s, nil
	}
	if mode == "auto" && errors.Is(err, container.ErrNoDocker) {
		m, ierr := harness.StartInProcessServersWith(ctx, opts)
		if ierr != nil {
			return nil, ierr
		}
		m.Why = strings.TrimPrefix(err.Error(), "container: ")
		return m, nil
	}
	return nil, err
}

// parseC2 checks --c2-address: one unicast IP address.
func parseC2(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("run: --c2-address %q: want an IP address (e.g. 127.0.0.1 or 198.51.100.25)", s)
	}
	ip = ip.Unmap()
	if ip.IsUnspecified() || ip.IsMulticast() || ip.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("run: --c2-address %s: want a unicast address the servers can listen on", ip)
	}
	return ip, nil
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

// replayRun is "validate run --replay DIR": the rules judged on the run
// recorded in DIR, reports in out. It starts no sandbox, server or sensor.
func replayRun(ctx context.Context, cfg harness.Config, dir, out string, live bool, backend string, es elastic.Options, stdout, stderr io.Writer) error {
	if live {
		return usageError(errors.New("run: --replay and --live exclude each other: a replay judges recorded telemetry"))
	}
	if abs, err := filepath.Abs(dir); err == nil {
		if outAbs, err := filepath.Abs(out); err == nil && abs == outAbs {
			return usageError(fmt.Errorf("run: --out %s is the replayed directory: its recording would be overwritten", out))
		}
	}
	rec, err := report.ReadRun(dir)
	if err != nil {
		return usageError(fmt.Errorf("run: --replay: %w", err))
	}
	engine, closeEngine, err := chooseEngine(ctx, backend, es, cfg.RunID, stderr)
	if err != nil {
		return err
	}
	defer closeEngine()
	cfg.Engine = engine
	fmt.Fprintf(stderr, "replay: %s (run %s, %d scenarios, %d documents, profile %s)\n", dir, rec.RunID, len(rec.Scenarios), len(rec.Documents), rec.Profile)
	res, err := harness.Replay(ctx, cfg, rec, dir)
	var inErr *harness.InputError
	if errors.As(err, &inErr) {
		return usageError(err)
	}
	if res != nil && len(res.Scenarios) > 0 {
		if _, werr := report.WriteAll(out, res); werr != nil && err == nil {
			err = werr
		}
		if err == nil {
			if terr := report.Table(stdout, res); terr != nil {
				return terr
			}
			fmt.Fprintf(stdout, "reports: %s\n", out)
		}
	}
	if err != nil {
		return err
	}
	if res.Failed() {
		return silentExit(exitFailed)
	}
	return nil
}
