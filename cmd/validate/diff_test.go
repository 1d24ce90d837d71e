package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/prereq"
)

// recordedRun is a real run of five scenarios of the shipped suite
// (Elastic Defend profile, eBPF sensor), committed so that replay and diff
// are tested without root. Re-record it, as root, when the suite, the
// rules or the run directory's format change on purpose:
//
//	validate run --scenario pop3-nc-polling,smtp-curl-exfiltration,pop3-nc-two-polls,debian-fetchmail-three-accounts,thunderbird-allowlisted --out testdata/recorded-run
const recordedRun = "../../testdata/recorded-run"

// checkoutRoot is the module root, taken while the working directory is
// still this package's.
var checkoutRoot, _ = filepath.Abs("../..")

// inRoot runs validate with args from the module root, as a user does.
func inRoot(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Chdir(checkoutRoot)
	var out, errb bytes.Buffer
	code = run(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestReplayCommittedRun: the committed recording, replayed with the
// shipped rules and suite, gives the verdicts it recorded.
func TestReplayCommittedRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := inRoot(t, "run", "--replay", "testdata/recorded-run", "--out", out)
	if code != exitOK || !strings.Contains(stdout, "PASSED (replayed from testdata/recorded-run): 5 scenarios × 3 rules") {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	type cell struct{ Scenario, Rule, Verdict string }
	read := func(path string) []cell {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var r struct{ Results []cell }
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		return r.Results
	}
	if a, b := mustRead(t, "testdata/recorded-run/transcripts.ndjson"), mustRead(t, filepath.Join(out, "transcripts.ndjson")); len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("the replay's transcripts.ndjson (%d bytes) is not the recording's (%d bytes)", len(b), len(a))
	}
	want, got := read("testdata/recorded-run/report.json"), read(filepath.Join(out, "report.json"))
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("%d replayed cells, %d recorded", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("cell %d: replayed %+v, recorded %+v (re-record testdata/recorded-run if the rules or suite changed on purpose)", i, got[i], want[i])
		}
	}
}

// TestDiffPublishedTuned: the tuned rule against the published one on the
// recording gains the two attacks the published rule cannot see and adds
// the known false positive; the other way round loses them and exits 1.
func TestDiffPublishedTuned(t *testing.T) {
	const published, tuned = "rules/t1071_003_mail_c2_published.toml", "rules/t1071_003_mail_c2_tuned.toml"
	code, stdout, stderr := inRoot(t, "diff", published, tuned, "--replay", "testdata/recorded-run")
	for _, want := range []string{
		"t1071_003_mail_c2_published → t1071_003_mail_c2_tuned\n",
		"  detection gained: pop3-nc-polling: KNOWN_GAP_MISSED → PASS, 0 → 1 detections\n",
		"  detection gained: smtp-curl-exfiltration: KNOWN_GAP_MISSED → PASS, 0 → 1 detections\n",
		"  false positive added: debian-fetchmail-three-accounts [known-false-positive]: PASS → PASS, 0 → 1 detections\n",
		"      e.g. 3 events from nc.openbsd",
		"OK: 1 rule pairs: 2 attack detections gained, 0 lost; 1 false positives added (1 tagged known-false-positive), 0 removed; 0 other verdict changes\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("diff lacks %q\nstdout:\n%s\nstderr:\n%s", want, stdout, stderr)
		}
	}
	if code != exitOK {
		t.Errorf("exit %d, want 0", code)
	}
	code, stdout, _ = inRoot(t, "diff", tuned, published, "--replay", "testdata/recorded-run", "--format", "markdown")
	if code != exitFailed || !strings.Contains(stdout, "## ❌ purpleharness rule diff") ||
		!strings.Contains(stdout, "| detection lost | pop3-nc-polling | PASS → KNOWN_GAP_MISSED | 1 → 0 |") {
		t.Errorf("reverse diff: exit %d, want 1 and the lost detections:\n%s", code, stdout)
	}
}

// TestDiffCorpusAndRevision: OLD given as a git revision of the rule
// (REV:PATH, read with git archive), NEW as a file with an edited
// threshold, compared on recorded telemetry as a corpus.
func TestDiffCorpusAndRevision(t *testing.T) {
	git := prereq.LookPath(t, "git")
	telemetry, err := filepath.Abs(filepath.Join(recordedRun, "telemetry.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	rule, err := os.ReadFile("../../rules/t1071_003_mail_c2_tuned.toml")
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(repo, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "rules", "mail.toml"), rule, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"-c", "user.name=t", "-c", "user.email=t@purpleharness.test", "commit", "-qm", "rule"}} {
		cmd := exec.Command(git, args...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	// The working copy asks for four connections in a row instead of three.
	edited := strings.Replace(string(rule), "with runs=3", "with runs=4", 1)
	if edited == string(rule) {
		t.Fatal("the tuned rule has no 'with runs=3' to edit")
	}
	if err := os.WriteFile(filepath.Join(repo, "rules", "mail.toml"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(repo)
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"diff", "HEAD:rules/", "rules/mail.toml", "--corpus", telemetry}, &out, &errb)
	if code != exitOK || !strings.Contains(out.String(), "mail → mail\n  no scenario changed\n  corpus (") ||
		!strings.Contains(out.String(), "detections, 0 added, ") || strings.Contains(out.String(), ", 0 removed\n") {
		t.Errorf("exit %d, want 0 and detections removed on the corpus:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if m, _ := filepath.Glob(filepath.Join(os.TempDir(), "purpleharness-diff-*")); len(m) > 0 {
		t.Errorf("checked-out revisions left behind: %v", m)
	}
}

// TestDiffBadInput: wrong arguments are usage errors.
func TestDiffBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"diff", "rules"}, "want OLD and NEW, got 1 arguments"},
		{[]string{"diff", "rules", "rules"}, "nothing to compare on"},
		{[]string{"diff", "rules", "nosuchrev:rules/", "--corpus", "x"}, "nosuchrev:rules/: git archive"},
		{[]string{"diff", "rules", "rules", "--replay", "rules"}, "no manifest.json"},
	} {
		code, _, stderr := inRoot(t, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 saying %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestTechniqueScope: a rule tagged with another technique than the
// scenarios' meets none of them (its column is "-", no cell); with
// --all-techniques it is judged on every scenario.
func TestTechniqueScope(t *testing.T) {
	rulesDir := t.TempDir()
	for _, f := range []string{"t1071_003_mail_c2_published.toml", "t1071_003_mail_c2_tuned.toml", "t1071_003_mail_c2_tuned_action_only.toml"} {
		data, err := os.ReadFile(filepath.Join("../../rules", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "t1071_003_mail_c2_tuned_action_only.toml" {
			s := strings.ReplaceAll(string(data), `id = "T1071.003"`, `id = "T1059.004"`)
			s = strings.ReplaceAll(s, `id = "T1071"`, `id = "T1059"`)
			if s == string(data) {
				t.Fatal("no technique id to retag")
			}
			data = []byte(s)
		}
		if err := os.WriteFile(filepath.Join(rulesDir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := inRoot(t, "run", "--replay", "testdata/recorded-run", "--rules", rulesDir, "--out", filepath.Join(t.TempDir(), "a"))
	if code != exitOK || !strings.Contains(stdout, "PASSED (replayed from testdata/recorded-run): 5 scenarios × 3 rules: 8 PASS, 2 KNOWN_GAP_MISSED\n") {
		t.Errorf("scoped: exit %d, want the retagged rule out of every cell\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, stdout, _ = inRoot(t, "run", "--replay", "testdata/recorded-run", "--rules", rulesDir, "--all-techniques", "--out", filepath.Join(t.TempDir(), "b"))
	if code != exitOK || !strings.Contains(stdout, ": 5 scenarios × 3 rules: 11 PASS, 4 KNOWN_GAP_MISSED\n") {
		t.Errorf("--all-techniques: exit %d, want all 15 cells\nstdout:\n%s", code, stdout)
	}
}

// TestExtractScenario: a scenario's attributed events come out as NDJSON,
// as many as the run counted for it, every one from its process tree.
func TestExtractScenario(t *testing.T) {
	out := filepath.Join(t.TempDir(), "pop3.ndjson")
	code, _, stderr := inRoot(t, "extract", "testdata/recorded-run", "pop3-nc-polling", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rec struct {
		Scenarios []struct {
			Name      string
			Events    int
			Processes []int
		}
	}
	data, err := os.ReadFile("testdata/recorded-run/report.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	lines, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(string(lines)), "\n")
	for _, sc := range rec.Scenarios {
		if sc.Name != "pop3-nc-polling" {
			continue
		}
		if len(got) != sc.Events || sc.Events == 0 {
			t.Errorf("%d events extracted, the run attributed %d", len(got), sc.Events)
		}
		for _, l := range got {
			var d struct {
				Process struct{ PID int } `json:"process"`
			}
			if err := json.Unmarshal([]byte(l), &d); err != nil || !slices.Contains(sc.Processes, d.Process.PID) {
				t.Errorf("event of pid %d (%v) is not from the scenario's tree %v", d.Process.PID, err, sc.Processes)
			}
		}
	}
	if code, _, stderr := inRoot(t, "extract", "testdata/recorded-run", "nope"); code != exitUsage || !strings.Contains(stderr, `no scenario "nope" in the run (it has pop3-nc-polling,`) {
		t.Errorf("unknown scenario: exit %d, %s", code, stderr)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
