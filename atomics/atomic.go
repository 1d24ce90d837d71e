// Package atomics loads, lints and runs Atomic Red Team tests.
//
// The format is the one redcanaryco/atomic-red-team defines in
// atomic_red_team/spec.yaml and enforces with its pydantic models
// (atomic_red_team/models.py): one folder per ATT&CK technique,
// atomics/T1234/T1234.yaml, holding attack_technique, display_name and a list
// of atomic_tests. Users point purpleharness at their own checkout, so Load
// accepts everything upstream accepts and reports the rest as lint findings
// with file:line:col instead of refusing the file.
//
// The package has three parts:
//
//   - Load and LoadDir decode YAML through yaml.Node, so every error and every
//     finding carries the position of the offending text. Shape errors (a list
//     where a mapping belongs, broken YAML) are load errors; wrong values
//     (unknown executor, undeclared #{arg}, sudo without elevation_required)
//     are findings from Lint, collected all together.
//   - Lint checks what upstream's validator checks, and a little more.
//   - Run executes one test the way Invoke-AtomicRedTeam does on Linux:
//     #{arg} substitution, prerequisites, the executor in its own session and
//     process group, a timeout that kills the whole tree, and a cleanup
//     command that always runs. What happened is returned as evidence.
package atomics

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Platform is a value of supported_platforms.
type Platform string

// The platforms upstream accepts (models.py Platform).
const (
	Windows         Platform = "windows"
	MacOS           Platform = "macos"
	Linux           Platform = "linux"
	Office365       Platform = "office-365"
	AzureAD         Platform = "azure-ad"
	GoogleWorkspace Platform = "google-workspace"
	SaaS            Platform = "saas"
	IaaS            Platform = "iaas"
	Containers      Platform = "containers"
	IaaSGCP         Platform = "iaas:gcp"
	IaaSAzure       Platform = "iaas:azure"
	IaaSAWS         Platform = "iaas:aws"
	ESXi            Platform = "esxi"
)

// Platforms lists every known platform, in upstream's order.
var Platforms = []Platform{Windows, MacOS, Linux, Office365, AzureAD, GoogleWorkspace,
	SaaS, IaaS, Containers, IaaSGCP, IaaSAzure, IaaSAWS, ESXi}

// Valid reports whether p is one of Platforms.
func (p Platform) Valid() bool { return slices.Contains(Platforms, p) }

// ExecutorName names the program that runs a test's commands.
type ExecutorName string

// The executors upstream accepts (models.py ExecutorType).
const (
	Sh            ExecutorName = "sh"
	Bash          ExecutorName = "bash"
	PowerShell    ExecutorName = "powershell"
	CommandPrompt ExecutorName = "command_prompt"
	Manual        ExecutorName = "manual"
)

// ExecutorNames lists every known executor.
var ExecutorNames = []ExecutorName{Sh, Bash, PowerShell, CommandPrompt, Manual}

// Valid reports whether e is one of ExecutorNames.
func (e ExecutorName) Valid() bool { return slices.Contains(ExecutorNames, e) }

// ArgType is the type of an input argument. Upstream files spell it in any
// case ("Path", "String", "integer"); the loader stores it lower-cased and
// keeps the original spelling in InputArgument.TypeText.
type ArgType string

// The argument types upstream accepts (models.py InputArgType).
const (
	String  ArgType = "string"
	Path    ArgType = "path"
	URL     ArgType = "url"
	Integer ArgType = "integer"
	Float   ArgType = "float"
)

// ArgTypes lists every known argument type.
var ArgTypes = []ArgType{String, Path, URL, Integer, Float}

// Valid reports whether t is one of ArgTypes.
func (t ArgType) Valid() bool { return slices.Contains(ArgTypes, t) }

// Pos is a position in a YAML file. Line and Col are 1-based.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

// String renders file:line:col (line:col without a file).
func (p Pos) String() string {
	if p.File == "" {
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Technique is one technique file, atomics/T1234/T1234.yaml.
type Technique struct {
	// File is the path the technique was loaded from.
	File string `json:"file"`
	// AttackTechnique is the ATT&CK ID, "T1071.003".
	AttackTechnique string  `json:"attack_technique"`
	DisplayName     string  `json:"display_name"`
	Tests           []*Test `json:"atomic_tests"`
	Pos             Pos     `json:"pos"`

	// keys maps each key present in the technique's mapping to the
	// position of its value.
	keys map[string]Pos
	// findings holds what the loader noticed but did not refuse (unknown
	// keys, missing fields); Lint reports them with its own.
	findings []Finding
	// src keeps the file's lines so findings inside multi-line commands can
	// point at the exact line and column.
	src []string
}

// Dir is the technique's folder, where its payloads live.
func (t *Technique) Dir() string { return filepath.Dir(t.File) }

// Test is one element of atomic_tests.
type Test struct {
	// Technique is the owning technique's ATT&CK ID and Number the test's
	// 1-based index in it: together the "T1071.003-2" that Invoke-AtomicRedTeam
	// calls the test number.
	Technique string `json:"technique"`
	Number    int    `json:"number"`
	// File is the technique file the test came from.
	File string `json:"file"`

	Name               string           `json:"name"`
	Description        string           `json:"description"`
	SupportedPlatforms []Platform       `json:"supported_platforms"`
	GUID               string           `json:"auto_generated_guid,omitempty"`
	InputArguments     []*InputArgument `json:"input_arguments,omitempty"`
	// DependencyExecutor runs prereq and get_prereq commands; empty means
	// the test's own executor.
	DependencyExecutor ExecutorName  `json:"dependency_executor_name,omitempty"`
	Dependencies       []*Dependency `json:"dependencies,omitempty"`
	Executor           *Executor     `json:"executor"`
	Pos                Pos           `json:"pos"`

	tech *Technique
	// keys maps each key present in the test's mapping to its position,
	// so Lint can tell "missing" from "empty".
	keys map[string]Pos
	// platformPos holds the position of each SupportedPlatforms entry.
	platformPos []Pos
}

// ID is the test's number as Invoke-AtomicRedTeam shows it, "T1071.003-2".
func (t *Test) ID() string { return fmt.Sprintf("%s-%d", t.Technique, t.Number) }

// Argument returns the declared input argument called name, or nil.
func (t *Test) Argument(name string) *InputArgument {
	for _, a := range t.InputArguments {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Supports reports whether p is among the test's supported platforms.
func (t *Test) Supports(p Platform) bool { return slices.Contains(t.SupportedPlatforms, p) }

// InputArgument is one entry of input_arguments.
type InputArgument struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Type is the lower-cased type; TypeText is how the file spelled it.
	Type     ArgType `json:"type"`
	TypeText string  `json:"-"`
	// Default is the default value as written (a YAML null is "").
	Default string `json:"default"`
	Pos     Pos    `json:"pos"`
	// DefaultPos is where the default value is written (Pos when absent).
	DefaultPos Pos `json:"-"`
}

// Dependency is one prerequisite: a check and, optionally, a way to meet it.
type Dependency struct {
	Description      string `json:"description"`
	PrereqCommand    string `json:"prereq_command"`
	GetPrereqCommand string `json:"get_prereq_command,omitempty"`
	Pos              Pos    `json:"pos"`

	prereqPos, getPrereqPos Pos
}

// Executor says how to run a test: the program, its commands and whether
// it needs root (or an elevated prompt on Windows).
type Executor struct {
	Name              ExecutorName `json:"name"`
	Command           string       `json:"command,omitempty"`
	CleanupCommand    string       `json:"cleanup_command,omitempty"`
	Steps             string       `json:"steps,omitempty"`
	ElevationRequired bool         `json:"elevation_required"`
	Pos               Pos          `json:"pos"`

	namePos, commandPos, cleanupPos, stepsPos Pos
}

// Error is a load error at a position in a file.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every load error of one or more files, in file order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Err returns l as an error, or nil when l is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
