package atomics

import (
	"strings"
	"testing"
)

const problemsYAML = `attack_technique: T1071.003
display_name: "Application Layer Protocol: Mail Protocols"
atomic_tests:
- name: bad types
  auto_generated_guid: 6f1c7a52-5b0e-4b43-9d0f-2a7f1c3e9b10
  description: arguments of an unknown type and a default of the wrong type
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
    command: 'echo #{host}:#{port} #{user}'
- name: bad executor
  auto_generated_guid: 0b4e7a1f-3c2d-4e5f-8a9b-1c2d3e4f5a6b
  description: an executor no runner has
  supported_platforms: [linux]
  executor:
    name: zsh
    command: echo hi
`

// TestProblems: the findings that keep a test from running, at their
// positions; a default the scenario overrides is not one of them.
func TestProblems(t *testing.T) {
	tech, err := Parse("T1071.003.yaml", []byte(problemsYAML))
	if err != nil {
		t.Fatal(err)
	}
	render := func(fs []Finding) string {
		var b strings.Builder
		for _, f := range fs {
			b.WriteString(f.String() + "\n")
		}
		return b.String()
	}
	for _, tc := range []struct {
		test      int
		overrides map[string]string
		want      string
	}{
		{0, nil, `T1071.003.yaml:12:16: T1071.003-1: input argument "port": default "twenty-five" is not an integer [argument-default]
T1071.003.yaml:13:5: T1071.003-1: input argument "host": unknown type "hostname" (want one of string, path, url, integer, float, any case) [argument-type]
T1071.003.yaml:19:36: T1071.003-1: command uses #{user}, which input_arguments does not declare [undeclared-argument]
`},
		{0, map[string]string{"port": "25"}, `T1071.003.yaml:13:5: T1071.003-1: input argument "host": unknown type "hostname" (want one of string, path, url, integer, float, any case) [argument-type]
T1071.003.yaml:19:36: T1071.003-1: command uses #{user}, which input_arguments does not declare [undeclared-argument]
`},
		{1, nil, `T1071.003.yaml:25:11: T1071.003-2: unknown executor "zsh" (want one of sh, bash, powershell, command_prompt, manual) [executor]
`},
	} {
		got := render(tech.Tests[tc.test].Problems(tc.overrides))
		if got != tc.want {
			t.Errorf("Tests[%d].Problems(%v) =\n%s\nwant\n%s", tc.test, tc.overrides, got, tc.want)
		}
	}
}
