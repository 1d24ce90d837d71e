package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/purpleharness/purpleharness/atomics"
	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/harness"
	"github.com/purpleharness/purpleharness/harness/report"
	"github.com/purpleharness/purpleharness/rules"
)

var diffCommand = command{"diff", "compare two versions of rules on a recorded run and on benign telemetry", runDiff}

const diffUsage = `usage: validate diff OLD NEW [--replay DIR] [--corpus FILE]... [flags]

OLD and NEW are rule files or folders, or git revisions of one
(origin/main:rules/, HEAD~1:rules/my_rule.toml). Each rule of OLD is
paired with its version in NEW by rule_id, then by file name (one rule
against one rule: those two).

  --replay DIR     a run directory (validate run --out): both versions are
                   judged on its recorded scenarios; per rule, the attack
                   scenarios gained and lost, the false positives added
                   and removed, with example detections
  --corpus FILE    recorded benign telemetry (NDJSON or a JSON array of
                   events, e.g. production data): the detections only one
                   version makes (repeatable)
  --suite PATH     the scenarios' expectations (default scenarios)
  --atomics DIR    the atomics the suite names (default atomics)
  --format F       text (default), markdown (a pull-request comment), json

Exit 1 when an attack scenario the old rules detected is no longer
detected; 0 otherwise.
`

func runDiff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate diff", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	replay := fs.String("replay", "", "")
	suite := fs.String("suite", "scenarios", "")
	atomicsDir := fs.String("atomics", "atomics", "")
	format := fs.String("format", "text", "")
	var corpus stringList
	fs.Var(&corpus, "corpus", "")
	paths, err := parseInterleaved(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, diffUsage)
		return nil
	case err == nil && len(paths) != 2:
		err = fmt.Errorf("diff: want OLD and NEW, got %d arguments", len(paths))
	case err == nil && *replay == "" && len(corpus) == 0:
		err = errors.New("diff: nothing to compare on: give --replay DIR, --corpus FILE or both")
	case err == nil && *format != "text" && *format != "markdown" && *format != "json":
		err = fmt.Errorf("diff: --format %q: want text, markdown or json", *format)
	}
	if err != nil {
		fmt.Fprint(stderr, diffUsage)
		return usageError(err)
	}
	var sides [2][]rules.Rule
	for i, spec := range paths {
		dir, cleanup, err := checkoutRules(ctx, spec)
		if err != nil {
			return usageError(fmt.Errorf("diff: %w", err))
		}
		defer cleanup()
		if sides[i], err = loadRules(dir); err != nil {
			return usageError(err)
		}
	}
	oldRules, newRules := sides[0], sides[1]
	pairs, removed, added := harness.PairRules(oldRules, newRules)
	type pair struct{ o, n int }
	var all []pair
	for _, p := range pairs {
		all = append(all, pair{p[0], p[1]})
	}
	for _, i := range removed {
		all = append(all, pair{i, -1})
	}
	for _, j := range added {
		all = append(all, pair{-1, j})
	}

	diffs := make([]harness.RuleDiff, len(all))
	if *replay != "" {
		rec, err := report.ReadRun(*replay)
		if err != nil {
			return usageError(fmt.Errorf("diff: --replay: %w", err))
		}
		suites, err := loadSuites(*suite)
		if err != nil {
			return usageError(err)
		}
		cfg := harness.Config{Suites: suites, Engine: harness.Embedded{}, Explainer: harness.Embedded{}, RulesSubset: true}
		if needsAtomics(suites) {
			cat, err := atomics.LoadDir(*atomicsDir)
			if err != nil {
				return usageError(err)
			}
			cfg.Atomics = &harness.Catalog{C: cat}
		}
		var res [2]*harness.Result
		for i, rs := range sides {
			cfg.Rules = rs
			if res[i], err = harness.Replay(ctx, cfg, rec, *replay); err != nil {
				var inErr *harness.InputError
				if errors.As(err, &inErr) {
					return usageError(err)
				}
				return err
			}
		}
		for k, p := range all {
			diffs[k] = harness.DiffResults(res[0], res[1], p.o, p.n)
		}
	} else {
		info := func(rs []rules.Rule, i int) *harness.RuleInfo {
			if i < 0 {
				return nil
			}
			return &harness.RuleInfo{Name: rs[i].Name, ID: rs[i].ID, File: rs[i].File, Query: rs[i].Query}
		}
		for k, p := range all {
			diffs[k] = harness.RuleDiff{Old: info(oldRules, p.o), New: info(newRules, p.n)}
		}
	}
	if len(corpus) > 0 {
		var docs []ecs.Document
		for _, f := range corpus {
			fh, err := os.Open(f)
			if err != nil {
				return usageError(fmt.Errorf("diff: --corpus: %w", err))
			}
			for d, err := range ecs.ReadEvents(f, fh) {
				if err != nil {
					fh.Close()
					return usageError(fmt.Errorf("diff: --corpus %w", err))
				}
				docs = append(docs, d)
			}
			fh.Close()
		}
		at := func(rs []rules.Rule, i int) *rules.Rule {
			if i < 0 {
				return nil
			}
			return &rs[i]
		}
		for k, p := range all {
			cd, err := harness.DiffCorpus(ctx, harness.Embedded{}, at(oldRules, p.o), at(newRules, p.n), docs)
			if err != nil {
				return err
			}
			diffs[k].Corpus = cd
		}
	}
	switch *format {
	case "markdown":
		err = report.DiffMarkdown(stdout, diffs)
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(map[string]any{"diffs": diffs, "summary": report.DiffHeadline(diffs), "lost": report.DiffLost(diffs)})
	default:
		err = report.DiffText(stdout, diffs)
	}
	if err != nil {
		return err
	}
	if report.DiffLost(diffs) > 0 {
		return silentExit(exitFailed)
	}
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// checkoutRules returns a path holding the rules spec names: spec itself
// when it exists, else REV:PATH extracted from git (git archive) into a
// temporary folder that cleanup removes.
func checkoutRules(ctx context.Context, spec string) (string, func(), error) {
	nop := func() {}
	if _, err := os.Stat(spec); err == nil {
		return spec, nop, nil
	}
	rev, path, ok := strings.Cut(spec, ":")
	if !ok || rev == "" {
		return "", nop, fmt.Errorf("%s: no such file or folder (a git revision is written REV:PATH)", spec)
	}
	path = strings.TrimSuffix(path, "/")
	if path == "" {
		path = "."
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "git", "archive", "--format=tar", rev, "--", path)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", nop, fmt.Errorf("%s: git archive: %v: %s", spec, err, strings.TrimSpace(errb.String()))
	}
	tmp, err := os.MkdirTemp("", "purpleharness-diff-")
	if err != nil {
		return "", nop, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			cleanup()
			return "", nop, fmt.Errorf("%s: %w", spec, err)
		}
		name := filepath.Join(tmp, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(name, tmp+string(filepath.Separator)) {
			continue // outside the folder: never written
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(name, 0o755)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(name), 0o755); err == nil {
				var data []byte
				if data, err = io.ReadAll(tr); err == nil {
					err = os.WriteFile(name, data, 0o644)
				}
			}
		}
		if err != nil {
			cleanup()
			return "", nop, fmt.Errorf("%s: %w", spec, err)
		}
	}
	return filepath.Join(tmp, filepath.FromSlash(path)), cleanup, nil
}
