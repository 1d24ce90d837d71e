package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/harness"
	"github.com/purpleharness/purpleharness/harness/sensor"
	"github.com/purpleharness/purpleharness/prereq"
)

var recordCommand = command{
	name:    "record",
	summary: "run a command under the kernel sensor and write its telemetry as NDJSON ECS",
	run:     runRecord,
}

// runRecord implements
//
//	validate record [--sensor auto|ebpf|audit] [--profile endpoint|auditbeat|sysmon-linux] [--out FILE] [--all-processes] -- COMMAND [ARGS...]
//
// The exit code is COMMAND's (128+signal when a signal killed it), 3 when
// the sensor cannot start, 2 for bad usage.
func runRecord(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("record", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := fs.String("profile", "endpoint", "data source to imitate: endpoint, auditbeat or sysmon-linux")
	out := fs.String("out", "-", "NDJSON output file (- for stdout; COMMAND's stdout then goes to stderr)")
	all := fs.Bool("all-processes", false, "record every process on the host, not only COMMAND and its descendants")
	raw := fs.String("raw", "", "also write the raw audit records, audit.log style, to this file (audit sensor only)")
	sensorFlag := fs.String("sensor", "auto", "kernel sensor: ebpf, audit, or auto (eBPF when it loads, else audit)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: validate record [--sensor auto|ebpf|audit] [--profile endpoint|auditbeat|sysmon-linux] [--out FILE] [--all-processes] -- COMMAND [ARGS...]")
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
	choice, err := harness.ParseSensorChoice(*sensorFlag)
	if err != nil {
		return usageError(fmt.Errorf("record: %w", err))
	}
	if *raw != "" && choice == harness.SensorAuto {
		// Raw records exist only from audit.
		choice = harness.SensorAudit
	}
	if *raw != "" && choice == harness.SensorEBPF {
		return usageError(errors.New("record: --raw writes audit records: use it with --sensor audit"))
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

	s, err := harness.StartKernelSensor(ctx, choice, cfg)
	if err != nil {
		if _, env := prereq.As(err); env {
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
	obs := s.Drain()
	lost, summaryLine, notes := s.Lost(), s.Summary(), s.Notes()
	if err := s.Close(); err != nil {
		fmt.Fprintf(stderr, "record: warning: %v\n", err)
	}

	bw := bufio.NewWriter(docs)
	enc := json.NewEncoder(bw)
	var written, notEmitted int
	notRendered := map[string]int{}
	for _, o := range obs {
		ev := o.Event()
		if ev == nil {
			continue
		}
		d, err := renderer.Render(ev)
		if errors.Is(err, ecs.ErrNotEmitted) {
			notEmitted++
			continue
		}
		if errors.Is(err, ecs.ErrNotRendered) {
			notRendered[err.Error()]++
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
	summary := fmt.Sprintf("record: %d documents (%s, %s sensor), %d lost", written, prof, s.Name(), lost)
	if notEmitted > 0 {
		summary += fmt.Sprintf(", %d observations %s would not send", notEmitted, prof)
	}
	fmt.Fprintln(stderr, summary)
	for _, why := range slices.Sorted(maps.Keys(notRendered)) {
		fmt.Fprintf(stderr, "record: note: %d observations left out: %s\n", notRendered[why], why)
	}
	for _, w := range notes {
		fmt.Fprintf(stderr, "record: note: %s\n", w)
	}
	if lost > 0 {
		fmt.Fprintf(stderr, "record: warning: capture incomplete: %s\n", summaryLine)
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
