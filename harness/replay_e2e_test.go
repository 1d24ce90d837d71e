package harness_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/prereq"
)

// TestE2EReplaySameVerdicts records a run of the verdicts suite (every
// verdict kind, real kernel telemetry), then replays its directory as user
// nobody (no root, no Docker, no sandbox): every cell's verdict,
// explanation and detections, and every rule score, are the ones the live
// run gave, and every report says it was replayed.
func TestE2EReplaySameVerdicts(t *testing.T) {
	needRoot(t)
	setpriv := prereq.LookPath(t, "setpriv")
	bin := buildValidate(t)
	// nobody reads the suite and the rules from a copy: the checkout may
	// not be readable to it.
	root := readableCopy(t, "harness/testdata/verdicts.yaml", "rules")
	recorded := filepath.Join(root, "recorded")
	live := exec.Command(bin, "run", "--suite", "harness/testdata/verdicts.yaml", "--servers", "in-process", "--backend", "embedded", "--out", recorded)
	live.Dir = ".."
	var liveErr bytes.Buffer
	live.Stderr = &liveErr
	if err := live.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 { // the suite has MISSED and FALSE_POSITIVE cells
			t.Fatalf("live run: %v\n%s", err, liveErr.String())
		}
	}
	// nobody reads the recording and writes its own reports.
	if err := filepath.Walk(recorded, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chmod(p, 0o755)
	}); err != nil {
		t.Fatal(err)
	}
	replayed := filepath.Join(root, "replayed")
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
		bin, "run", "--replay", recorded, "--suite", "harness/testdata/verdicts.yaml", "--backend", "embedded", "--out", replayed)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("replay as nobody: %v, want exit 1 as the live run\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "(replayed from "+recorded+")") {
		t.Errorf("the console headline does not say the run was replayed:\n%s", stdout.String())
	}

	type report struct {
		ReplayedFrom string            `json:"replayed_from"`
		Results      []json.RawMessage `json:"results"`
		Scores       json.RawMessage   `json:"rule_scores"`
		Counts       map[string]int    `json:"counts"`
	}
	read := func(dir string) report {
		data, err := os.ReadFile(filepath.Join(dir, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		var r report
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	want, got := read(recorded), read(replayed)
	if got.ReplayedFrom != recorded || want.ReplayedFrom != "" {
		t.Errorf("replayed_from: live %q, replay %q; want \"\" and %q", want.ReplayedFrom, got.ReplayedFrom, recorded)
	}
	if len(want.Counts) < 8 {
		t.Errorf("the live run gave only verdicts %v: the suite should produce every kind", want.Counts)
	}
	if len(got.Results) != len(want.Results) {
		t.Fatalf("replay gave %d results, the live run %d", len(got.Results), len(want.Results))
	}
	for i := range want.Results {
		if !bytes.Equal(got.Results[i], want.Results[i]) {
			t.Errorf("result %d differs:\nlive:   %s\nreplay: %s", i, want.Results[i], got.Results[i])
		}
	}
	if !bytes.Equal(got.Scores, want.Scores) {
		t.Errorf("rule scores differ:\nlive:   %s\nreplay: %s", want.Scores, got.Scores)
	}
	if md, err := os.ReadFile(filepath.Join(replayed, "summary.md")); err != nil || !bytes.Contains(md, []byte("**Replayed** from")) {
		t.Errorf("summary.md does not say it was replayed (%v)", err)
	}

	// A recording is never overwritten by its own replay.
	cmd = exec.Command(bin, "run", "--replay", recorded, "--suite", "harness/testdata/verdicts.yaml", "--out", recorded)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "would be overwritten") {
		t.Errorf("replay into its own directory: %v\n%s\nwant exit 2", err, out)
	}
}

// TestE2ERecordedScenario: a scenario that names recorded telemetry
// instead of an atomic (here the process tree of pop3-nc-polling from the
// committed recording, as an agent elsewhere would have captured it) is
// judged like a run's own, in a live run and in its replay.
func TestE2ERecordedScenario(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	// validate extract writes the scenario's attributed events.
	x := runValidate(t, "extract", "testdata/recorded-run", "pop3-nc-polling", "--out", filepath.Join(dir, "pop3.ndjson"))
	if x.code != 0 {
		t.Fatalf("extract: exit %d: %s", x.code, x.stderr)
	}
	suite := filepath.Join(dir, "suite.yaml")
	if err := os.WriteFile(suite, []byte(`scenarios:
  - name: recorded-pop3-polling
    recorded: pop3.ndjson
    tags: [attack]
    expect: {t1071_003_mail_c2_tuned: fires, "*": silent}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	r := runValidate(t, "run", "--suite", suite, "--servers", "in-process", "--backend", "embedded", "--out", out)
	skipIfEnv(t, r)
	if r.code != 0 || !strings.Contains(r.stdout, "PASSED: 1 scenarios × 3 rules: 3 PASS\n") {
		t.Fatalf("live run: exit %d, want 0 and 3 PASS\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	rr := runValidate(t, "run", "--replay", out, "--suite", suite, "--backend", "embedded", "--out", filepath.Join(dir, "replayed"))
	if rr.code != 0 || !strings.Contains(rr.stdout, "PASSED (replayed from "+out+"): 1 scenarios × 3 rules: 3 PASS\n") {
		t.Errorf("replay: exit %d\nstdout:\n%s\nstderr:\n%s", rr.code, rr.stdout, rr.stderr)
	}
}
