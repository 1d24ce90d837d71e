package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/harness"
	"github.com/purpleharness/purpleharness/rules"
)

const lintUsage = `usage: validate lint [flags] FILE|DIR...

Parse and verify detection rules: Elastic detection-rules .toml
([rule] language = "eql", query), Kibana saved-object .ndjson exports (one
rule per line), .json rules as the detection engine API returns them, and
raw .eql files. A directory is searched for .toml, .ndjson and .eql files.
Prints file:line:col: message for every problem; rules in other languages
are reported as skipped. Exit 0 when every rule is valid, 1 otherwise.

flags:
  --mapping FILE   an index mapping (JSON, as GET INDEX/_mapping or the
                   "mappings" of a template): fields the rule uses that the
                   mapping lacks are errors, as Elasticsearch reports them
  --strict         warnings fail the lint too (exit 1)
  --format FORMAT  text (default), github (workflow commands: annotations on
                   the pull request) or json
  --quiet          print problems and warnings only, no skipped notes or summary

Warnings do not make a rule invalid: a comparison of an ECS categorization
field (event.kind, event.category, event.type, event.outcome) with a value
ECS does not allow, which never matches ECS data.
`

var lintCommand = command{"lint", "parse and verify rule files (.toml, .ndjson, .eql)", runLint}

func runLint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate lint", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	mappingFile := fs.String("mapping", "", "")
	quiet := fs.Bool("quiet", false, "")
	strict := fs.Bool("strict", false, "")
	format := fs.String("format", "text", "")
	paths, err := parseInterleaved(fs, args)
	if err == nil && *format != "text" && *format != "github" && *format != "json" {
		err = fmt.Errorf("lint: --format %q: want text, github or json", *format)
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, lintUsage)
		return nil
	}
	if err != nil {
		fmt.Fprint(stderr, lintUsage)
		return usageError(err)
	}
	if len(paths) == 0 {
		fmt.Fprint(stderr, lintUsage)
		return usageError(errors.New("lint: no rule files given"))
	}
	var opts []eql.Option
	if *mappingFile != "" {
		data, err := os.ReadFile(*mappingFile)
		if err != nil {
			return usageError(fmt.Errorf("lint: %w", err))
		}
		m, err := eql.ParseMapping(data)
		if err != nil {
			return usageError(fmt.Errorf("lint: mapping %s: %w", *mappingFile, err))
		}
		opts = append(opts, eql.WithMapping(m))
	}

	var sum lintSummary
	var found []finding
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		found = append(found, lintPath(p, opts, &sum, *quiet)...)
	}
	if err := writeFindings(stdout, *format, found); err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintf(stderr, "validate lint: %s\n", sum)
	}
	if sum.problems > 0 || (*strict && sum.warnings > 0) {
		return silentExit(exitFailed)
	}
	return nil
}

type lintSummary struct {
	valid, skipped, problems, warnings int
}

func (s lintSummary) String() string {
	out := fmt.Sprintf("%d valid EQL %s, %d skipped, %d %s",
		s.valid, plural(s.valid, "rule", "rules"), s.skipped, s.problems, plural(s.problems, "problem", "problems"))
	if s.warnings > 0 {
		out += fmt.Sprintf(", %d %s", s.warnings, plural(s.warnings, "warning", "warnings"))
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// A finding is one line of lint output, sortable by position.
type finding struct {
	pos   rules.Pos
	level string // "error", "warning" or "skipped"
	msg   string
}

func (f finding) String() string {
	if f.level == "error" {
		return f.pos.String() + ": " + f.msg
	}
	return f.pos.String() + ": " + f.level + ": " + f.msg
}

// lintPath loads the rules of one file or directory, checks each, and
// returns the findings in file and position order.
func lintPath(path string, opts []eql.Option, sum *lintSummary, quiet bool) []finding {
	var rs []rules.Rule
	var err error
	if fi, statErr := os.Stat(path); statErr == nil && fi.IsDir() {
		rs, err = rules.LoadDir(path)
	} else {
		rs, err = rules.Load(path)
	}
	var found []finding
	for _, e := range flattenErrors(err) {
		sum.problems++
		var re *rules.Error
		if errors.As(e, &re) {
			found = append(found, finding{re.Pos, "error", re.Msg})
		} else if pe := (*fs.PathError)(nil); errors.As(e, &pe) {
			found = append(found, finding{rules.Pos{File: pe.Path}, "error", pe.Err.Error()})
		} else {
			found = append(found, finding{rules.Pos{File: path}, "error", e.Error()})
		}
	}
	for i := range rs {
		r := &rs[i]
		if reason := r.Skipped(); reason != "" {
			sum.skipped++
			if !quiet {
				found = append(found, finding{rules.Pos{File: r.File, Line: r.Line}, "skipped", reason})
			}
			continue
		}
		f, bad, warns := lintRule(r, opts)
		if bad {
			sum.problems++
			found = append(found, f)
			continue
		}
		sum.valid++
		sum.warnings += len(warns)
		found = append(found, warns...)
	}
	sort.SliceStable(found, func(i, j int) bool {
		a, b := found[i].pos, found[j].pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return found
}

// writeFindings prints findings in the chosen format: text
// (file:line:col: message), github (workflow commands, so findings show
// as annotations on the pull request's files) or json.
func writeFindings(w io.Writer, format string, found []finding) error {
	switch format {
	case "github":
		for _, f := range found {
			cmd := map[string]string{"error": "error", "warning": "warning", "skipped": "notice"}[f.level]
			props := "file=" + ghProp(f.pos.File)
			if f.pos.Line > 0 {
				props += fmt.Sprintf(",line=%d", f.pos.Line)
			}
			if f.pos.Col > 0 {
				props += fmt.Sprintf(",col=%d", f.pos.Col)
			}
			msg := f.msg
			if f.level == "skipped" {
				msg = "skipped: " + msg
			}
			fmt.Fprintf(w, "::%s %s::%s\n", cmd, props, ghData(msg))
		}
	case "json":
		type jsonFinding struct {
			File    string `json:"file"`
			Line    int    `json:"line,omitempty"`
			Col     int    `json:"col,omitempty"`
			Level   string `json:"level"`
			Message string `json:"message"`
		}
		out := make([]jsonFinding, 0, len(found))
		for _, f := range found {
			out = append(out, jsonFinding{f.pos.File, f.pos.Line, f.pos.Col, f.level, f.msg})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	default:
		for _, f := range found {
			fmt.Fprintln(w, f)
		}
	}
	return nil
}

// ghData and ghProp escape a workflow command's message and property
// values as GitHub's runner expects (actions/toolkit, command.ts).
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProp(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// lintRule parses and verifies one EQL rule and returns its finding,
// positioned in the rule file, or, for a valid rule, its warnings.
func lintRule(r *rules.Rule, opts []eql.Option) (problem finding, bad bool, warnings []finding) {
	q, err := eql.Parse(r.Query)
	if err == nil {
		_, err = eql.Compile(q, opts...)
	}
	if err == nil {
		// With a mapping: the rule's category field must be in it.
		err = eql.CheckCategoryField(q, r.EventCategoryField(), opts...)
	}
	if err != nil {
		var qe *eql.Error
		if errors.As(err, &qe) {
			return finding{r.PosAt(qe.Offset), "error", qe.Msg}, true, nil
		}
		return finding{r.QueryPos(), "error", err.Error()}, true, nil
	}
	for _, w := range ecsWarnings(q, r.EventCategoryField()) {
		warnings = append(warnings, finding{r.PosAt(w.offset), "warning", w.msg})
	}
	// A rule that reads only Elastic Defend's event data streams, and
	// declares no integration that adds fields to them, can use only the
	// fields their templates define (a run of the suite refuses such a
	// rule; lint warns).
	if tmpl, ok := ecs.TemplateFields(ecs.Endpoint); ok && harness.DefendIndex(r.Index) && len(harness.OtherIntegrations(r.Integrations)) == 0 {
		for _, fp := range harness.UnknownFields(q, tmpl) {
			warnings = append(warnings, finding{r.PosAt(fp.Offset), "warning", fp.String(harness.DefendSource)})
		}
	}
	return finding{}, false, warnings
}

// flattenErrors unpacks errors.Join trees into their leaves.
func flattenErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// parseInterleaved parses flags that may come before, between or after
// the positional arguments ("validate query 'q' --events f" works), and
// returns the positional ones. "--" ends flag parsing.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// ecsAllowed are the allowed values of ECS's categorization fields (ECS
// 8.x, "ECS Categorization Fields"). A rule comparing one of these fields
// with any other value can never match data that follows ECS — Elastic
// Defend, Beats and Agent integrations all do — so lint warns about it.
var ecsAllowed = map[string][]string{
	"event.kind":     {"alert", "asset", "enrichment", "event", "metric", "state", "pipeline_error", "signal"},
	"event.category": {"api", "authentication", "configuration", "database", "driver", "email", "file", "host", "iam", "intrusion_detection", "library", "malware", "network", "package", "process", "registry", "session", "threat", "vulnerability", "web"},
	"event.type":     {"access", "admin", "allowed", "change", "connection", "creation", "deletion", "denied", "device", "end", "error", "group", "indicator", "info", "installation", "protocol", "start", "user"},
	"event.outcome":  {"failure", "success", "unknown"},
}

// ecsHints name where a value that is not allowed in a categorization
// field really lives in ECS data, for the values rule authors mix up.
var ecsHints = map[string]string{
	"connection_attempted": "Elastic Defend reports it in event.action",
	"connection_accepted":  "Elastic Defend reports it in event.action",
	"disconnect_received":  "Elastic Defend reports it in event.action",
	"exec":                 "Elastic Defend reports it in event.action",
	"fork":                 "Elastic Defend reports it in event.action",
	"lookup_requested":     "Elastic Defend reports it in event.action",
	// Auditbeat's system/process dataset: event.action "process_started"
	// with event.type "start" (x-pack/auditbeat/module/system/process,
	// eventAction.String and Type).
	"process_started": "Auditbeat's system module reports it in event.action (event.type \"start\")",
}

// ecsWarning is a finding that does not make a rule invalid.
type ecsWarning struct {
	offset int // byte offset in the query
	msg    string
}

// ecsWarnings checks every constant a query compares an ECS
// categorization field with (==, !=, in, in~, :, like without wildcards),
// and each stage's event category against the values of categoryField,
// the field Elasticsearch reads it from (the rule's
// event_category_override, e.g. event.type for "info where"; a field
// that is not an ECS categorization field is not checked).
func ecsWarnings(q *eql.Query, categoryField string) []ecsWarning {
	var ws []ecsWarning
	check := func(field string, lit eql.Expr, insensitive bool) {
		allowed, ok := ecsAllowed[field]
		l, isLit := lit.(*eql.Literal)
		if !ok || !isLit {
			return
		}
		s, isStr := l.Val.(string)
		if !isStr || strings.ContainsAny(s, "*?") {
			return
		}
		for _, a := range allowed {
			if s == a || (insensitive && strings.EqualFold(s, a)) {
				return
			}
		}
		msg := fmt.Sprintf("%q is not an ECS %s value, so this never matches ECS data (allowed: %s)", s, field, strings.Join(allowed, ", "))
		if hint, ok := ecsHints[strings.ToLower(s)]; ok {
			msg = fmt.Sprintf("%q is not an ECS %s value, so this never matches ECS data; %s", s, field, hint)
		}
		start, _ := l.Span()
		ws = append(ws, ecsWarning{start.Offset, msg})
	}
	fieldOf := func(e eql.Expr) string {
		if f, ok := e.(*eql.FieldRef); ok {
			return f.Name
		}
		return ""
	}
	var walk func(e eql.Expr)
	walk = func(e eql.Expr) {
		switch x := e.(type) {
		case *eql.Not:
			walk(x.X)
		case *eql.Binary:
			switch x.Op {
			case "and", "or":
				walk(x.L)
				walk(x.R)
			case "==", "!=":
				if f := fieldOf(x.L); f != "" {
					check(f, x.R, false)
				} else if f := fieldOf(x.R); f != "" {
					check(f, x.L, false)
				}
			}
		case *eql.In:
			if f := fieldOf(x.X); f != "" {
				for _, v := range x.List {
					check(f, v, x.Insensitive)
				}
			}
		case *eql.Match:
			if f := fieldOf(x.X); f != "" && (x.Op == ":" || strings.HasPrefix(x.Op, "like")) {
				for _, p := range x.Patterns {
					check(f, p, x.Op != "like")
				}
			}
		}
	}
	for _, st := range q.Stages() {
		if allowed, ok := ecsAllowed[categoryField]; ok && st.Category != "" && !slices.Contains(allowed, st.Category) {
			msg := fmt.Sprintf("%q is not an ECS %s value, so this stage never matches ECS data", st.Category, categoryField)
			if categoryField != eql.DefaultEventCategoryField {
				msg += " (the rule's event_category_override reads the category from " + categoryField + ")"
			}
			ws = append(ws, ecsWarning{st.Pos.Offset, msg})
		}
		for _, c := range st.Conds {
			walk(c.Expr)
		}
	}
	return ws
}
