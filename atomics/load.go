package atomics

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/purpleharness/purpleharness/yamlerr"
)

// MaxFileSize bounds a technique file. Upstream's largest are a few hundred
// kilobytes; anything near this limit is not an atomic.
const MaxFileSize = 4 << 20

// maxAliasDepth bounds how many YAML aliases the decoder follows in a row,
// and maxAliases how many it follows in a file: aliases of aliases expand
// exponentially ("billion laughs"), and the decoder walks the expansion.
const (
	maxAliasDepth = 16
	maxAliases    = 1000
)

// Load reads and decodes one technique file. A YAML syntax error or a value
// of the wrong shape is an error (an ErrorList, each entry with
// file:line:col); everything else is loaded and left to Lint.
func Load(path string) (*Technique, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load atomic: %w", err)
	}
	if info.Size() > MaxFileSize {
		return nil, ErrorList{{Pos{path, 1, 1}, fmt.Sprintf("file is %d bytes, more than the %d allowed", info.Size(), MaxFileSize)}}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load atomic: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a technique from data; file names it in positions.
func Parse(file string, data []byte) (*Technique, error) {
	if len(data) > MaxFileSize {
		return nil, ErrorList{{Pos{file, 1, 1}, fmt.Sprintf("file is %d bytes, more than the %d allowed", len(data), MaxFileSize)}}
	}
	t := &Technique{File: file, src: strings.Split(string(data), "\n")}
	var doc yaml.Node
	if err := unmarshal(data, &doc); err != nil {
		return nil, ErrorList{yamlError(file, data, err)}
	}
	d := &decoder{file: file}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, ErrorList{{Pos{file, 1, 1}, "empty file: want a mapping with attack_technique, display_name and atomic_tests"}}
	}
	d.technique(t, doc.Content[0])
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	t.findings = d.findings
	return t, nil
}

// unmarshal is yaml.Unmarshal that turns a panic of the YAML library into an
// error: a hostile file must not take the harness down.
func unmarshal(data []byte, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return yaml.Unmarshal(data, n)
}

// yamlError positions a syntax error from the YAML library at its line and
// column (see yamlerr).
func yamlError(file string, data []byte, err error) *Error {
	line, col, msg := yamlerr.Locate(data, err)
	return &Error{Pos{file, line, col}, "invalid YAML: " + msg}
}

type decoder struct {
	file     string
	aliases  int
	errs     ErrorList
	findings []Finding
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{d.file, max(n.Line, 1), max(n.Column, 1)} }

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &Error{d.pos(n), fmt.Sprintf(format, args...)})
}

func (d *decoder) finding(n *yaml.Node, rule Rule, format string, args ...any) {
	d.findings = append(d.findings, Finding{d.pos(n), rule, fmt.Sprintf(format, args...)})
}

// resolve follows aliases to the node they name.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		d.aliases++
		switch {
		case d.aliases > maxAliases:
			if d.aliases == maxAliases+1 {
				d.errorf(n, "more than %d aliases: refusing to expand them", maxAliases)
			}
			return nil
		case i == maxAliasDepth || n.Alias == nil:
			d.errorf(n, "alias *%s: cannot resolve", n.Value)
			return nil
		}
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.DocumentNode:
		return "a document"
	}
	return "an alias"
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// mapping calls fn for each key of n, a mapping, in file order. It reports
// duplicate keys (PyYAML, upstream's loader, silently keeps the last one,
// which hides mistakes) and non-scalar keys. A null n is an empty mapping.
func (d *decoder) mapping(n *yaml.Node, what string, fn func(key string, k, v *yaml.Node)) bool {
	use := n
	n = d.resolve(n)
	if n == nil || isNull(n) {
		return n != nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(use, "%s: want a mapping, got %s", what, kindName(n))
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := d.resolve(n.Content[i]), n.Content[i+1]
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "%s: want a plain key, got %s", what, kindName(k))
			continue
		}
		if seen[k.Value] {
			d.finding(k, RuleDuplicateKey, "%s: duplicate key %q (the last one wins)", what, k.Value)
		}
		seen[k.Value] = true
		fn(k.Value, k, v)
	}
	return true
}

// str decodes a scalar as text, whatever its YAML tag (upstream writes
// integer defaults as numbers and some names as numbers too).
func (d *decoder) str(n *yaml.Node, what string) string {
	use := n
	n = d.resolve(n)
	if n == nil || isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(use, "%s: want a string, got %s", what, kindName(n))
		return ""
	}
	return n.Value
}

// list calls fn for each element of n, a sequence. A null n is empty.
func (d *decoder) list(n *yaml.Node, what string, fn func(i int, v *yaml.Node)) {
	use := n
	n = d.resolve(n)
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(use, "%s: want a list, got %s", what, kindName(n))
		return
	}
	for i, v := range n.Content {
		fn(i, v)
	}
}

func (d *decoder) technique(t *Technique, n *yaml.Node) {
	n = d.resolve(n)
	if n == nil {
		return
	}
	t.Pos = d.pos(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "technique: want a mapping with attack_technique, display_name and atomic_tests, got %s", kindName(n))
		return
	}
	t.keys = map[string]Pos{}
	d.mapping(n, "technique", func(key string, k, v *yaml.Node) {
		t.keys[key] = d.valuePos(v)
		switch key {
		case "attack_technique":
			t.AttackTechnique = d.techniqueID(v)
		case "display_name":
			t.DisplayName = d.str(v, key)
		case "atomic_tests":
			d.list(v, key, func(i int, v *yaml.Node) {
				test := &Test{Number: len(t.Tests) + 1, File: t.File, tech: t}
				if d.test(test, v) {
					t.Tests = append(t.Tests, test)
				}
			})
		default:
			d.finding(k, RuleUnknownField, "technique: unknown key %q", key)
		}
	})
	for _, key := range []string{"attack_technique", "display_name", "atomic_tests"} {
		if _, ok := t.keys[key]; !ok {
			d.finding(n, RuleMissingField, "technique: missing %s", key)
		}
	}
	for _, test := range t.Tests {
		test.Technique = t.AttackTechnique
	}
}

// techniqueID decodes attack_technique. Some upstream revisions wrote it as
// a list of one ID ("attack_technique:\n- T1234"), which PyYAML and
// Invoke-AtomicRedTeam load without complaint; that is taken as the ID and
// reported. Any other list is an error.
func (d *decoder) techniqueID(v *yaml.Node) string {
	if n := d.resolve(v); n != nil && n.Kind == yaml.SequenceNode && len(n.Content) == 1 {
		if e := d.resolve(n.Content[0]); e != nil && e.Kind == yaml.ScalarNode && !isNull(e) {
			d.finding(n, RuleInvalidValue, "attack_technique: a list of one ID; want the ID itself (attack_technique: %s)", e.Value)
			return e.Value
		}
	}
	return d.str(v, "attack_technique")
}

func (d *decoder) test(t *Test, n *yaml.Node) bool {
	n = d.resolve(n)
	if n == nil {
		return false
	}
	t.Pos = d.pos(n)
	t.keys = map[string]Pos{}
	what := fmt.Sprintf("atomic_tests[%d]", t.Number-1)
	return d.mapping(n, what, func(key string, k, v *yaml.Node) {
		t.keys[key] = d.pos(k)
		switch key {
		case "name":
			t.Name = d.str(v, key)
		case "description":
			t.Description = d.str(v, key)
		case "auto_generated_guid":
			t.GUID = d.str(v, key)
			if vv := d.resolve(v); vv != nil && !isNull(vv) {
				t.keys[key] = d.pos(vv)
			}
		case "supported_platforms":
			d.list(v, key, func(_ int, v *yaml.Node) {
				t.SupportedPlatforms = append(t.SupportedPlatforms, Platform(d.str(v, key)))
				t.platformPos = append(t.platformPos, d.valuePos(v))
			})
		case "input_arguments":
			d.mapping(v, key, func(name string, k, v *yaml.Node) {
				a := &InputArgument{Name: name, Pos: d.pos(k), DefaultPos: d.pos(k)}
				d.argument(a, v)
				t.InputArguments = append(t.InputArguments, a)
			})
		case "dependency_executor_name":
			t.DependencyExecutor = ExecutorName(d.str(v, key))
		case "dependencies":
			d.list(v, key, func(i int, v *yaml.Node) {
				dep := &Dependency{}
				if d.dependency(dep, v, fmt.Sprintf("dependencies[%d]", i)) {
					t.Dependencies = append(t.Dependencies, dep)
				}
			})
		case "executor":
			e := &Executor{Pos: d.pos(k)}
			if d.executor(e, v) {
				t.Executor = e
			}
		default:
			d.finding(k, RuleUnknownField, "%s: unknown key %q", what, key)
		}
	})
}

func (d *decoder) argument(a *InputArgument, n *yaml.Node) {
	what := "input argument " + a.Name
	d.mapping(n, what, func(key string, k, v *yaml.Node) {
		switch key {
		case "description":
			a.Description = d.str(v, key)
		case "type":
			a.TypeText = d.str(v, key)
			a.Type = ArgType(strings.ToLower(a.TypeText))
		case "default":
			a.Default = d.str(v, key)
			if vv := d.resolve(v); vv != nil {
				a.DefaultPos = d.pos(vv)
			}
		default:
			d.finding(k, RuleUnknownField, "%s: unknown key %q", what, key)
		}
	})
}

func (d *decoder) dependency(dep *Dependency, n *yaml.Node, what string) bool {
	if nn := d.resolve(n); nn != nil {
		dep.Pos = d.pos(nn)
	}
	return d.mapping(n, what, func(key string, k, v *yaml.Node) {
		switch key {
		case "description":
			dep.Description = d.str(v, key)
		case "prereq_command":
			dep.PrereqCommand, dep.prereqPos = d.commandText(k, v, key)
		case "get_prereq_command":
			dep.GetPrereqCommand, dep.getPrereqPos = d.commandText(k, v, key)
		default:
			d.finding(k, RuleUnknownField, "%s: unknown key %q", what, key)
		}
	})
}

// commandText decodes a command-like field. A plain (unquoted) scalar ends
// where " #" begins a YAML comment, so `command: echo #{a} #{b}` runs just
// "echo" and the rest vanishes silently; that is reported.
func (d *decoder) commandText(k, v *yaml.Node, key string) (string, Pos) {
	s := d.str(v, key)
	vv := d.resolve(v)
	if vv == nil {
		return s, d.pos(v)
	}
	for _, c := range []string{vv.LineComment, k.LineComment} {
		if vv.Kind == yaml.ScalarNode && vv.Style == 0 && strings.Contains(c, "#{") {
			d.finding(vv, RuleSwallowed, "%s: the text after %q is a YAML comment, not part of the command: quote the value or use a block scalar (|)", key, s)
			break
		}
	}
	return s, d.pos(vv)
}

func (d *decoder) valuePos(v *yaml.Node) Pos {
	if vv := d.resolve(v); vv != nil {
		return d.pos(vv)
	}
	return d.pos(v)
}

func (d *decoder) executor(e *Executor, n *yaml.Node) bool {
	return d.mapping(n, "executor", func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			e.Name = ExecutorName(d.str(v, key))
			e.namePos = d.valuePos(v)
		case "command":
			e.Command, e.commandPos = d.commandText(k, v, key)
		case "cleanup_command":
			e.CleanupCommand, e.cleanupPos = d.commandText(k, v, key)
		case "steps":
			e.Steps, e.stepsPos = d.commandText(k, v, key)
		case "elevation_required":
			s := d.str(v, key)
			switch strings.ToLower(s) {
			case "true":
				e.ElevationRequired = true
			case "false", "":
			default:
				d.finding(d.resolve(v), RuleInvalidValue, "executor: elevation_required: want true or false, got %q", s)
			}
		default:
			d.finding(k, RuleUnknownField, "executor: unknown key %q", key)
		}
	})
}

// Catalog is a loaded atomics folder.
type Catalog struct {
	// Dir is the folder holding the T*/ technique folders.
	Dir        string
	Techniques []*Technique
}

// LoadDir loads every atomics/T*/T*.yaml under dir, which is either an
// atomics folder or the root of an Atomic Red Team checkout (holding one).
// Folders without a technique file (upstream has a few, e.g. for Indexes)
// are passed over. The error, if any, is an ErrorList of every file's load
// errors; the techniques that did load are returned with it.
func LoadDir(dir string) (*Catalog, error) {
	if _, err := os.Stat(filepath.Join(dir, "atomics")); err == nil && !hasTechniqueDirs(dir) {
		dir = filepath.Join(dir, "atomics")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load atomics: %w", err)
	}
	c := &Catalog{Dir: dir}
	var errs ErrorList
	for _, e := range entries {
		if !e.IsDir() || !techniqueDir(e.Name()) {
			continue
		}
		file := filepath.Join(dir, e.Name(), e.Name()+".yaml")
		t, err := Load(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		var list ErrorList
		switch {
		case errors.As(err, &list):
			errs = append(errs, list...)
			continue
		case err != nil:
			return c, err
		}
		c.Techniques = append(c.Techniques, t)
	}
	sort.SliceStable(c.Techniques, func(i, j int) bool {
		return c.Techniques[i].AttackTechnique < c.Techniques[j].AttackTechnique
	})
	return c, errs.Err()
}

var techniqueDirRE = regexp.MustCompile(`^T\d{4}(\.\d{3})?$`)

func techniqueDir(name string) bool { return techniqueDirRE.MatchString(name) }

func hasTechniqueDirs(dir string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() && techniqueDir(e.Name()) {
			return true
		}
	}
	return false
}

// Tests returns every test of every technique, in order.
func (c *Catalog) Tests() []*Test {
	var out []*Test
	for _, t := range c.Techniques {
		out = append(out, t.Tests...)
	}
	return out
}

// Technique returns the technique with ATT&CK ID id, or nil.
func (c *Catalog) Technique(id string) *Technique {
	for _, t := range c.Techniques {
		if strings.EqualFold(t.AttackTechnique, id) {
			return t
		}
	}
	return nil
}

// ByGUID returns the test whose auto_generated_guid is guid (any case).
func (c *Catalog) ByGUID(guid string) *Test {
	for _, t := range c.Tests() {
		if t.GUID != "" && strings.EqualFold(t.GUID, guid) {
			return t
		}
	}
	return nil
}

// Find returns a test of technique by name, by number ("2") or by ID
// ("T1071.003-2"), the ways Invoke-AtomicRedTeam lets one pick a test.
func (c *Catalog) Find(technique, ref string) *Test {
	tech := c.Technique(technique)
	if tech == nil {
		return nil
	}
	for _, t := range tech.Tests {
		if t.Name == ref || strconv.Itoa(t.Number) == ref || strings.EqualFold(t.ID(), ref) {
			return t
		}
	}
	return nil
}

// Select returns the tests that refs name, in order and without repeats.
// A ref is a technique ID ("T1071.003": all its tests), a test ID
// ("T1071.003-2"), an auto_generated_guid, or a technique ID and a test
// name separated by a colon ("T1071.003:IMAP C2 channel with curl"). No refs
// selects every test.
func (c *Catalog) Select(refs ...string) ([]*Test, error) {
	if len(refs) == 0 {
		return c.Tests(), nil
	}
	var out []*Test
	seen := map[*Test]bool{}
	add := func(ts ...*Test) {
		for _, t := range ts {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	for _, ref := range refs {
		if tech := c.Technique(ref); tech != nil {
			add(tech.Tests...)
			continue
		}
		if t := c.ByGUID(ref); t != nil {
			add(t)
			continue
		}
		if i := strings.LastIndexByte(ref, '-'); i > 0 {
			if t := c.Find(ref[:i], ref[i+1:]); t != nil {
				add(t)
				continue
			}
		}
		if i := strings.IndexByte(ref, ':'); i > 0 {
			if t := c.Find(ref[:i], ref[i+1:]); t != nil {
				add(t)
				continue
			}
		}
		return nil, fmt.Errorf("no atomic test matches %q (want a technique ID, a test ID like T1071.003-2, a GUID, or TECHNIQUE:NAME)", ref)
	}
	return out, nil
}
