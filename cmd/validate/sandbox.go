package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/purpleharness/purpleharness/fakemail/container"
	"github.com/purpleharness/purpleharness/harness"
	"github.com/purpleharness/purpleharness/harness/sandbox"
	"github.com/purpleharness/purpleharness/harness/sensor"
	"github.com/purpleharness/purpleharness/harness/sensor/ebpf"
)

// reapActions are the removals the reaper (sandbox.ReapMain) adds to its
// built-in ones: the run's containers and images, and its audit rules
// (with the audit state they changed).
func reapActions() map[string]sandbox.Action {
	owner := func(it sandbox.Item) (int, int64, error) {
		pid, start, ok := strings.Cut(it.Name, "-")
		p, err1 := strconv.Atoi(pid)
		s, err2 := strconv.ParseInt(start, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("bad owner %q", it.Name)
		}
		return p, s, nil
	}
	return map[string]sandbox.Action{
		sandbox.KindContainer: func(ctx context.Context, it sandbox.Item) error {
			pid, start, err := owner(it)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			_, err = container.RemoveOwnedBy(ctx, pid, strconv.FormatInt(start, 10))
			if errors.Is(err, container.ErrNoDocker) {
				return nil
			}
			return err
		},
		kindTracefs: func(context.Context, sandbox.Item) error {
			// The eBPF sensor mounts tracefs only while it attaches; a
			// run killed then leaves a mount its marker names.
			return ebpf.ReapTracefs()
		},
		sandbox.KindAudit: func(ctx context.Context, it sandbox.Item) error {
			pid, start, err := owner(it)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_, err = sensor.Reap(ctx, func(p int, s int64) bool { return p == pid && s == start })
			return err
		},
	}
}

// kindTracefs is the tracefs mount the run's eBPF sensor may make while
// it attaches.
const (
	kindTracefs  = "tracefs"
	tracefsMount = "/sys/kernel/tracing"
)

// runSandbox is a run's isolation and its reaper.
type runSandbox struct {
	sb     *sandbox.Sandbox
	reaper *sandbox.Reaper
	tmp    string
}

// setUpSandbox removes what dead runs left behind (saying what, by name),
// starts the reaper, and creates the run's network namespace, cgroup and
// temporary directory, each told to the reaper before it exists.
func setUpSandbox(ctx context.Context, c2 netip.Addr, stderr io.Writer) (_ *runSandbox, err error) {
	removeStale(ctx, stderr)
	rs := &runSandbox{}
	defer func() {
		if err != nil {
			rs.Close()
		}
	}()
	if rs.reaper, err = sandbox.StartReaper(); err != nil {
		return nil, err
	}
	self := sandbox.Self().String()
	if err := rs.reaper.Add(sandbox.Item{Kind: sandbox.KindAudit, Name: self}, sandbox.Item{Kind: sandbox.KindContainer, Name: self}); err != nil {
		return nil, err
	}
	// The eBPF sensor mounts tracefs, when none is mounted, for as long
	// as it attaches; should the run die then, the reaper unmounts it.
	if err := rs.reaper.Add(sandbox.Item{Kind: kindTracefs, Name: tracefsMount}); err != nil {
		return nil, err
	}
	if rs.sb, err = sandbox.New(sandbox.Options{C2: c2}); err != nil {
		return nil, err
	}
	if err := rs.reaper.Add(rs.sb.Items()...); err != nil {
		return nil, err
	}
	if rs.tmp, err = sandbox.TempDir("run"); err != nil {
		return nil, err
	}
	if err := rs.reaper.Add(sandbox.Item{Kind: sandbox.KindDir, Name: rs.tmp}); err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "sandbox: %s\n", rs.sb.Describe())
	return rs, nil
}

// apply points the run's parts at the sandbox.
func (rs *runSandbox) apply(cfg *harness.Config) {
	cfg.StartProcess = rs.sb.Start
	cfg.TempDir = rs.tmp
	cfg.C2 = rs.sb.C2.String()
	if c, ok := cfg.Atomics.(*harness.Catalog); ok {
		c.Start, c.TempDir, c.C2 = rs.sb.Start, rs.tmp, cfg.C2
	}
}

// serverOptions place the mail servers in the sandbox.
func (rs *runSandbox) serverOptions(stderr io.Writer) harness.ServerOptions {
	return harness.ServerOptions{
		Host:     rs.sb.C2.String(),
		Listen:   rs.sb.Listen,
		Where:    "network namespace " + rs.sb.Netns.Name,
		Progress: func(s string) { fmt.Fprintf(stderr, "mail servers: %s\n", s) },
	}
}

// Close removes the sandbox and tells the reaper the run cleaned up.
func (rs *runSandbox) Close() error {
	var errs []error
	if rs.sb != nil {
		errs = append(errs, rs.sb.Close())
	}
	if rs.tmp != "" {
		errs = append(errs, os.RemoveAll(rs.tmp))
	}
	rs.reaper.Done()
	return errors.Join(errs...)
}

// removeStale removes the state of runs that died with no reaper to clean
// up after them (or whose reaper died too), and names it.
func removeStale(ctx context.Context, stderr io.Writer) {
	var removed []string
	var errs []error
	r, err := sandbox.RemoveStale()
	removed, errs = append(removed, r...), append(errs, err)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r, err = container.RemoveOrphans(ctx)
	removed, errs = append(removed, r...), append(errs, err)
	r, err = sensor.Reap(ctx, nil)
	removed, errs = append(removed, r...), append(errs, err)
	if len(removed) > 0 {
		fmt.Fprintf(stderr, "stale state of dead runs removed: %s\n", strings.Join(removed, ", "))
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "validate: removing stale state: %v\n", err)
	}
}
