//go:build linux

package atomics

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/prereq"
)

// parseTest decodes a one-test technique written inline.
func parseTest(t *testing.T, src string) *Test {
	t.Helper()
	tech, err := Parse("inline.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(tech.Tests) != 1 {
		t.Fatalf("Parse: %d tests, want 1", len(tech.Tests))
	}
	return tech.Tests[0]
}

// shTest builds a sh test around command and cleanup.
func shTest(t *testing.T, command, cleanup string) *Test {
	t.Helper()
	src := "attack_technique: T9999\ndisplay_name: Run tests\natomic_tests:\n- name: t\n  description: d\n  supported_platforms: [linux]\n  executor:\n    name: sh\n    command: |\n" + indent(command, "      ")
	if cleanup != "" {
		src += "    cleanup_command: |\n" + indent(cleanup, "      ")
	}
	return parseTest(t, src)
}

func indent(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(prefix + l + "\n")
	}
	return b.String()
}

func needShell(t *testing.T, name string) {
	t.Helper()
	prereq.LookPath(t, name)
}

// alive reports whether pid is a live (non-zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// readPIDs reads the PIDs a test command wrote, one per line.
func readPIDs(t *testing.T, file string) []int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pid file %q: %v", b, err)
		}
		pids = append(pids, pid)
	}
	return pids
}

func TestRunEvidence(t *testing.T) {
	needShell(t, "sh")
	tests := []struct {
		name       string
		command    string
		wantStatus Status
		wantExit   int
		wantStdout string
		wantStderr string
	}{
		{"success", "echo hello\necho oops >&2", Succeeded, 0, "hello\n", "oops\n"},
		{"non-zero exit", "echo partial\nexit 7", Failed, 7, "partial\n", ""},
		{"multi-line script with quoting", "x='a b'\nfor w in $x; do printf '[%s]' \"$w\"; done", Succeeded, 0, "[a][b]", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var started int
			var live strings.Builder
			res, err := Run(context.Background(), shTest(t, tt.command, ""), RunOptions{OnStart: func(pid int) { started = pid }, Output: &live})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			x := res.Exec
			if res.Status != tt.wantStatus || x.ExitCode != tt.wantExit || x.Stdout != tt.wantStdout || x.Stderr != tt.wantStderr {
				t.Errorf("Run(%q) = status %s exit %d stdout %q stderr %q, want %s %d %q %q",
					tt.command, res.Status, x.ExitCode, x.Stdout, x.Stderr, tt.wantStatus, tt.wantExit, tt.wantStdout, tt.wantStderr)
			}
			if live.Len() != len(tt.wantStdout)+len(tt.wantStderr) {
				t.Errorf("live output %q, want stdout and stderr (%d bytes)", live.String(), len(tt.wantStdout)+len(tt.wantStderr))
			}
			if started == 0 || started != x.PID {
				t.Errorf("OnStart got pid %d, evidence says %d", started, x.PID)
			}
			if x.Start.IsZero() || x.End.Before(x.Start) || res.End.Before(x.End) {
				t.Errorf("times: exec %v..%v, result end %v", x.Start, x.End, res.End)
			}
		})
	}
}

// TestRunTimeoutKillsTree starts a child, a grandchild that moved to its
// own session, and a foreground sleep; the timeout must kill all of them
// and cleanup must still run.
func TestRunTimeoutKillsTree(t *testing.T) {
	needShell(t, "sh")
	prereq.LookPath(t, "setsid")
	dir := t.TempDir()
	pids, marker := filepath.Join(dir, "pids"), filepath.Join(dir, "cleaned")
	test := shTest(t, `
sleep 300 &
echo $! >> `+pids+`
sh -c 'setsid sleep 301 & echo $! >> `+pids+`; wait' &
echo $! >> `+pids+`
while [ "$(wc -l < `+pids+`)" -lt 3 ]; do sleep 0.05; done
sleep 302
`, "touch "+marker)
	start := time.Now()
	// The timeout leaves the script time to start all three under load.
	res, err := Run(context.Background(), test, RunOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Status != TimedOut || !res.Exec.TimedOut {
		t.Errorf("Run: status %s (%s), want %s", res.Status, res.Reason, TimedOut)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run took %s after a 2s timeout", d)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("cleanup did not run after the timeout: %v", err)
	}
	got := readPIDs(t, pids)
	if len(got) != 3 {
		t.Fatalf("pid file holds %v, want 3 pids", got)
	}
	for _, pid := range append(got, res.Exec.PID) {
		if alive(pid) {
			t.Errorf("pid %d still alive after the timeout", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// TestRunCancelRunsCleanup cancels the context the way Ctrl-C does.
func TestRunCancelRunsCleanup(t *testing.T) {
	needShell(t, "sh")
	dir := t.TempDir()
	marker := filepath.Join(dir, "cleaned")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	test := shTest(t, "sleep 300", "touch "+marker)
	res, err := Run(ctx, test, RunOptions{OnStart: func(int) { time.AfterFunc(200*time.Millisecond, cancel) }})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run: err %v, want context.Canceled", err)
	}
	if res.Status != Cancelled {
		t.Errorf("Run: status %s, want %s", res.Status, Cancelled)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("cleanup did not run after cancel: %v", err)
	}
	if alive(res.Exec.PID) {
		t.Errorf("executor pid %d alive after cancel", res.Exec.PID)
	}
}

// TestRunKillsLeftovers: a background process outliving the command is
// killed once cleanup has run, and reported.
func TestRunKillsLeftovers(t *testing.T) {
	needShell(t, "sh")
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	res, err := Run(context.Background(), shTest(t, "sleep 300 >/dev/null 2>&1 &\necho $! > "+pids, ""), RunOptions{})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Status != Succeeded {
		t.Errorf("Run: status %s (%s), want %s", res.Status, res.Reason, Succeeded)
	}
	got := readPIDs(t, pids)
	if len(got) != 1 {
		t.Fatalf("pids %v", got)
	}
	if alive(got[0]) {
		t.Errorf("background sleep %d still alive", got[0])
		syscall.Kill(got[0], syscall.SIGKILL)
	}
	if len(res.Exec.Killed) != 1 || res.Exec.Killed[0] != got[0] {
		t.Errorf("Killed = %v, want [%d]", res.Exec.Killed, got[0])
	}
}

func TestRunOutputBounded(t *testing.T) {
	needShell(t, "sh")
	res, err := Run(context.Background(), shTest(t, "i=0; while [ $i -lt 2000 ]; do echo 0123456789012345678901234567890123456789; i=$((i+1)); done", ""), RunOptions{MaxOutput: 1000})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Exec.Stdout) != 1000 || !res.Exec.StdoutTruncated || res.Status != Succeeded {
		t.Errorf("Run: stdout %d bytes truncated=%v status %s, want 1000 bytes, truncated, %s", len(res.Exec.Stdout), res.Exec.StdoutTruncated, res.Status, Succeeded)
	}
}

const argsTest = `attack_technique: T9999
display_name: Arguments
atomic_tests:
- name: args
  description: d
  supported_platforms: [linux]
  input_arguments:
    count:
      description: c
      type: Integer
      default: 3
    ratio:
      description: r
      type: FLOAT
      default: 0.5
    host:
      description: h
      type: Url
      default: 127.0.0.1
    file:
      description: f
      type: Path
      default: PathToAtomicsFolder/T9999/src/x.txt
  executor:
    name: sh
    command: 'echo "#{count} #{ratio} #{host} #{file}"'
`

func TestRunInputs(t *testing.T) {
	needShell(t, "sh")
	tests := []struct {
		name      string
		overrides map[string]string
		wantOut   string
		wantErr   string
	}{
		{"defaults", nil, "3 0.5 127.0.0.1 /atomics/T9999/src/x.txt\n", ""},
		{"overrides", map[string]string{"count": "5", "ratio": "2", "host": "https://mail.example.test:8443/x", "file": "/tmp/y"}, "5 2 https://mail.example.test:8443/x /tmp/y\n", ""},
		{"integer checked", map[string]string{"count": "three"}, "", `T9999-1: input argument count: integer argument: "three" is not an integer`},
		{"float checked", map[string]string{"ratio": "1/2"}, "", `T9999-1: input argument ratio: float argument: "1/2" is not a number`},
		{"url checked", map[string]string{"host": "not a host"}, "", `T9999-1: input argument host: url argument: "not a host" is not a URL, IP address or host name`},
		{"undeclared", map[string]string{"port": "25"}, "", `T9999-1: input argument port: not declared (declared: count, ratio, host, file)`},
	}
	test := parseTest(t, argsTest)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), test, RunOptions{Inputs: tt.overrides, AtomicsDir: "/atomics"})
			if tt.wantErr != "" {
				var ie *InputError
				if err == nil || err.Error() != tt.wantErr || !errors.As(err, &ie) {
					t.Fatalf("Run(%v): err %v, want *InputError %q", tt.overrides, err, tt.wantErr)
				}
				if res.Exec != nil {
					t.Errorf("Run(%v) executed despite the bad input", tt.overrides)
				}
				return
			}
			if err != nil || res.Exec == nil || res.Exec.Stdout != tt.wantOut {
				t.Fatalf("Run(%v): %v, stdout %q, want %q", tt.overrides, err, res.Exec.Stdout, tt.wantOut)
			}
		})
	}
}

func TestRunSkips(t *testing.T) {
	needShell(t, "sh")
	no := false
	_, pwshErr := exec.LookPath("pwsh")
	tests := []struct {
		name string
		src  string
		opts RunOptions
		want string // Reason of a skipped result; "" = must not skip
	}{
		{"platform", one("[windows]", "sh", "echo x", ""), RunOptions{}, "platform linux not in supported_platforms (windows)"},
		{"command_prompt", one("[linux]", "command_prompt", "dir", ""), RunOptions{}, "command_prompt executor: cmd.exe exists only on Windows"},
		{"manual", "attack_technique: T9999\ndisplay_name: Skips\natomic_tests:\n- name: m\n  description: d\n  supported_platforms: [linux]\n  executor:\n    name: manual\n    steps: click the thing\n", RunOptions{}, "manual executor: the steps are for a person to perform"},
		{"elevation", one("[linux]", "sh", "id", "    elevation_required: true\n"), RunOptions{Elevated: &no}, "elevation required: not running as root"},
		{"prerequisite unmet", one("[linux]", "sh", "echo x", "  dependencies:\n  - description: a file that is not there\n    prereq_command: test -e /nonexistent/purpleharness\n    get_prereq_command: echo cannot\n"), RunOptions{}, "prerequisite not met: a file that is not there (get_prereq_command not run: ask for GetPrereqs)"},
		{"prerequisite still unmet after get_prereq", one("[linux]", "sh", "echo x", "  dependencies:\n  - description: a file that is not there\n    prereq_command: test -e /nonexistent/purpleharness\n    get_prereq_command: echo cannot\n"), RunOptions{GetPrereqs: true}, "prerequisite not met: a file that is not there"},
		{"prerequisite met", one("[linux]", "sh", "echo x", "  dependencies:\n  - description: sh exists\n    prereq_command: command -v sh\n"), RunOptions{}, ""},
	}
	if pwshErr != nil {
		tests = append(tests, struct {
			name string
			src  string
			opts RunOptions
			want string
		}{"pwsh missing", one("[linux]", "powershell", "Write-Output x", ""), RunOptions{}, "powershell executor: pwsh not found"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), parseTest(t, tt.src), tt.opts)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tt.want == "" {
				if res.Status != Succeeded {
					t.Errorf("Run: status %s (%s), want %s", res.Status, res.Reason, Succeeded)
				}
				return
			}
			if res.Status != Skipped || res.Reason != tt.want {
				t.Errorf("Run: %s %q, want %s %q", res.Status, res.Reason, Skipped, tt.want)
			}
			if res.Exec != nil || res.Cleanup != nil {
				t.Errorf("Run: skipped test executed: %+v", res.Exec)
			}
		})
	}
}

// TestRunGetPrereqs: get_prereq_command meets the dependency, then the test
// runs; #{arguments} are substituted in dependencies too.
func TestRunGetPrereqs(t *testing.T) {
	needShell(t, "sh")
	dir := t.TempDir()
	src := "attack_technique: T9999\ndisplay_name: Prereqs\natomic_tests:\n- name: p\n  description: d\n  supported_platforms: [linux]\n" +
		"  input_arguments:\n    marker:\n      description: m\n      type: path\n      default: " + filepath.Join(dir, "m") + "\n" +
		"  dependencies:\n  - description: 'marker #{marker} exists'\n    prereq_command: 'test -e #{marker}'\n    get_prereq_command: 'touch #{marker}'\n" +
		"  executor:\n    name: sh\n    command: |\n      cat #{marker} && echo ran\n"
	test := parseTest(t, src)
	res, err := Run(context.Background(), test, RunOptions{GetPrereqs: true})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Status != Succeeded || res.Exec.Stdout != "ran\n" {
		t.Fatalf("Run: %s (%s) stdout %q", res.Status, res.Reason, res.Exec.Stdout)
	}
	p := res.Prereqs[0]
	if want := "marker " + filepath.Join(dir, "m") + " exists"; p.Description != want {
		t.Errorf("prereq description %q, want %q (substituted)", p.Description, want)
	}
	if !p.Met || p.Check.ExitCode == 0 || p.Fetch == nil || p.Recheck.ExitCode != 0 {
		t.Errorf("prereq evidence: met %v check exit %d fetch %v recheck %+v", p.Met, p.Check.ExitCode, p.Fetch, p.Recheck)
	}
}

// one builds a one-test technique source.
func one(platforms, executor, command, extra string) string {
	s := "attack_technique: T9999\ndisplay_name: Skips\natomic_tests:\n- name: s\n  description: d\n  supported_platforms: " + platforms + "\n"
	executorExtra := ""
	if strings.HasPrefix(extra, "    ") {
		executorExtra, extra = extra, ""
	}
	return s + extra + "  executor:\n    name: " + executor + "\n    command: " + command + "\n" + executorExtra
}

// TestRunCancelledBeforeStart: a context that has already ended runs
// nothing, cleanup included, and says so.
func TestRunCancelledBeforeStart(t *testing.T) {
	needShell(t, "sh")
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Run(ctx, shTest(t, "touch "+marker, "touch "+marker+".cleanup"), RunOptions{})
	if !errors.Is(err, context.Canceled) || res.Status != Cancelled {
		t.Errorf("Run(cancelled ctx) = %s, %v; want %s, context.Canceled", res.Status, err, Cancelled)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("the command ran despite the cancelled context")
	}
	if res.Cleanup != nil {
		t.Errorf("cleanup ran though the command never started")
	}
}

// TestRunCleanupLeftoversKilled: what a cleanup or prerequisite command
// leaves running is killed as soon as it exits.
func TestRunCleanupLeftoversKilled(t *testing.T) {
	needShell(t, "sh")
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	res, err := Run(context.Background(), shTest(t, "true", "sleep 300 >/dev/null 2>&1 &\necho $! > "+pids), RunOptions{})
	if err != nil || res.Status != Succeeded {
		t.Fatalf("Run: %v %s %s", err, res.Status, res.Reason)
	}
	got := readPIDs(t, pids)
	if len(got) != 1 || alive(got[0]) || len(res.Cleanup.Killed) != 1 || res.Cleanup.Killed[0] != got[0] {
		t.Errorf("cleanup's background sleep %v: alive=%v, Cleanup.Killed=%v", got, len(got) == 1 && alive(got[0]), res.Cleanup.Killed)
	}
}

// TestRunCRLF: a file saved with Windows line endings runs on Linux; YAML
// folds the line breaks of block scalars to \n, so no \r reaches sh.
func TestRunCRLF(t *testing.T) {
	needShell(t, "sh")
	src := strings.ReplaceAll("attack_technique: T9999\ndisplay_name: CRLF file\natomic_tests:\n- name: crlf\n  description: d\n  supported_platforms: [linux]\n  executor:\n    name: sh\n    command: |\n      x=1\n      echo \"x=$x.\"\n", "\n", "\r\n")
	res, err := Run(context.Background(), parseTest(t, src), RunOptions{})
	if err != nil || res.Status != Succeeded || res.Exec.Stdout != "x=1.\n" {
		t.Fatalf("Run: %v %s %q, want succeeded with \"x=1.\\n\"", err, res.Status, res.Exec.Stdout)
	}
}
