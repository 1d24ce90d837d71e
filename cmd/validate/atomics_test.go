package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/fakemail"
	"github.com/purpleharness/purpleharness/prereq"
)

// buildValidate builds cmd/validate into a temporary directory that the
// test removes.
func buildValidate(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "validate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runValidate runs the built binary in the repository root.
func runValidate(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = "../.."
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("run validate %v: %v", args, err)
	}
	return o.String(), e.String(), 0
}

func writeAtomic(t *testing.T, dir, id, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, id), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, id, id+".yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAtomicsCommand builds cmd/validate and runs "validate atomics" end
// to end: output, exit codes, positioned errors.
func TestAtomicsCommand(t *testing.T) {
	bin := buildValidate(t)
	broken := t.TempDir()
	writeAtomic(t, broken, "T9001", "attack_technique: T9001\ndisplay_name: Broken\natomic_tests:\n- name: x\n   description: too far\n")
	writeAtomic(t, broken, "T9002", "attack_technique: T9002\ndisplay_name: Broken too\natomic_tests: {}\n")
	findings := t.TempDir()
	writeAtomic(t, findings, "T9003", "attack_technique: T9003\ndisplay_name: Findings\natomic_tests:\n- name: x\n  auto_generated_guid: 6f2a3b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b\n  description: d\n  supported_platforms: [linux]\n  executor:\n    name: sh\n    command: |\n      sudo echo #{what}\n")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string // substrings
		wantStderr []string
	}{
		{"list", []string{"atomics", "list"}, 0,
			[]string{"T1071.003-6  0f0a3b52-3d52-4d64-b116-460015a1ffec  bash", "POP3 command retrieval with nc"}, nil},
		{"list filtered, flag after ref", []string{"atomics", "list", "T1071.003-3", "--path", "atomics"}, 0,
			[]string{"IMAP C2 channel with curl"}, nil},
		{"show by guid", []string{"atomics", "show", "07a3f461-866c-4634-a914-2e8f7a8f3e47"}, 0,
			[]string{"T1071.003-2  POP3 command retrieval with nc", "nc -w #{timeout} #{server} #{port}", "atomics/T1071.003/T1071.003.yaml:"}, nil},
		{"show by technique and name", []string{"atomics", "show", "T1071.003:SMTP C2 exfiltration with curl"}, 0,
			[]string{"cleanup:", "rm -f '#{exfil_file}'"}, nil},
		{"show resolved with an override", []string{"atomics", "show", "T1071.003-2", "--input", "port=2110", "--resolved"}, 0,
			[]string{"| nc -w 5 127.0.0.1 2110 || rc=$?", "'c2' 'atomic-red'"}, nil},
		{"show with a bad override", []string{"atomics", "show", "T1071.003-2", "--input", "polls=many"}, 2, nil,
			[]string{`T1071.003-2: input argument polls: integer argument: "many" is not an integer`}},
		{"show unknown ref", []string{"atomics", "show", "T1071.003-99"}, 2, nil,
			[]string{`validate: atomics show: no atomic test matches "T1071.003-99"`}},
		{"show without ref", []string{"atomics", "show"}, 2, nil, []string{"validate: atomics show: name at least one REF"}},
		{"refs after --", []string{"atomics", "show", "--", "-x", "-y"}, 2, nil, []string{`validate: atomics show: no atomic test matches "-x"`}},
		{"lint clean", []string{"atomics", "lint"}, 0, []string{"1 technique(s), 6 test(s), 0 finding(s)"}, nil},
		{"lint findings", []string{"atomics", "lint", "--path", findings}, 1,
			[]string{filepath.Join(findings, "T9003", "T9003.yaml") + ":11:7: T9003-1: sudo is used but elevation_required is not true [sudo-without-elevation]",
				filepath.Join(findings, "T9003", "T9003.yaml") + ":11:17: T9003-1: command uses #{what}, which input_arguments does not declare [undeclared-argument]"}, nil},
		{"load errors exit 2 with positions", []string{"atomics", "list", "--path", broken}, 2, nil,
			[]string{filepath.Join(broken, "T9001", "T9001.yaml") + ":5:15: invalid YAML: mapping values are not allowed in this context",
				filepath.Join(broken, "T9002", "T9002.yaml") + ":3:15: atomic_tests: want a list, got a mapping",
				"2 load error(s)"}},
		{"missing folder", []string{"atomics", "list", "--path", filepath.Join(broken, "nope")}, 2, nil, []string{"no such file or directory"}},
		{"bad format", []string{"atomics", "list", "--format", "xml"}, 2, nil, []string{`--format "xml": want text or json`}},
		{"unknown subcommand", []string{"atomics", "frobnicate"}, 2, nil, []string{`atomics: unknown command "frobnicate"`}},
		{"no subcommand", []string{"atomics"}, 2, nil, []string{"usage: validate atomics COMMAND"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runValidate(t, bin, tt.args...)
			if code != tt.wantCode {
				t.Errorf("validate %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tt.args, " "), code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("validate %s: stdout lacks %q:\n%s", strings.Join(tt.args, " "), w, stdout)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("validate %s: stderr lacks %q:\n%s", strings.Join(tt.args, " "), w, stderr)
				}
			}
		})
	}
	t.Run("json", func(t *testing.T) { atomicsJSON(t, bin) })
	t.Run("run", func(t *testing.T) { atomicsRunCmd(t, bin) })
	t.Run("ctrl-c", func(t *testing.T) { atomicsCtrlC(t, bin) })
}

// atomicsRunCmd runs the single-bash-process POP3 atomic against the fake
// mail servers started here.
func atomicsRunCmd(t *testing.T, bin string) {
	prereq.LookPath(t, "bash")
	cfg := fakemail.DefaultConfig()
	cfg.Ports = fakemail.EphemeralPorts()
	cfg.ErrorLog = log.New(io.Discard, "", 0)
	srv, err := fakemail.Start(context.Background(), cfg)
	t.Cleanup(func() {
		if srv != nil {
			srv.Shutdown(context.Background())
		}
	})
	if err != nil {
		t.Fatalf("fakemail.Start: %v", err)
	}
	_, port, _ := net.SplitHostPort(srv.Addr(fakemail.POP3))
	stdout, stderr, code := runValidate(t, bin, "atomics", "run", "T1071.003-6", "--input", "port="+port, "--input", "interval=0", "--format", "json")
	if code != 0 {
		t.Fatalf("atomics run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var res []struct {
		Test, Status string
		Exec         struct {
			ExitCode int `json:"exit_code"`
			Stdout   string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("atomics run --format json: %v\n%s", err, stdout)
	}
	if len(res) != 1 || res[0].Status != "succeeded" || strings.Count(res[0].Exec.Stdout, "task-id: 1") != 3 {
		t.Errorf("atomics run = %+v, want succeeded with the tasking retrieved 3 times", res)
	}
	_, stderr, code = runValidate(t, bin, "atomics", "run", "T1071.003-6", "--input", "port=pop3")
	if code != 2 || !strings.Contains(stderr, `T1071.003-6: input argument port: integer argument: "pop3" is not an integer`) {
		t.Errorf("atomics run with a bad input: exit %d, stderr %q; want 2 and the argument named", code, stderr)
	}
}

// atomicsCtrlC interrupts "validate atomics run" while the atomic sleeps:
// the process tree must be gone and the cleanup command must have run.
func atomicsCtrlC(t *testing.T, bin string) {
	dir := t.TempDir()
	pids, marker := filepath.Join(dir, "pids"), filepath.Join(dir, "cleaned")
	writeAtomic(t, dir, "T9004", "attack_technique: T9004\ndisplay_name: Interrupted\natomic_tests:\n- name: sleeper\n"+
		"  auto_generated_guid: 1e2d3c4b-5a69-4788-9a6b-5c4d3e2f1a0b\n  description: d\n  supported_platforms: [linux]\n"+
		"  executor:\n    name: sh\n    command: |\n      sleep 300 &\n      echo $$ $! > "+pids+"\n      wait\n"+
		"    cleanup_command: |\n      touch "+marker+"\n")
	cmd := exec.Command(bin, "atomics", "run", "T9004-1", "--path", dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(pids); err == nil && len(strings.Fields(string(b))) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the atomic did not start: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("validate after Ctrl-C: %v, want exit code 130\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "T9004-1  cancelled") {
		t.Errorf("output lacks the cancelled status:\n%s", out.String())
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("cleanup did not run after Ctrl-C: %v", err)
	}
	b, _ := os.ReadFile(pids)
	for _, f := range strings.Fields(string(b)) {
		if st, err := os.ReadFile("/proc/" + f + "/stat"); err == nil {
			s := string(st)
			if fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]); len(fields) > 0 && fields[0] != "Z" {
				t.Errorf("pid %s still alive after Ctrl-C: %s", f, st)
			}
		}
	}
}

func atomicsJSON(t *testing.T, bin string) {
	stdout, stderr, code := runValidate(t, bin, "atomics", "list", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var list []struct {
		ID, GUID string
		Executor string
	}
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		t.Fatalf("list --format json: %v\n%s", err, stdout)
	}
	if len(list) != 6 || list[5].ID != "T1071.003-6" || list[5].Executor != "bash" {
		t.Errorf("list --format json = %+v, want 6 tests ending with T1071.003-6 (bash)", list)
	}

	// check-prereqs runs the real prerequisite commands: nc and curl are
	// looked up on this machine.
	for _, bin := range []string{"nc", "curl", "bash"} {
		prereq.LookPath(t, bin)
	}
	stdout, stderr, code = runValidate(t, bin, "atomics", "check-prereqs", "T1071.003-2", "T1071.003-6", "--format", "json")
	if code != 0 {
		t.Fatalf("check-prereqs: exit %d\n%s%s", code, stdout, stderr)
	}
	var st []struct {
		ID, Status string
		Prereqs    []struct{ Met bool }
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("check-prereqs --format json: %v\n%s", err, stdout)
	}
	if len(st) != 2 || st[0].Status != "ready" || len(st[0].Prereqs) != 1 || !st[0].Prereqs[0].Met || st[1].Status != "ready" {
		t.Errorf("check-prereqs = %+v, want both ready, T1071.003-2 with one met prerequisite", st)
	}
	_, err := exec.LookPath("pwsh")
	stdout, _, code = runValidate(t, bin, "atomics", "check-prereqs", "T1071.003-1")
	if err != nil && (code != 1 || !strings.Contains(stdout, "not-ready") || !strings.Contains(stdout, "powershell executor: pwsh not found")) {
		t.Errorf("check-prereqs T1071.003-1 without pwsh: exit %d, stdout %q; want 1 and the reason", code, stdout)
	}
}
