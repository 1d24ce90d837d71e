package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseValid(t *testing.T) {
	src := `suite: demo
technique: T1071.003
scenarios:
  - name: nc-poll
    atomic: {technique: T1071.003, name: "POP3 with nc"}
    inputs: {polls: 3, server: 127.0.0.1}
    tags: [attack]
    timeout: 5s
    expect:
      tuned: {expect: fires, process.name: nc, sequences: 1}
      published:
        expect: fires
        known_gap: wrong field
  - name: by-guid
    atomic: 0d9ba6c2-7a4e-4d3e-9f52-1c1e8f4b2a10
    expect: {"*": silent}
  - name: tb
    command: {argv: [curl, -s, "imap://127.0.0.1/"], process_name: Thunderbird.EXE}
    expect: {"*": silent}
  - name: sh
    command: "for i in 1 2; do true; done"
    expect: {tuned: silent}
`
	s, err := Parse("demo.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if s.Name != "demo" || s.Technique != "T1071.003" || len(s.Scenarios) != 4 {
		t.Fatalf("suite = %+v", s)
	}
	nc := s.Scenarios[0]
	want := &Scenario{
		Name: "nc-poll", Technique: "T1071.003",
		Atomic:  &AtomicRef{Technique: "T1071.003", Name: "POP3 with nc"},
		Inputs:  map[string]string{"polls": "3", "server": "127.0.0.1"},
		Tags:    []Tag{TagAttack},
		Timeout: 5 * time.Second,
		Expect: []Expectation{
			{Rule: "tuned", Expect: Fires, ProcessName: "nc", Sequences: 1, Pos: Pos{"demo.yaml", 10, 7}},
			{Rule: "published", Expect: Fires, KnownGap: "wrong field", Pos: Pos{"demo.yaml", 11, 7}},
		},
		Pos: Pos{"demo.yaml", 4, 5},
	}
	if !reflect.DeepEqual(nc, want) {
		t.Errorf("scenario 0:\n got %+v\nwant %+v", nc, want)
	}
	if g := s.Scenarios[1].Atomic.GUID; g != "0d9ba6c2-7a4e-4d3e-9f52-1c1e8f4b2a10" {
		t.Errorf("guid = %q", g)
	}
	if c := s.Scenarios[2].Command; c.ProcessName != "Thunderbird.EXE" || len(c.Argv) != 3 {
		t.Errorf("command = %+v", c)
	}
	if c := s.Scenarios[3].Command; c.Shell == "" || s.Scenarios[3].Timeout != DefaultTimeout {
		t.Errorf("shell scenario = %+v", s.Scenarios[3])
	}
	if e, ok := s.Scenarios[1].ExpectationFor("tuned", "x.toml"); !ok || e.Expect != Silent {
		t.Errorf("ExpectationFor via * = %+v, %v", e, ok)
	}
	if _, ok := s.Scenarios[3].ExpectationFor("published"); ok {
		t.Errorf("ExpectationFor(published) on a scenario naming only tuned: want none")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", "f.yaml:1:1: empty suite file: want a mapping with a scenarios list"},
		{"syntax", "scenarios: [\n", "f.yaml:1:12: did not find expected node content"},
		{"not mapping", "- a\n", "f.yaml:1:1: suite must be a mapping, got a list"},
		{"unknown top key", "suite: x\nscenario: []\n", "f.yaml:2:1: unknown key \"scenario\" in suite (allowed: suite, technique, description, scenarios)\nf.yaml:1:1: suite has no scenarios list"},
		{"bad technique", "technique: T10\nscenarios: []\n", "f.yaml:1:12: technique \"T10\" is not an ATT&CK technique id like T1071 or T1071.003"},
		{"no name", "scenarios:\n  - command: [true]\n    expect: {x: fires}\n", "f.yaml:2:5: scenario has no name"},
		{"no run", "scenarios:\n  - name: a\n    expect: {x: fires}\n", "f.yaml:2:5: scenario \"a\" needs an atomic, a command or recorded telemetry"},
		{"both", "scenarios:\n  - name: a\n    command: [true]\n    atomic: 0d9ba6c2-7a4e-4d3e-9f52-1c1e8f4b2a10\n    expect: {x: fires}\n", "f.yaml:2:5: scenario \"a\" has more than one of atomic, command and recorded; use one"},
		{"bad expect", "scenarios:\n  - name: a\n    command: [true]\n    expect: {x: fire}\n", "f.yaml:4:17: expect \"fire\": want \"fires\" or \"silent\""},
		{"typo key", "scenarios:\n  - name: a\n    command: [true]\n    expect: {x: {expect: fires, sequence: 2}}\n", "f.yaml:4:33: unknown key \"sequence\" in expectation for x (allowed: expect, process.name, sequences, known_gap)"},
		{"no expect", "scenarios:\n  - name: a\n    command: [true]\n", "f.yaml:2:5: scenario \"a\" has no expect: say per rule whether it fires or stays silent"},
		{"silent with count", "scenarios:\n  - name: a\n    command: [true]\n    expect: {x: {expect: silent, sequences: 2}}\n", "f.yaml:4:17: expectation for \"x\": process.name and sequences describe detections; they need expect: fires"},
		{"bad sequences", "scenarios:\n  - name: a\n    command: [true]\n    expect: {x: {expect: fires, sequences: -1}}\n", "f.yaml:4:44: sequences \"-1\" must be a whole number of at least 1"},
		{"dup scenario", "scenarios:\n  - name: a\n    command: [true]\n    expect: {x: fires}\n  - name: a\n    command: [true]\n    expect: {x: fires}\n", "f.yaml:5:5: scenario \"a\" already defined at f.yaml:2:5"},
		{"dup key", "scenarios:\n  - name: a\n    name: b\n    command: [true]\n    expect: {x: fires}\n", "f.yaml:3:5: duplicate key \"name\" in scenario"},
		{"bad timeout", "scenarios:\n  - name: a\n    command: [true]\n    timeout: soon\n    expect: {x: fires}\n", "f.yaml:4:14: timeout \"soon\" is not a positive duration like 10s or 2m"},
		{"bad guid", "scenarios:\n  - name: a\n    atomic: nope\n    expect: {x: fires}\n", "f.yaml:3:13: atomic \"nope\" is not a GUID; name a test by {technique: T..., name: ...} or by its auto_generated_guid"},
		{"atomic half", "scenarios:\n  - name: a\n    atomic: {technique: T1071.003}\n    expect: {x: fires}\n", "f.yaml:3:13: atomic needs a guid, or both technique and name"},
		{"recorded missing", "scenarios:\n  - name: a\n    recorded: no-such.ndjson\n    expect: {x: fires}\n", "f.yaml:3:15: recorded \"no-such.ndjson\": not a telemetry file (no-such.ndjson)"},
		{"recorded and command", "scenarios:\n  - name: a\n    recorded: load.go\n    command: [true]\n    expect: {x: fires}\n", "f.yaml:2:5: scenario \"a\" has more than one of atomic, command and recorded; use one"},
		{"inputs on command", "scenarios:\n  - name: a\n    command: [true]\n    inputs: {a: b}\n    expect: {x: fires}\n", "f.yaml:2:5: scenario \"a\": inputs apply to atomics only"},
		{"process_name with shell", "scenarios:\n  - name: a\n    command: {shell: 'true', process_name: x}\n    expect: {x: fires}\n", "f.yaml:3:14: process_name needs argv (it renames argv[0]'s executable)"},
		{"process_name slash", "scenarios:\n  - name: a\n    command: {argv: [curl], process_name: a/b}\n    expect: {x: fires}\n", "f.yaml:3:43: process_name \"a/b\" must be a file name, without '/'"},
		{"bad name", "scenarios:\n  - name: a b\n    command: [true]\n    expect: {x: fires}\n", "f.yaml:2:11: scenario name \"a b\": use letters, digits, '.', '_' and '-' (it names files and test cases)"},
		{"empty expect", "scenarios:\n  - name: a\n    command: [true]\n    expect: {}\n", "f.yaml:4:13: expect is empty: say per rule (or \"*\") whether it fires or stays silent"},
		{"second document", "scenarios:\n  - name: a\n    command: [true]\n    expect: {x: fires}\n---\nscenarios:\n  - name: b\n", "f.yaml:6:1: a second YAML document: a suite file holds one (put these scenarios in the first document or in a file of their own)"},
		{"second document bad", "scenarios: []\n---\nscenarios: [\n", "f.yaml:3:12: did not find expected node content"},
		{"argv not strings", "scenarios:\n  - name: a\n    command: {argv: [[x]]}\n    expect: {x: fires}\n", "f.yaml:3:22: argv element must be a string, got a list\nf.yaml:3:22: argv[0] must name a program"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("Parse(%q) = nil error, want %q", tc.src, tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("Parse(%q) error:\n got %s\nwant %s", tc.src, got, tc.want)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Errorf("error is %T, want scenarios.Errors", err)
			}
		})
	}
}

func TestLoadDirDuplicatesAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	body := "scenarios:\n  - name: a\n    command: [true]\n    expect: {x: fires}\n"
	for _, f := range []string{"1.yaml", "2.yml"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := LoadDir(dir)
	want := filepath.Join(dir, "2.yml") + ":2:5: scenario \"a\" already defined at " + filepath.Join(dir, "1.yaml") + ":2:5"
	if err == nil || err.Error() != want {
		t.Errorf("LoadDir error = %v, want %s", err, want)
	}
	if _, err := LoadDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no *.yaml files") {
		t.Errorf("LoadDir(empty) = %v, want a no-files error", err)
	}
}

// TestShippedSuite loads the suite the project ships and checks the
// properties the harness relies on.
func TestShippedSuite(t *testing.T) {
	suites, err := LoadDir(".")
	if err != nil {
		t.Fatalf("LoadDir(scenarios/): %v", err)
	}
	var attack, benign int
	for _, s := range suites {
		for _, sc := range s.Scenarios {
			if sc.HasTag(TagAttack) {
				attack++
			}
			if sc.HasTag(TagBenign) {
				benign++
			}
			if sc.Atomic == nil && sc.Command == nil {
				t.Errorf("%s: scenario %s runs nothing", sc.Pos, sc.Name)
			}
		}
	}
	if attack < 3 || benign < 5 {
		t.Errorf("shipped suite has %d attack and %d benign scenarios; want at least 3 and 5", attack, benign)
	}
}

// FuzzParse checks that Parse never panics and that every error's position
// lies inside the input.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("*.yaml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("scenarios:\n  - name: a\n    command: [true]\n    expect: {x: {expect: fires, sequences: 2}}\n"))
	f.Add([]byte("scenarios: [{name: a, atomic: {technique: T1071, name: x}, expect: {'*': silent}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f.yaml", data)
		if err == nil {
			if s == nil {
				t.Fatal("nil suite and nil error")
			}
			for _, sc := range s.Scenarios {
				if (sc.Atomic == nil) == (sc.Command == nil) {
					t.Fatalf("scenario %q: want exactly one of atomic and command", sc.Name)
				}
				for _, e := range sc.Expect {
					if !e.Expect.Valid() {
						t.Fatalf("scenario %q: invalid expect %q accepted", sc.Name, e.Expect)
					}
				}
			}
			return
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("error %v is not a positioned scenarios.Errors", err)
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, e := range es {
			if e.Pos.Line < 1 || e.Pos.Line > lines+1 || e.Pos.Col < 1 {
				t.Fatalf("error %q at %d:%d lies outside the %d-line input", e.Msg, e.Pos.Line, e.Pos.Col, lines)
			}
		}
	})
}

// TestLoadEndless: a file that reports no size and never ends (a device,
// a pipe) is cut at the limit, not read into memory without end.
func TestLoadEndless(t *testing.T) {
	_, err := Load("/dev/zero")
	if want := "/dev/zero:1:1: file is more than the 4194304 bytes a suite may have"; err == nil || err.Error() != want {
		t.Errorf("Load(/dev/zero) = %v, want %s", err, want)
	}
}

// TestParseTrailingEmptyDocument: an empty document after "---" (a
// trailing separator) is harmless.
func TestParseTrailingEmptyDocument(t *testing.T) {
	s, err := Parse("f.yaml", []byte("scenarios:\n  - name: a\n    command: [true]\n    expect: {x: fires}\n---\n# nothing\n"))
	if err != nil || len(s.Scenarios) != 1 {
		t.Fatalf("Parse = %v, %v; want 1 scenario", s, err)
	}
}
