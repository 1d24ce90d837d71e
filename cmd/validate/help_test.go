package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestHelp: "validate --help" and "validate help" list every command and
// the exit codes; "validate help CMD" is CMD's flags.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		var out, errb bytes.Buffer
		if code := run(t.Context(), args, &out, &errb); code != exitOK {
			t.Errorf("validate %v: exit %d, want 0; stderr %s", args, code, errb.String())
		}
		for _, c := range commands() {
			if !strings.Contains(out.String(), "\n  "+c.name+" ") {
				t.Errorf("validate %v does not list %q:\n%s", args, c.name, out.String())
			}
		}
		if !strings.Contains(out.String(), exitCodeTable) {
			t.Errorf("validate %v does not print the exit codes:\n%s", args, out.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"help", "lint"}, &out, &errb); code != exitOK {
		t.Errorf("validate help lint: exit %d, want 0; stderr %s", code, errb.String())
	}
	if !strings.Contains(out.String()+errb.String(), "usage: validate lint") {
		t.Errorf("validate help lint does not show lint's usage:\n%s%s", out.String(), errb.String())
	}
}

// TestExitCodeTableInDocs holds README.md and docs/harness.md to the text
// "validate help" prints, so the three never disagree.
func TestExitCodeTableInDocs(t *testing.T) {
	for _, p := range []string{"../../README.md", "../../docs/harness.md"} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "```\n"+exitCodeTable+"```\n") {
			t.Errorf("%s does not hold the exit code table of validate help (main.go exitCodeTable) in a code block:\n%s", p, exitCodeTable)
		}
	}
}
