package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/purpleharness/purpleharness/yamlerr"
)

// Error is an input error at a position in a suite file.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Errors collects every problem found in one or more files, so a user fixes
// them in one pass.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// maxFileSize bounds what Load reads: a suite is a hand-written file.
const maxFileSize = 4 << 20

// LoadDir loads every *.yaml and *.yml file in dir (not recursively), sorted
// by name. Scenario names must be unique across the directory.
func LoadDir(dir string) ([]*Suite, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load scenarios: %w", err)
	}
	var names []string
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("load scenarios: no *.yaml files in %s", dir)
	}
	var (
		suites []*Suite
		errs   Errors
		seen   = map[string]Pos{}
	)
	for _, n := range names {
		s, err := Load(filepath.Join(dir, n))
		var fe Errors
		if errors.As(err, &fe) {
			errs = append(errs, fe...)
			continue
		} else if err != nil {
			return nil, err
		}
		for _, sc := range s.Scenarios {
			if prev, dup := seen[sc.Name]; dup {
				errs = append(errs, &Error{sc.Pos, fmt.Sprintf("scenario %q already defined at %s", sc.Name, prev)})
				continue
			}
			seen[sc.Name] = sc.Pos
		}
		suites = append(suites, s)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return suites, nil
}

// Load reads one suite file.
func Load(path string) (*Suite, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load scenarios: %w", err)
	}
	defer f.Close()
	// Read through a limit, not by the size Stat reports: a device or a
	// pipe (--suite /dev/zero, <(...)) reports 0 and never ends.
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load scenarios: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, Errors{{Pos{path, 1, 1}, fmt.Sprintf("file is more than the %d bytes a suite may have", maxFileSize)}}
	}
	return Parse(path, data)
}

// Parse decodes a suite from data; file names it in positions.
func Parse(file string, data []byte) (*Suite, error) {
	var doc yaml.Node
	if err := decodeOne(data, &doc); err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Pos.File = file
			return nil, Errors{e}
		}
		line, col, msg := yamlerr.Locate(data, err)
		return nil, Errors{{Pos{file, line, col}, msg}}
	}
	d := &decoder{file: file}
	s := d.suite(&doc)
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return s, nil
}

// decodeOne decodes the file's YAML document into doc. A further document
// (after "---") is an error rather than silently ignored, as yaml.Unmarshal
// would: its scenarios would never run. Empty ones are harmless.
func decodeOne(data []byte, doc *yaml.Node) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file: suite() says so
		}
		return err
	}
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(next.Content) > 0 && next.Content[0].Tag != "!!null" {
			n := next.Content[0]
			return &Error{Pos{"", n.Line, n.Column}, "a second YAML document: a suite file holds one (put these scenarios in the first document or in a file of their own)"}
		}
	}
}

type decoder struct {
	file string
	errs Errors
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{d.file, n.Line, n.Column} }

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &Error{d.pos(n), fmt.Sprintf(format, args...)})
}

// fields walks a mapping node, calling fn per key; keys not in allowed are
// errors, as are duplicates.
func (d *decoder) fields(n *yaml.Node, what string, allowed []string, fn func(key string, k, v *yaml.Node)) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping, got %s", what, kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		key := k.Value
		if seen[key] {
			d.errorf(k, "duplicate key %q in %s", key, what)
			continue
		}
		seen[key] = true
		if allowed != nil && !contains(allowed, key) {
			d.errorf(k, "unknown key %q in %s (allowed: %s)", key, what, strings.Join(allowed, ", "))
			continue
		}
		fn(key, k, v)
	}
}

// deref follows a YAML alias (*name) to its anchored node, so suites can
// share one expectation among scenarios.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

// str decodes a scalar as a string (numbers and booleans as written).
func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, "%s must be a string, got %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) nonEmpty(n *yaml.Node, what string) string {
	s, ok := d.str(n, what)
	if ok && strings.TrimSpace(s) == "" {
		d.errorf(n, "%s must not be empty", what)
	}
	return s
}

func (d *decoder) suite(doc *yaml.Node) *Suite {
	s := &Suite{File: d.file}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		d.errorf(&yaml.Node{Line: 1, Column: 1}, "empty suite file: want a mapping with a scenarios list")
		return s
	}
	root := deref(doc.Content[0])
	var scen *yaml.Node
	d.fields(root, "suite", []string{"suite", "technique", "description", "scenarios"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "suite":
			s.Name = d.nonEmpty(v, "suite")
		case "technique":
			s.Technique = d.technique(v)
		case "description":
			d.str(v, "description")
		case "scenarios":
			scen = v
		}
	})
	if root.Kind != yaml.MappingNode {
		return s
	}
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(d.file), filepath.Ext(d.file))
	}
	if scen == nil {
		d.errorf(root, "suite has no scenarios list")
		return s
	}
	if scen.Kind != yaml.SequenceNode {
		d.errorf(scen, "scenarios must be a list, got %s", kindName(scen))
		return s
	}
	names := map[string]Pos{}
	for _, n := range scen.Content {
		sc := d.scenario(n, s)
		if sc == nil {
			continue
		}
		if prev, dup := names[sc.Name]; dup && sc.Name != "" {
			d.errorf(n, "scenario %q already defined at %s", sc.Name, prev)
			continue
		}
		names[sc.Name] = sc.Pos
		s.Scenarios = append(s.Scenarios, sc)
	}
	return s
}

var techniqueRe = regexp.MustCompile(`^T\d{4}(\.\d{3})?$`)

func (d *decoder) technique(n *yaml.Node) string {
	t, ok := d.str(n, "technique")
	if ok && !techniqueRe.MatchString(t) {
		d.errorf(n, "technique %q is not an ATT&CK technique id like T1071 or T1071.003", t)
	}
	return t
}

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (d *decoder) scenario(n *yaml.Node, s *Suite) *Scenario {
	n = deref(n)
	sc := &Scenario{Pos: d.pos(n), Technique: s.Technique, Timeout: DefaultTimeout}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "scenario must be a mapping, got %s", kindName(n))
		return nil
	}
	before := len(d.errs)
	var expectNode *yaml.Node
	d.fields(n, "scenario", []string{"name", "description", "technique", "atomic", "command", "recorded", "inputs", "tags", "timeout", "expect"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			sc.Name = d.nonEmpty(v, "name")
			if sc.Name != "" && !nameRe.MatchString(sc.Name) {
				d.errorf(v, "scenario name %q: use letters, digits, '.', '_' and '-' (it names files and test cases)", sc.Name)
			}
		case "description":
			sc.Description, _ = d.str(v, "description")
		case "technique":
			sc.Technique = d.technique(v)
		case "atomic":
			sc.Atomic = d.atomic(v)
		case "command":
			sc.Command = d.command(v)
		case "recorded":
			sc.Recorded = d.recorded(v)
		case "inputs":
			sc.Inputs = d.inputs(v)
		case "tags":
			sc.Tags = d.tags(v)
		case "timeout":
			sc.Timeout = d.duration(v)
		case "expect":
			expectNode = v
		}
	})
	if sc.Name == "" && len(d.errs) == before {
		d.errorf(n, "scenario has no name")
	}
	runs := 0
	for _, set := range []bool{sc.Atomic != nil, sc.Command != nil, sc.Recorded != ""} {
		if set {
			runs++
		}
	}
	switch {
	case runs == 0 && len(d.errs) == before:
		d.errorf(n, "scenario %q needs an atomic, a command or recorded telemetry", sc.Name)
	case runs > 1:
		d.errorf(n, "scenario %q has more than one of atomic, command and recorded; use one", sc.Name)
	}
	if sc.Atomic == nil && len(sc.Inputs) > 0 {
		d.errorf(n, "scenario %q: inputs apply to atomics only", sc.Name)
	}
	if expectNode == nil {
		if len(d.errs) == before {
			d.errorf(n, "scenario %q has no expect: say per rule whether it fires or stays silent", sc.Name)
		}
	} else {
		sc.Expect = d.expectations(expectNode)
	}
	return sc
}

// recorded reads a recorded: path, resolved against the suite file's
// folder; a file that is not there is an error at the value.
func (d *decoder) recorded(n *yaml.Node) string {
	p := d.nonEmpty(n, "recorded")
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(d.file), p)
	}
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		d.errorf(n, "recorded %q: not a telemetry file (%s)", n.Value, p)
		return ""
	}
	return p
}

func (d *decoder) atomic(n *yaml.Node) *AtomicRef {
	a := &AtomicRef{}
	if n.Kind == yaml.ScalarNode {
		a.GUID = d.nonEmpty(n, "atomic")
		if a.GUID != "" && !guidRe.MatchString(a.GUID) {
			d.errorf(n, "atomic %q is not a GUID; name a test by {technique: T..., name: ...} or by its auto_generated_guid", a.GUID)
		}
		return a
	}
	d.fields(n, "atomic", []string{"guid", "technique", "name"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "guid":
			a.GUID = d.nonEmpty(v, "guid")
			if a.GUID != "" && !guidRe.MatchString(a.GUID) {
				d.errorf(v, "guid %q is not a GUID", a.GUID)
			}
		case "technique":
			a.Technique = d.technique(v)
		case "name":
			a.Name = d.nonEmpty(v, "name")
		}
	})
	if n.Kind == yaml.MappingNode && a.GUID == "" && (a.Technique == "" || a.Name == "") {
		d.errorf(n, "atomic needs a guid, or both technique and name")
	}
	return a
}

var guidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (d *decoder) command(n *yaml.Node) *Command {
	c := &Command{}
	if n.Kind == yaml.SequenceNode {
		c.Argv = d.argv(n)
		return c
	}
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		c.Shell = d.nonEmpty(n, "command")
		return c
	}
	d.fields(n, "command", []string{"argv", "shell", "process_name"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "argv":
			c.Argv = d.argv(v)
		case "shell":
			c.Shell = d.nonEmpty(v, "shell")
		case "process_name":
			c.ProcessName = d.nonEmpty(v, "process_name")
			if strings.ContainsAny(c.ProcessName, "/\x00") {
				d.errorf(v, "process_name %q must be a file name, without '/'", c.ProcessName)
			}
		}
	})
	if n.Kind != yaml.MappingNode {
		return c
	}
	switch {
	case len(c.Argv) == 0 && c.Shell == "":
		d.errorf(n, "command needs argv or shell")
	case len(c.Argv) > 0 && c.Shell != "":
		d.errorf(n, "command has both argv and shell; use one")
	case c.ProcessName != "" && c.Shell != "":
		d.errorf(n, "process_name needs argv (it renames argv[0]'s executable)")
	}
	return c
}

func (d *decoder) argv(n *yaml.Node) []string {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "argv must be a list, got %s", kindName(n))
		return nil
	}
	if len(n.Content) == 0 {
		d.errorf(n, "argv must not be empty")
		return nil
	}
	var out []string
	for i, a := range n.Content {
		s, _ := d.str(a, "argv element")
		if i == 0 && s == "" {
			d.errorf(a, "argv[0] must name a program")
		}
		out = append(out, s)
	}
	return out
}

func (d *decoder) inputs(n *yaml.Node) map[string]string {
	m := map[string]string{}
	d.fields(n, "inputs", nil, func(key string, k, v *yaml.Node) {
		if key == "" {
			d.errorf(k, "input name must not be empty")
			return
		}
		s, ok := d.str(v, "input "+key)
		if ok {
			m[key] = s
		}
	})
	return m
}

func (d *decoder) tags(n *yaml.Node) []Tag {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "tags must be a list, got %s", kindName(n))
		return nil
	}
	var out []Tag
	for _, t := range n.Content {
		if s := d.nonEmpty(t, "tag"); s != "" {
			out = append(out, Tag(s))
		}
	}
	return out
}

func (d *decoder) duration(n *yaml.Node) time.Duration {
	s, ok := d.str(n, "timeout")
	if !ok {
		return DefaultTimeout
	}
	t, err := time.ParseDuration(s)
	if err != nil || t <= 0 {
		d.errorf(n, "timeout %q is not a positive duration like 10s or 2m", s)
		return DefaultTimeout
	}
	return t
}

// expectations decodes the expect mapping: rule reference → "fires" |
// "silent" | {expect, process.name, sequences, known_gap}.
func (d *decoder) expectations(n *yaml.Node) []Expectation {
	var out []Expectation
	d.fields(n, "expect", nil, func(key string, k, v *yaml.Node) {
		e := Expectation{Rule: key, Pos: d.pos(k)}
		if strings.TrimSpace(key) == "" {
			d.errorf(k, "rule reference must not be empty")
			return
		}
		if v.Kind == yaml.ScalarNode {
			e.Expect = d.expect(v)
			out = append(out, e)
			return
		}
		d.fields(v, "expectation for "+key, []string{"expect", "process.name", "sequences", "known_gap"}, func(f string, fk, fv *yaml.Node) {
			switch f {
			case "expect":
				e.Expect = d.expect(fv)
			case "process.name":
				e.ProcessName = d.nonEmpty(fv, "process.name")
			case "sequences":
				s, ok := d.str(fv, "sequences")
				if !ok {
					return
				}
				c, err := strconv.Atoi(s)
				if err != nil || c < 1 {
					d.errorf(fv, "sequences %q must be a whole number of at least 1", s)
					return
				}
				e.Sequences = c
			case "known_gap":
				e.KnownGap = d.nonEmpty(fv, "known_gap")
			}
		})
		if v.Kind != yaml.MappingNode {
			return
		}
		if e.Expect == "" {
			d.errorf(v, "expectation for %q needs expect: fires or silent", key)
			return
		}
		if e.Expect == Silent && (e.ProcessName != "" || e.Sequences > 0) {
			d.errorf(v, "expectation for %q: process.name and sequences describe detections; they need expect: fires", key)
		}
		out = append(out, e)
	})
	if n.Kind == yaml.MappingNode && len(n.Content) == 0 {
		d.errorf(n, "expect is empty: say per rule (or \"*\") whether it fires or stays silent")
	}
	return out
}

func (d *decoder) expect(n *yaml.Node) Expect {
	s, ok := d.str(n, "expect")
	if !ok {
		return ""
	}
	e := Expect(s)
	if !e.Valid() {
		d.errorf(n, "expect %q: want %q or %q", s, Fires, Silent)
		return ""
	}
	return e
}
