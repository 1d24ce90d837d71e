package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/harness"
	"github.com/purpleharness/purpleharness/harness/sensor"
	"github.com/purpleharness/purpleharness/prereq"
)

// TestRecordCommand runs "validate record" end to end as root: a shell
// that runs curl against the IMAP port and exits 7. The NDJSON must hold
// curl's connection attempt, the exit code must be the command's, the
// summary must report losses, and the output must feed "validate query".
func TestRecordCommand(t *testing.T) {
	prereq.NeedRoot(t, "CAP_AUDIT_CONTROL, to record")
	prereq.LookPath(t, "curl")
	bin := buildValidate(t)
	out := filepath.Join(t.TempDir(), "events.ndjson")

	for _, profile := range ecs.Profiles {
		t.Run(string(profile), func(t *testing.T) {
			stdout, stderr, code := runValidate(t, bin, "record", "--profile", string(profile), "--out", out, "--",
				"bash", "-c", "curl -s --max-time 1 imap://127.0.0.1:143/; exit 7")
			if code == 3 {
				prereq.SkipOrFailText(t, "validate record exit 3", stderr)
			}
			if code != 7 {
				t.Fatalf("exit %d, want the command's 7\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if !strings.Contains(stderr, "record: ") || !strings.Contains(stderr, ", 0 lost") {
				t.Errorf("summary missing or reports losses:\n%s", stderr)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var curlConnects, execs int
			sc := bufio.NewScanner(bytes.NewReader(b))
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				d, err := ecs.Decode(sc.Bytes())
				if err != nil {
					t.Fatalf("bad NDJSON line %q: %v", sc.Text(), err)
				}
				port, _ := d.Lookup("destination.port")
				exe, _ := d.Lookup("process.executable")
				// Auditbeat sends ports as strings; the others as numbers.
				portOK := jsonString(port) == "143" || jsonString(port) == `"143"`
				if e, _ := exe.(string); portOK && strings.HasSuffix(e, "/curl") {
					curlConnects++
				}
				if cat, _ := d.Lookup("event.category"); strings.Contains(strings.ToLower(jsonString(cat)), "process") {
					execs++
				}
			}
			// Sysmon for Linux reports only connections that were
			// established (its NetworkConnect hooks tcp_connect's success);
			// nothing listens on 143 here, so it has nothing to send and the
			// summary says so. Every other profile renders the attempt.
			switch {
			case profile == ecs.SysmonLinux && curlConnects == 0:
				if !strings.Contains(stderr, "would not send") {
					t.Errorf("sysmon-linux sent no attempt, and the summary does not say it would not send one:\n%s", stderr)
				}
			case curlConnects != 1:
				t.Errorf("%d curl connection attempts to 143 in %s output, want 1:\n%s", curlConnects, profile, b)
			}
			if execs < 2 {
				t.Errorf("%d process events, want bash and curl", execs)
			}
		})
	}

	t.Run("feeds query", func(t *testing.T) {
		raw := filepath.Join(t.TempDir(), "audit.log")
		if _, stderr, code := runValidate(t, bin, "record", "--out", out, "--raw", raw, "--", "curl", "-s", "--max-time", "1", "pop3://127.0.0.1:110/"); code == 3 {
			prereq.SkipOrFailText(t, "validate record exit 3", stderr)
		}
		// The raw tap is audit.log-form records, readable back.
		rb, err := os.ReadFile(raw)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(rb)), "\n")
		for i, line := range lines {
			if _, err := sensor.ParseLogLine(line, i+1); err != nil {
				t.Fatalf("--raw line %d: %v", i+1, err)
			}
		}
		if !strings.Contains(string(rb), `comm="curl"`) {
			t.Errorf("--raw output has no record of curl (%d lines)", len(lines))
		}
		// The documents carry the agent.id validate run's documents carry.
		host, err := ecs.LocalHost()
		if err != nil {
			t.Fatal(err)
		}
		db, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := bytes.Cut(db, []byte("\n"))
		d, err := ecs.Decode(first)
		if err != nil {
			t.Fatalf("first document %q: %v", first, err)
		}
		id, _ := d.Lookup("agent.id")
		if got, want := jsonString(id), jsonString(harness.NewRenderer(ecs.Endpoint, host).Agent.ID); got != want {
			t.Errorf("record's agent.id = %s, want validate run's %s", got, want)
		}
		stdout, stderr, code := runValidate(t, bin, "query", "--events", out, `network where process.name == "curl" and destination.port == 110`)
		if code != 0 {
			t.Fatalf("query exit %d: %s", code, stderr)
		}
		var resp struct {
			Hits struct {
				Total struct{ Value int } `json:"total"`
			} `json:"hits"`
		}
		if err := json.Unmarshal([]byte(stdout), &resp); err != nil {
			t.Fatalf("query output: %v\n%s", err, stdout)
		}
		if resp.Hits.Total.Value != 1 {
			t.Errorf("query found %d events, want curl's one attempt:\n%s", resp.Hits.Total.Value, stdout)
		}
	})
}

// TestRecordUsage checks the exit codes of bad invocations and of a
// sensor that cannot start (an unprivileged user: exit 3 naming the
// missing capability).
func TestRecordUsage(t *testing.T) {
	bin := buildValidate(t)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", []string{"record"}, 2, "no command given"},
		{"bad profile", []string{"record", "--profile", "winlogbeat", "--", "true"}, 2, `unknown profile "winlogbeat"`},
		{"bad flag", []string{"record", "--nope", "--", "true"}, 2, "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runValidate(t, bin, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("validate %v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, stderr, tc.code, tc.want)
			}
		})
	}

	t.Run("command not found", func(t *testing.T) {
		prereq.NeedRoot(t, "to start the sensor")
		_, stderr, code := runValidate(t, bin, "record", "--out", os.DevNull, "--", "/nonexistent/purpleharness-cmd")
		if code == 3 {
			prereq.SkipOrFailText(t, "validate record exit 3", stderr)
		}
		if code != 127 || !strings.Contains(stderr, "/nonexistent/purpleharness-cmd") {
			t.Errorf("exit %d, stderr %q; want 127 naming the command", code, stderr)
		}
	})

	t.Run("unprivileged", func(t *testing.T) {
		prereq.NeedRoot(t, "to drop to an unprivileged user")
		dir, err := os.MkdirTemp("", "validate-record-")
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		exe := filepath.Join(dir, "validate")
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(exe, data, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "record", "--out", "/dev/null", "--", "true")
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err = cmd.Run()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 3 || !strings.Contains(stderr.String(), "CAP_AUDIT_CONTROL") {
			t.Errorf("as nobody: %v, stderr %q; want exit 3 naming CAP_AUDIT_CONTROL", err, stderr.String())
		}
	})
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRecordInterrupt sends SIGINT to "validate record" while its command
// runs: the command is stopped, what was captured is written, the exit code
// is the command's (130), and no rule of the recording process remains.
func TestRecordInterrupt(t *testing.T) {
	prereq.NeedRoot(t, "CAP_AUDIT_CONTROL, to record")
	auditctl := prereq.LookPath(t, "auditctl")
	bin := buildValidate(t)
	out := filepath.Join(t.TempDir(), "events.ndjson")
	cmd := exec.Command(bin, "record", "--sensor", "audit", "--out", out, "--", "sleep", "30")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	mark := []byte("purpleharness:" + strconv.Itoa(cmd.Process.Pid) + ":")
	deadline := time.Now().Add(20 * time.Second)
	for {
		rules, _ := exec.Command(auditctl, "-l").Output()
		if bytes.Contains(rules, mark) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recording never loaded its rules; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let sleep exec
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("validate record ended with %v, want exit 130 (sleep killed by SIGINT)\n%s", err, stderr.String())
	}
	if rules, _ := exec.Command(auditctl, "-l").Output(); bytes.Contains(rules, mark) {
		t.Errorf("rules of the interrupted recording remain:\n%s", rules)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"/usr/bin/sleep"`)) && !bytes.Contains(b, []byte(`"/bin/sleep"`)) {
		t.Errorf("output lacks sleep's process start:\n%s\nstderr:\n%s", b, stderr.String())
	}
}
