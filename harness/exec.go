package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/purpleharness/purpleharness/scenarios"
)

// maxOutput caps the stdout/stderr kept per scenario as evidence.
const maxOutput = 64 << 10

// waitDelay bounds how long a command's output pipes are read after it
// exited (as atomics.Run does).
const waitDelay = time.Second

// runCommand runs a benign scenario's command in its own process group, so
// that a timeout or Ctrl-C kills the whole tree it started, and reports its
// root pid to onStart as soon as it exists. start, when set, starts the
// process (in the run's sandbox); tempDir, when set, holds the renamed copy
// of argv[0].
func runCommand(ctx context.Context, c scenarios.Command, timeout time.Duration, onStart func(int), start func(*exec.Cmd) error, tempDir string) (Execution, error) {
	ex := Execution{Command: c.String(), Start: time.Now().UTC()}
	var argv []string
	if c.Shell != "" {
		argv = []string{"/bin/sh", "-c", c.Shell}
	} else {
		argv = append([]string{}, c.Argv...)
		path, err := exec.LookPath(argv[0])
		if err != nil {
			ex.Status, ex.Reason, ex.End = StatusSkipped, fmt.Sprintf("%s not found in PATH", argv[0]), time.Now().UTC()
			return ex, nil
		}
		argv[0] = path
		if c.ProcessName != "" {
			// A copy, not a symlink: the kernel reports the resolved image
			// path, so process.name would still be the target's name.
			dir, err := os.MkdirTemp(tempDir, "purpleharness-proc-")
			if err != nil {
				return ex, fmt.Errorf("rename %s: %w", argv[0], err)
			}
			defer os.RemoveAll(dir)
			dst := filepath.Join(dir, c.ProcessName)
			if err := copyFile(path, dst); err != nil {
				return ex, fmt.Errorf("copy %s to %s: %w", path, dst, err)
			}
			argv[0] = dst
		}
	}
	if c.Shell == "" {
		// Each scenario gets a parent of its own, as a user's shell would
		// be: run argv under "sh -c" (two commands, so sh forks rather than
		// exec'ing). Without it every benign command would be a child of the
		// harness, and a rule that joins by the parent process would join
		// events of unrelated scenarios.
		argv = append([]string{"/bin/sh", "-c", `"$@"; exit $?`, "sh"}, argv...)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A background child still holding stdout must not keep the scenario
	// running once its command has exited: Wait stops waiting for the
	// pipes after waitDelay, and the group is killed below.
	cmd.WaitDelay = waitDelay
	var stdout, stderr capped
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = nil
	if start == nil {
		start = func(cmd *exec.Cmd) error { return cmd.Start() }
	}
	if err := start(cmd); err != nil {
		ex.Status, ex.Reason, ex.End = StatusFailed, err.Error(), time.Now().UTC()
		return ex, nil
	}
	ex.PID = cmd.Process.Pid
	if onStart != nil {
		onStart(ex.PID)
	}
	err := cmd.Wait()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // exited 0; only its background children held the pipes
	}
	// Kill what the command left running in its group (background children).
	_ = syscall.Kill(-ex.PID, syscall.SIGKILL)
	ex.End = time.Now().UTC()
	ex.Stdout, ex.Stderr = stdout.String(), stderr.String()
	ex.ExitCode = cmd.ProcessState.ExitCode()
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		ex.Status, ex.Reason = StatusFailed, fmt.Sprintf("timed out after %s", timeout)
	case ctx.Err() != nil:
		ex.Status, ex.Reason = StatusFailed, "cancelled"
	case err != nil:
		ex.Status, ex.Reason = StatusFailed, fmt.Sprintf("exit code %d", ex.ExitCode)
	default:
		ex.Status = StatusOK
	}
	return ex, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// capped keeps the first maxOutput bytes written to it.
type capped struct{ bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := maxOutput - c.Len(); room > 0 {
		if len(p) > room {
			c.Buffer.Write(p[:room])
		} else {
			c.Buffer.Write(p)
		}
	}
	return len(p), nil
}
