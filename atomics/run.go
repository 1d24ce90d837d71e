package atomics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// Status is how a run ended.
type Status string

const (
	// Succeeded: the command ran and exited 0.
	Succeeded Status = "succeeded"
	// Failed: the command ran and exited non-zero, or could not be started.
	Failed Status = "failed"
	// TimedOut: the command outlived RunOptions.Timeout; its whole process
	// tree was killed.
	TimedOut Status = "timed_out"
	// Cancelled: the caller's context ended (Ctrl-C) while the command ran.
	Cancelled Status = "cancelled"
	// Skipped: the test was not run; Result.Reason says why (platform,
	// executor, elevation or an unmet prerequisite).
	Skipped Status = "skipped"
)

// Defaults for RunOptions.
const (
	DefaultTimeout        = 2 * time.Minute
	DefaultCleanupTimeout = 30 * time.Second
	DefaultMaxOutput      = 1 << 20
	// waitDelay bounds how long Run waits for output pipes that a
	// background grandchild still holds after the shell itself exited.
	waitDelay = time.Second
)

// ErrNoPwsh is the cause behind "powershell executor: pwsh not found".
var ErrNoPwsh = errors.New("pwsh not found")

// RunOptions tunes Run. The zero value runs with defaults.
type RunOptions struct {
	// Inputs override input argument defaults by name. Integer, float and
	// url arguments are type-checked.
	Inputs map[string]string
	// GetPrereqs runs get_prereq_command for unmet dependencies, then
	// checks again (Invoke-AtomicRedTeam's -GetPrereqs).
	GetPrereqs bool
	// Timeout bounds the attack command (default DefaultTimeout) and each
	// prerequisite command; on expiry the whole process tree is killed.
	Timeout time.Duration
	// CleanupTimeout bounds cleanup_command (default DefaultCleanupTimeout).
	// Cleanup gets a fresh context, so it runs after a timeout or a
	// cancelled ctx too.
	CleanupTimeout time.Duration
	// OnStart is called with the attack command's process ID right after
	// it starts, so telemetry can be scoped to that process tree. The
	// executor runs in a new session whose ID is that PID.
	OnStart func(pid int)
	// Output, when set, receives a live copy of the attack command's
	// stdout and stderr.
	Output io.Writer
	// MaxOutput bounds the stdout and the stderr kept as evidence, each
	// (default DefaultMaxOutput bytes).
	MaxOutput int
	// Platform is the platform to run as (default: this machine's).
	Platform Platform
	// Elevated says whether we run as root; nil means os.Geteuid() == 0.
	Elevated *bool
	// Env is added to the environment the commands inherit.
	Env []string
	// Dir is the working directory; by default a fresh temporary directory
	// that is removed afterwards.
	Dir string
	// AtomicsDir replaces PathToAtomicsFolder (and PathToPayloads) in
	// commands; by default the folder holding the test's technique folder.
	AtomicsDir string
	// Start, if set, starts each command instead of exec.Cmd.Start: a
	// harness puts the processes into its network namespace and cgroup
	// there. It is called on the goroutine (and locked thread) that waits
	// for the command.
	Start func(*exec.Cmd) error
}

// Result is the evidence of one run.
type Result struct {
	Test   string    `json:"test"` // "T1071.003-2"
	Name   string    `json:"name"`
	GUID   string    `json:"guid,omitempty"`
	Status Status    `json:"status"`
	Reason string    `json:"reason,omitempty"` // why skipped, failed, timed out
	Inputs Inputs    `json:"inputs"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	// Prereqs holds each dependency's check, in order, as far as they ran.
	Prereqs []Prereq `json:"prereqs,omitempty"`
	// Exec is the attack command; nil when it did not run.
	Exec *Process `json:"exec,omitempty"`
	// Cleanup is the cleanup command; nil when there is none or Exec did
	// not run.
	Cleanup *Process `json:"cleanup,omitempty"`
}

// Inputs are resolved input argument values by name.
type Inputs map[string]string

// Prereq is one dependency's check.
type Prereq struct {
	Description string   `json:"description"`
	Met         bool     `json:"met"`
	Check       *Process `json:"check"`
	// Fetch is get_prereq_command's run, and Recheck the check after it,
	// when GetPrereqs asked for them.
	Fetch   *Process `json:"fetch,omitempty"`
	Recheck *Process `json:"recheck,omitempty"`
}

// Process is the evidence of one executed command.
type Process struct {
	Executor ExecutorName `json:"executor"`
	// Command is the script after #{argument} substitution.
	Command string   `json:"command"`
	Argv    []string `json:"argv"`
	PID     int      `json:"pid,omitempty"`
	// ExitCode is -1 when the process was killed by a signal.
	ExitCode        int       `json:"exit_code"`
	Signal          string    `json:"signal,omitempty"`
	Stdout          string    `json:"stdout"`
	Stderr          string    `json:"stderr"`
	StdoutTruncated bool      `json:"stdout_truncated,omitempty"`
	StderrTruncated bool      `json:"stderr_truncated,omitempty"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	TimedOut        bool      `json:"timed_out,omitempty"`
	Cancelled       bool      `json:"cancelled,omitempty"`
	// Killed lists processes of the command's session still alive after
	// it ended (background children), which Run killed.
	Killed []int `json:"killed,omitempty"`
	// Err is why the process could not be started or waited for.
	Err string `json:"error,omitempty"`
}

// Duration is how long the process ran.
func (p *Process) Duration() time.Duration { return p.End.Sub(p.Start) }

// InputError is a bad input argument override.
type InputError struct {
	Test  string // test ID
	Arg   string
	Value string
	Msg   string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("%s: input argument %s: %s", e.Test, e.Arg, e.Msg)
}

// Resolve returns the test's input arguments: each default, replaced by
// the override of the same name. An override of an undeclared argument or
// one that does not fit the argument's type is an *InputError.
func (t *Test) Resolve(overrides map[string]string) (Inputs, error) {
	in := Inputs{}
	for _, a := range t.InputArguments {
		in[a.Name] = a.Default
	}
	names := make([]string, 0, len(overrides))
	for name := range overrides {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := overrides[name]
		a := t.Argument(name)
		if a == nil {
			declared := make([]string, len(t.InputArguments))
			for i, a := range t.InputArguments {
				declared[i] = a.Name
			}
			return nil, &InputError{t.ID(), name, v, fmt.Sprintf("not declared (declared: %s)", strings.Join(declared, ", "))}
		}
		if err := a.Type.Check(v); err != nil {
			return nil, &InputError{t.ID(), name, v, fmt.Sprintf("%s argument: %v", a.Type, err)}
		}
		in[name] = v
	}
	return in, nil
}

// Substitute replaces every #{name} in s with its input value, then
// PathToAtomicsFolder and PathToPayloads (with or without a leading $, as
// Invoke-AtomicRedTeam does) with atomicsDir. A placeholder without a value
// is an error.
func Substitute(s string, in Inputs, atomicsDir string) (string, error) {
	var missing []string
	out := placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := in[name]
		if !ok {
			missing = append(missing, m)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("undeclared input argument %s", strings.Join(missing, ", "))
	}
	if atomicsDir != "" {
		for _, tok := range []string{"$PathToAtomicsFolder", "PathToAtomicsFolder", "$PathToPayloads", "PathToPayloads"} {
			out = strings.ReplaceAll(out, tok, atomicsDir)
		}
	}
	return out, nil
}

// CurrentPlatform is the platform this program runs on.
func CurrentPlatform() Platform {
	switch runtime.GOOS {
	case "darwin":
		return MacOS
	case "windows":
		return Windows
	}
	return Linux
}

// Shell returns the program and leading arguments that run a script with
// executor e, or an error saying why e cannot run here (ErrNoPwsh for a
// missing PowerShell).
func Shell(e ExecutorName) ([]string, error) {
	switch e {
	case Sh, Bash:
		p, err := exec.LookPath(string(e))
		if err != nil {
			return nil, fmt.Errorf("%s executor: %s not found", e, e)
		}
		return []string{p, "-c"}, nil
	case PowerShell:
		for _, name := range []string{"pwsh", "powershell"} {
			if p, err := exec.LookPath(name); err == nil {
				return []string{p, "-NoProfile", "-NonInteractive", "-Command"}, nil
			}
		}
		return nil, fmt.Errorf("powershell executor: %w", ErrNoPwsh)
	case CommandPrompt:
		if runtime.GOOS == "windows" {
			if p, err := exec.LookPath("cmd.exe"); err == nil {
				return []string{p, "/c"}, nil
			}
		}
		return nil, fmt.Errorf("command_prompt executor: cmd.exe exists only on Windows")
	case Manual:
		return nil, fmt.Errorf("manual executor: the steps are for a person to perform")
	}
	return nil, fmt.Errorf("unknown executor %q", e)
}

// Run executes test t: it resolves input arguments, skips what cannot run
// here (platform, executor, elevation), checks prerequisites (fetching them
// when asked), runs the attack command with a timeout that kills its whole
// process tree, and always runs cleanup_command once the attack command has
// started, with a fresh context so that a timeout or Ctrl-C does not stop
// it. Processes of the command's session left running are killed at the end.
//
// A skipped, failed or timed-out test is a Result, not an error. Run returns
// an error when the test cannot be run as asked (a bad input override, a
// malformed test) and, alongside the Result, ctx's error when ctx ended.
func Run(ctx context.Context, t *Test, opts RunOptions) (res Result, err error) {
	res = Result{Test: t.ID(), Name: t.Name, GUID: t.GUID, Start: time.Now()}
	defer func() { res.End = time.Now() }()
	r, err := prepare(t, &res, opts)
	if err != nil || r == nil {
		return res, err
	}
	defer r.close()
	if err := r.prereqs(ctx, &res); err != nil || res.Status != "" {
		return res, err
	}

	opts = r.opts
	res.Exec = r.exec(ctx, t.Executor.Name, r.command, opts.Timeout, opts.OnStart, opts.Output, true)
	if strings.TrimSpace(r.cleanup) != "" && res.Exec.PID != 0 {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.CleanupTimeout)
		res.Cleanup = r.exec(cctx, t.Executor.Name, r.cleanup, opts.CleanupTimeout, nil, nil, false)
		cancel()
	}
	// Background processes of the attack, if any, outlived its shell;
	// cleanup has had its chance to stop them, now they go.
	if res.Exec.PID != 0 {
		res.Exec.Killed = append(res.Exec.Killed, killSession(res.Exec.PID, false)...)
	}

	x := res.Exec
	switch {
	case x.Cancelled:
		res.Status, res.Reason = Cancelled, "cancelled; the process tree was killed"
	case x.TimedOut:
		res.Status, res.Reason = TimedOut, fmt.Sprintf("timed out after %s; the process tree was killed", opts.Timeout)
	case x.Err != "":
		res.Status, res.Reason = Failed, x.Err
	case x.ExitCode != 0:
		res.Status, res.Reason = Failed, fmt.Sprintf("exited with code %d", x.ExitCode)
	default:
		res.Status = Succeeded
	}
	if res.Cleanup != nil && !res.Cleanup.ok() {
		msg := fmt.Sprintf("cleanup exited with code %d", res.Cleanup.ExitCode)
		if res.Cleanup.TimedOut {
			msg = "cleanup timed out"
		}
		if res.Reason != "" {
			msg = res.Reason + "; " + msg
		}
		res.Reason = msg
	}
	if x.Cancelled {
		return res, ctx.Err()
	}
	return res, nil
}

// CheckPrereqs does what Run does up to the attack command, and stops:
// Invoke-AtomicRedTeam's -CheckPrereqs (with GetPrereqs, -GetPrereqs). The
// Result is Skipped, with the reason, when the test cannot run here or a
// prerequisite is unmet, and Succeeded when it could run now.
func CheckPrereqs(ctx context.Context, t *Test, opts RunOptions) (res Result, err error) {
	res = Result{Test: t.ID(), Name: t.Name, GUID: t.GUID, Start: time.Now()}
	defer func() { res.End = time.Now() }()
	r, err := prepare(t, &res, opts)
	if err != nil || r == nil {
		return res, err
	}
	defer r.close()
	if err := r.prereqs(ctx, &res); err != nil || res.Status != "" {
		return res, err
	}
	res.Status = Succeeded
	return res, nil
}

// prepare resolves inputs and substitutes commands. It returns a nil runner
// when res says the test is skipped, and an error when it cannot run as
// asked.
func prepare(t *Test, res *Result, opts RunOptions) (*runner, error) {
	e := t.Executor
	if e == nil {
		return nil, fmt.Errorf("%s: no executor", t.ID())
	}
	in, err := t.Resolve(opts.Inputs)
	if err != nil {
		return nil, err
	}
	res.Inputs = in
	opts = opts.withDefaults(t)
	if reason := skipReason(t, opts); reason != "" {
		res.Status, res.Reason = Skipped, reason
		return nil, nil
	}
	r := &runner{opts: opts, test: t}
	sub := func(what, s string) (string, error) {
		out, err := Substitute(s, in, opts.AtomicsDir)
		if err != nil {
			return "", fmt.Errorf("%s: %s: %w", t.ID(), what, err)
		}
		return out, nil
	}
	if r.command, err = sub("command", e.Command); err != nil {
		return nil, err
	}
	if r.cleanup, err = sub("cleanup_command", e.CleanupCommand); err != nil {
		return nil, err
	}
	for i, d := range t.Dependencies {
		check, err := sub(fmt.Sprintf("dependencies[%d].prereq_command", i), d.PrereqCommand)
		if err != nil {
			return nil, err
		}
		fetch, err := sub(fmt.Sprintf("dependencies[%d].get_prereq_command", i), d.GetPrereqCommand)
		if err != nil {
			return nil, err
		}
		r.checks = append(r.checks, [2]string{check, fetch})
	}
	if r.opts.Dir == "" {
		dir, err := os.MkdirTemp("", "purpleharness-atomic-")
		if err != nil {
			return nil, fmt.Errorf("%s: working directory: %w", t.ID(), err)
		}
		r.opts.Dir, r.tempDir = dir, dir
	}
	return r, nil
}

// prereqs checks each dependency in order, fetching it when asked, and
// sets res.Status to Skipped at the first one unmet.
func (r *runner) prereqs(ctx context.Context, res *Result) error {
	t, opts := r.test, r.opts
	depExec := t.DependencyExecutor
	if depExec == "" {
		depExec = t.Executor.Name
	}
	for i, d := range t.Dependencies {
		check, fetch := r.checks[i][0], r.checks[i][1]
		// Upstream descriptions name arguments too ("must exist at
		// #{path}"); show them substituted.
		desc, err := Substitute(d.Description, res.Inputs, opts.AtomicsDir)
		if err != nil {
			desc = d.Description
		}
		p := Prereq{Description: strings.TrimSpace(desc)}
		p.Check = r.exec(ctx, depExec, check, opts.Timeout, nil, nil, false)
		p.Met = p.Check.ok()
		if !p.Met && opts.GetPrereqs && strings.TrimSpace(fetch) != "" && ctx.Err() == nil {
			p.Fetch = r.exec(ctx, depExec, fetch, opts.Timeout, nil, nil, false)
			p.Recheck = r.exec(ctx, depExec, check, opts.Timeout, nil, nil, false)
			p.Met = p.Recheck.ok()
		}
		res.Prereqs = append(res.Prereqs, p)
		if err := ctx.Err(); err != nil {
			res.Status, res.Reason = Cancelled, "cancelled while checking prerequisites"
			return err
		}
		if !p.Met {
			res.Status = Skipped
			res.Reason = fmt.Sprintf("prerequisite not met: %s", firstLine(p.Description))
			if !opts.GetPrereqs && strings.TrimSpace(fetch) != "" {
				res.Reason += " (get_prereq_command not run: ask for GetPrereqs)"
			}
			return nil
		}
	}
	return nil
}

func (o RunOptions) withDefaults(t *Test) RunOptions {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = DefaultCleanupTimeout
	}
	if o.MaxOutput <= 0 {
		o.MaxOutput = DefaultMaxOutput
	}
	if o.Platform == "" {
		o.Platform = CurrentPlatform()
	}
	if o.AtomicsDir == "" && t.File != "" {
		if abs, err := filepath.Abs(t.File); err == nil {
			o.AtomicsDir = filepath.Dir(filepath.Dir(abs))
		}
	}
	return o
}

// skipReason says why t cannot run here, or "".
func skipReason(t *Test, o RunOptions) string {
	e := t.Executor
	if !t.Supports(o.Platform) {
		return fmt.Sprintf("platform %s not in supported_platforms (%s)", o.Platform, joinQuoted(t.SupportedPlatforms))
	}
	if _, err := Shell(e.Name); err != nil {
		return err.Error()
	}
	if t.DependencyExecutor != "" && len(t.Dependencies) > 0 {
		if _, err := Shell(t.DependencyExecutor); err != nil {
			return "dependency " + err.Error()
		}
	}
	elevated := os.Geteuid() == 0
	if o.Elevated != nil {
		elevated = *o.Elevated
	}
	if e.ElevationRequired && !elevated {
		return "elevation required: not running as root"
	}
	return ""
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (p *Process) ok() bool { return p.Err == "" && p.ExitCode == 0 && !p.TimedOut && !p.Cancelled }

type runner struct {
	opts             RunOptions
	test             *Test
	command, cleanup string
	checks           [][2]string // substituted prereq and get_prereq commands
	tempDir          string
}

func (r *runner) close() {
	if r.tempDir != "" {
		os.RemoveAll(r.tempDir)
	}
}

// exec runs script with executor name in its own session, killing the
// session's processes when ctx ends or timeout passes. Unless keep is set
// (the attack command, whose background processes live until after
// cleanup), processes the script left running are killed when it exits.
func (r *runner) exec(ctx context.Context, name ExecutorName, script string, timeout time.Duration, onStart func(int), live io.Writer, keep bool) *Process {
	p := &Process{Executor: name, Command: script, ExitCode: -1}
	shell, err := Shell(name)
	if err != nil {
		p.Err = err.Error()
		p.Start, p.End = time.Now(), time.Now()
		return p
	}
	arg := script
	if name == CommandPrompt {
		// cmd /c runs one line; Invoke-AtomicRedTeam joins the lines with
		// " & " (Private/Invoke-ExecuteCommand.ps1), and so do we.
		arg = strings.ReplaceAll(strings.TrimSpace(strings.ReplaceAll(script, "\r\n", "\n")), "\n", " & ")
	}
	p.Argv = append(append([]string(nil), shell...), arg)
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, p.Argv[0], p.Argv[1:]...)
	cmd.Dir = r.opts.Dir
	cmd.Env = append(os.Environ(), r.opts.Env...)
	if live != nil {
		live = &lockedWriter{w: live} // stdout and stderr are copied concurrently
	}
	stdout := &capped{max: r.opts.MaxOutput, live: live}
	stderr := &capped{max: r.opts.MaxOutput, live: live}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	setSession(cmd)
	cmd.Cancel = func() error {
		p.Killed = append(p.Killed, killSession(cmd.Process.Pid, true)...)
		return nil
	}
	cmd.WaitDelay = waitDelay

	// Pdeathsig (proc_linux.go) fires when the OS thread that forked the
	// child exits, not the process; keep this goroutine on its thread until
	// the child is waited for, so that the signal means what it should.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p.Start = time.Now()
	start := cmd.Start
	if r.opts.Start != nil {
		start = func() error { return r.opts.Start(cmd) }
	}
	if err := start(); err != nil {
		p.End = time.Now()
		switch {
		case ctx.Err() != nil:
			p.Cancelled = true
		case tctx.Err() != nil:
			p.TimedOut = true
		default:
			p.Err = fmt.Sprintf("start %s: %v", name, err)
		}
		return p
	}
	p.PID = cmd.Process.Pid
	if onStart != nil {
		onStart(p.PID)
	}
	werr := cmd.Wait()
	p.End = time.Now()
	p.Stdout, p.StdoutTruncated = stdout.result()
	p.Stderr, p.StderrTruncated = stderr.result()
	if st := cmd.ProcessState; st != nil {
		p.ExitCode = st.ExitCode()
		p.Signal = exitSignal(st)
	}
	switch {
	case ctx.Err() != nil:
		p.Cancelled = true
	case tctx.Err() != nil:
		p.TimedOut = true
	case werr != nil && cmd.ProcessState == nil:
		p.Err = werr.Error()
	}
	if !keep {
		p.Killed = append(p.Killed, killSession(p.PID, false)...)
	}
	return p
}

// capped keeps the first max bytes written to it and notes the rest was
// dropped; it also copies everything to live, if set.
type capped struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	max       int
	truncated bool
	live      io.Writer
}

func (c *capped) Write(b []byte) (int, error) {
	n := len(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live != nil {
		c.live.Write(b) //nolint:errcheck // a broken live view must not fail the test
	}
	room := c.max - c.buf.Len()
	if len(b) > room {
		c.truncated = true
		b = b[:max(room, 0)]
	}
	c.buf.Write(b)
	return n, nil
}

func (c *capped) result() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String(), c.truncated
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
