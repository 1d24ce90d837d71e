package harness_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/prereq"
)

// worldWritableDir is a fresh directory under the system temp dir that any
// user may write (t.TempDir's are 0700, so a dropped-privilege run could
// not), removed by the test.
func worldWritableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "purpleharness-out-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startedMarkers are lines validate prints only once it starts something
// (servers, sensor, engine). A refused input shows none of them.
var startedMarkers = []string{"engine:", "mail servers", "sensor:"}

// TestE2EBadInputStartsNothing: each bad input is refused with exit 2 and
// its position before anything starts, and leaves no output directory.
func TestE2EBadInputStartsNothing(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "afile")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	atomicsDir := filepath.Join(dir, "atomics")
	atomicFile := filepath.Join(atomicsDir, "T1071.003", "T1071.003.yaml")
	write(t, atomicFile, badAtomic)
	atomicSuite := filepath.Join(dir, "atomic-suite.yaml")
	write(t, atomicSuite, "scenarios:\n  - name: bad-types\n    atomic: {technique: T1071.003, name: bad types}\n    expect: {\"*\": silent}\n"+
		"  - name: bad-executor\n    atomic: {technique: T1071.003, name: bad executor}\n    inputs: {}\n    expect: {\"*\": silent}\n")
	tuned, err := os.ReadFile("../rules/t1071_003_mail_c2_tuned.toml")
	if err != nil {
		t.Fatal(err)
	}
	typoRules := filepath.Join(dir, "typo-rules")
	typoRule := filepath.Join(typoRules, "tuned.toml")
	write(t, typoRule, strings.Replace(string(tuned), "\nseverity = ", "\nseverty = ", 1))
	typoLine := strings.Count(string(tuned)[:strings.Index(string(tuned), "\nseverity = ")+1], "\n") + 1
	unclosed := filepath.Join(dir, "unclosed.yaml")
	write(t, unclosed, "scenarios:\n  - name: a\n    command: [true]\n    tags: [attack]\n    expect: {\"*\": silent}\n    inputs: {a: 1, b: 2\n")
	brokenAtomics := filepath.Join(dir, "broken-atomics")
	brokenAtomic := filepath.Join(brokenAtomics, "T1071.003", "T1071.003.yaml")
	write(t, brokenAtomic, "attack_technique: T1071.003\ndisplay_name: Broken\natomic_tests:\n- name: x\n   description: too far\n")
	protRules := filepath.Join(dir, "prot-rules")
	protRule := filepath.Join(protRules, "tuned.toml")
	write(t, protRule, strings.Replace(string(tuned), "destination.port in (25,", "destination.prot in (25,", 1))
	protAt := strings.Index(strings.Replace(string(tuned), "destination.port in (25,", "destination.prot in (25,", 1), "destination.prot")
	protLine := strings.Count(string(tuned)[:protAt], "\n") + 1
	protCol := protAt - strings.LastIndex(string(tuned)[:protAt], "\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"field the Defend templates lack", []string{"run", "--rules", protRules}, fmt.Sprintf("%s:%d:%d: field destination.prot is not defined by Elastic Defend's event index templates (logs-endpoint.events.*), so no event can carry it (did you mean destination.port?)", protRule, protLine, protCol)},
		{"unclosed { in a suite", []string{"run", "--suite", unclosed}, unclosed + ":6:13: did not find expected ',' or '}' (this { is not closed)"},
		{"atomic YAML syntax", []string{"run", "--atomics", brokenAtomics, "--suite", atomicSuite}, brokenAtomic + ":5:15: invalid YAML: mapping values are not allowed in this context"},
		{"unknown rule key", []string{"run", "--rules", typoRules}, fmt.Sprintf("%s:%d:1: unknown key \"severty\" in [rule] (did you mean \"severity\"?)", typoRule, typoLine)},
		{"out is a file", []string{"run", "--out", file}, "run: --out: output directory " + file + ": is a file, not a directory"},
		{"out under a file", []string{"run", "--out", filepath.Join(file, "out")}, file + " is a file, not a directory"},
		{"atomic argument default of the wrong type", []string{"run", "--atomics", atomicsDir, "--suite", atomicSuite},
			atomicFile + `:12:16: T1071.003-1: input argument "port": default "twenty-five" is not an integer [argument-default]`},
		{"atomic argument of an unknown type", []string{"run", "--atomics", atomicsDir, "--suite", atomicSuite},
			atomicFile + `:13:5: T1071.003-1: input argument "host": unknown type "hostname"`},
		{"atomic with an unknown executor", []string{"run", "--atomics", atomicsDir, "--suite", atomicSuite},
			atomicFile + `:25:11: T1071.003-2: unknown executor "zsh"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := tc.args
			if !contains(args, "--out") {
				args = append(args, "--out", out)
			}
			r := runValidate(t, args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("validate %v: exit %d, stderr:\n%s\nwant exit 2 and %q", args, r.code, r.stderr, tc.want)
			}
			assertNothingStarted(t, r.stderr, out)
			if left := ownedLeftovers(r.pid); len(left) > 0 {
				t.Errorf("validate %v left: %s", args, strings.Join(left, ", "))
			}
		})
	}
}

// TestE2EUnwritableOutExits2 runs as nobody with --out in a directory only
// root may write: exit 2 before the run looks for root or audit.
func TestE2EUnwritableOutExits2(t *testing.T) {
	needRoot(t) // to switch to another user
	setpriv := prereq.LookPath(t, "setpriv")
	parent := worldWritableDir(t)
	locked := filepath.Join(parent, "locked")
	if err := os.Mkdir(locked, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{locked, filepath.Join(locked, "new")} {
		cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", buildValidate(t), "run", "--out", out, "--servers", "in-process")
		cmd.Dir = ".."
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		want := locked + " is not writable: permission denied"
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), want) {
			t.Errorf("as nobody, --out %s: %v, stderr:\n%s\nwant exit 2 and %q", out, err, stderr.String(), want)
		}
		assertNothingStarted(t, stderr.String(), filepath.Join(locked, "new"))
	}
}

func assertNothingStarted(t *testing.T, stderr, out string) {
	t.Helper()
	for _, m := range startedMarkers {
		if strings.Contains(stderr, m) {
			t.Errorf("stderr says %q: something started before the input was refused:\n%s", m, stderr)
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--out %s exists after bad input (stat: %v); nothing may be written", out, err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// badAtomic is valid YAML whose tests cannot run as written.
const badAtomic = `attack_technique: T1071.003
display_name: "Application Layer Protocol: Mail Protocols"
atomic_tests:
- name: bad types
  auto_generated_guid: 6f1c7a52-5b0e-4b43-9d0f-2a7f1c3e9b10
  description: an argument of an unknown type and a default of the wrong type
  supported_platforms: [linux]
  input_arguments:
    port:
      description: port
      type: integer
      default: twenty-five
    host:
      description: host
      type: hostname
      default: 127.0.0.1
  executor:
    name: bash
    command: 'echo #{host}:#{port}'
- name: bad executor
  auto_generated_guid: 0b4e7a1f-3c2d-4e5f-8a9b-1c2d3e4f5a6b
  description: an executor no runner has
  supported_platforms: [linux]
  executor:
    name: zsh
    command: echo hi
`

// readableCopy copies the checkout's paths (files or folders, relative to
// its root) into a fresh world-readable folder and returns it: a command
// run as nobody may not be able to traverse the checkout (a clone under a
// 0700 temporary folder).
func readableCopy(t *testing.T, paths ...string) string {
	t.Helper()
	dir := worldWritableDir(t)
	for _, p := range paths {
		if err := os.CopyFS(filepath.Join(dir, p), os.DirFS(filepath.Join("..", p))); err == nil {
			continue
		}
		// A single file: CopyFS takes folders only.
		data, err := os.ReadFile(filepath.Join("..", p))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if info.IsDir() {
			mode = 0o777
		}
		return os.Chmod(p, mode)
	}); err != nil {
		t.Fatal(err)
	}
	return dir
}
