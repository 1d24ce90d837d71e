package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"

	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/rules"
)

const lintUsage = `usage: validate lint [flags] FILE|DIR...

Parse and verify detection rules: Elastic detection-rules .toml
([rule] language = "eql", query), Kibana saved-object .ndjson exports (one
rule per line) and raw .eql files. A directory is searched for such files.
Prints file:line:col: message for every problem; rules in other languages
are reported as skipped. Exit 0 when every rule is valid, 1 otherwise.

flags:
  --mapping FILE   an index mapping (JSON, as GET INDEX/_mapping or the
                   "mappings" of a template): fields the rule uses that the
                   mapping lacks are errors, as Elasticsearch reports them
  --quiet          print problems only, no skipped notes or summary
`

var lintCommand = command{"lint", "parse and verify rule files (.toml, .ndjson, .eql)", runLint}

func runLint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate lint", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	mappingFile := fs.String("mapping", "", "")
	quiet := fs.Bool("quiet", false, "")
	paths, err := parseInterleaved(fs, args)
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
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		lintPath(p, opts, &sum, stdout, *quiet)
	}
	if !*quiet {
		fmt.Fprintf(stderr, "validate lint: %s\n", sum)
	}
	if sum.problems > 0 {
		return silentExit(exitFailed)
	}
	return nil
}

type lintSummary struct {
	valid, skipped, problems int
}

func (s lintSummary) String() string {
	return fmt.Sprintf("%d valid EQL %s, %d skipped, %d %s",
		s.valid, plural(s.valid, "rule", "rules"), s.skipped, s.problems, plural(s.problems, "problem", "problems"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// A finding is one line of lint output, sortable by position.
type finding struct {
	pos rules.Pos
	msg string
}

func (f finding) String() string { return f.pos.String() + ": " + f.msg }

// lintPath loads the rules of one file or directory, checks each, and
// prints the findings in file and position order.
func lintPath(path string, opts []eql.Option, sum *lintSummary, out io.Writer, quiet bool) {
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
			found = append(found, finding{re.Pos, re.Msg})
		} else if pe := (*fs.PathError)(nil); errors.As(e, &pe) {
			found = append(found, finding{rules.Pos{File: pe.Path}, pe.Err.Error()})
		} else {
			found = append(found, finding{rules.Pos{File: path}, e.Error()})
		}
	}
	for i := range rs {
		r := &rs[i]
		if reason := r.Skipped(); reason != "" {
			sum.skipped++
			if !quiet {
				found = append(found, finding{rules.Pos{File: r.File, Line: r.Line}, "skipped: " + reason})
			}
			continue
		}
		if f, bad := lintRule(r, opts); bad {
			sum.problems++
			found = append(found, f)
			continue
		}
		sum.valid++
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
	for _, f := range found {
		fmt.Fprintln(out, f)
	}
}

// lintRule parses and verifies one EQL rule and returns its finding,
// positioned in the rule file.
func lintRule(r *rules.Rule, opts []eql.Option) (finding, bool) {
	q, err := eql.Parse(r.Query)
	if err == nil {
		_, err = eql.Compile(q, opts...)
	}
	if err == nil {
		return finding{}, false
	}
	var qe *eql.Error
	if errors.As(err, &qe) {
		return finding{r.PosAt(qe.Offset), qe.Msg}, true
	}
	return finding{r.QueryPos(), err.Error()}, true
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
