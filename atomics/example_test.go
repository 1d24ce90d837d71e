package atomics_test

import (
	"context"
	"fmt"
	"time"

	"github.com/purpleharness/purpleharness/atomics"
)

// Load the atomics folder, lint it, and look up a test the way scenarios
// refer to them.
func ExampleLoadDir() {
	cat, err := atomics.LoadDir(".")
	if err != nil {
		fmt.Println(err) // file:line:col: msg, one line per load error
		return
	}
	fmt.Println(len(cat.Lint()), "findings")
	t := cat.Find("T1071.003", "POP3 polling from a single bash process over /dev/tcp")
	fmt.Println(t.ID(), t.GUID, t.Executor.Name)
	// Output:
	// 0 findings
	// T1071.003-6 0f0a3b52-3d52-4d64-b116-460015a1ffec bash
}

// Run a test with an input override. A test that cannot run here (wrong
// platform, missing pwsh, elevation) is a Skipped result with the reason,
// not an error.
func ExampleRun() {
	tech, err := atomics.Parse("T9999.yaml", []byte(`
attack_technique: T9999
display_name: Example technique
atomic_tests:
- name: greet
  auto_generated_guid: 9b1c0f6e-2d3a-4b5c-8d7e-6f5a4b3c2d1e
  description: Prints a greeting.
  supported_platforms: [linux, macos]
  input_arguments:
    who:
      description: whom to greet
      type: string
      default: world
  executor:
    name: sh
    command: |
      echo "hello #{who}"
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := atomics.Run(context.Background(), tech.Tests[0], atomics.RunOptions{
		Inputs:   map[string]string{"who": "purple team"},
		Timeout:  30 * time.Second,
		Platform: atomics.Linux,
		OnStart:  func(pid int) { /* scope telemetry to this process tree */ },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Status, res.Exec.ExitCode)
	fmt.Print(res.Exec.Stdout)
	// Output:
	// succeeded 0
	// hello purple team
}
