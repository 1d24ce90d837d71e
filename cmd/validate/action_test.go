package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/prereq"
)

// TestGitHubActionScript runs the composite action's steps
// (.github/action/run.sh, which action.yml calls) as a runner would, on
// this repository: it builds validate, lints the rules, replays the
// committed recording and diffs the rules against HEAD, and the job
// summary holds the replayed run and the diff.
func TestGitHubActionScript(t *testing.T) {
	bash := prereq.LookPath(t, "bash")
	prereq.LookPath(t, "go")
	git := prereq.LookPath(t, "git")
	if err := exec.Command(git, "-C", checkoutRoot, "rev-parse", "--verify", "HEAD:rules").Run(); err != nil {
		prereq.Skip(t, prereq.Tool, "not a git checkout with rules/ at HEAD: the action diffs against a revision")
	}
	tmp := t.TempDir()
	summary, output := filepath.Join(tmp, "summary.md"), filepath.Join(tmp, "output")
	cmd := exec.Command(bash, ".github/action/run.sh")
	cmd.Dir = checkoutRoot
	cmd.Env = append(os.Environ(),
		"INPUT_REPLAY=testdata/recorded-run", "INPUT_BASE_REF=HEAD",
		"INPUT_CORPUS=testdata/recorded-run/telemetry.ndjson", "INPUT_OUT="+filepath.Join(tmp, "out"),
		"RUNNER_TEMP="+tmp, "GITHUB_STEP_SUMMARY="+summary, "GITHUB_OUTPUT="+output)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run.sh: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(summary)
	for _, want := range []string{"**Replayed** from `testdata/recorded-run`", "## ✅ purpleharness rule diff", "OK: 3 rule pairs: 0 attack detections gained, 0 lost"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("job summary lacks %q:\n%s", want, data)
		}
	}
	if o, _ := os.ReadFile(output); !strings.Contains(string(o), "junit="+filepath.Join(tmp, "out", "junit.xml")) {
		t.Errorf("step outputs: %q", o)
	}

	// Neither replay nor live: a clear error, exit 2.
	cmd = exec.Command(bash, ".github/action/run.sh")
	cmd.Dir = checkoutRoot
	cmd.Env = append(os.Environ(), "INPUT_REPLAY=", "INPUT_LIVE=false", "GITHUB_STEP_SUMMARY="+summary)
	out, err = cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "give 'replay'") {
		t.Errorf("no replay, no live: %v\n%s", err, out)
	}
}
