package harness

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/scenarios"
)

// Replay judges cfg's rules on what an earlier run recorded: its
// telemetry (rec.Documents, in stream order), each scenario's slice of it,
// process tree and execution, and the telemetry gaps of its sensor and
// profile. Nothing is started: no servers, sensor or process, so it needs
// no root. Expectations come from cfg.Suites, so an edited expect: block
// is judged too; every recorded scenario must still be in a suite (a
// scenario added since was never run and is an error), and cfg.Only
// narrows the replay as it narrows a run. from names the run directory,
// for the reports.
func Replay(ctx context.Context, cfg Config, rec *Result, from string) (*Result, error) {
	if cfg.Profile == "" {
		cfg.Profile = rec.Profile
	}
	if err := Check(cfg); err != nil {
		return nil, err
	}
	cfg.defaults()
	if cfg.Profile != rec.Profile {
		return nil, &InputError{Problems: []string{fmt.Sprintf("replay: %s was recorded with profile %s, not %s: its telemetry is shaped like that source", from, rec.Profile, cfg.Profile)}}
	}
	res := &Result{
		RunID: rec.RunID, Start: rec.Start, End: rec.End, Host: rec.Host, Engine: cfg.Engine.Name(),
		Servers: rec.Servers, Profile: rec.Profile, Gaps: rec.Gaps, Lost: rec.Lost,
		Documents: rec.Documents, Evidence: rec.Evidence, ReplayedFrom: from,
	}
	var list []*scenarios.Scenario
	var windows []window
	for _, sr := range rec.Scenarios {
		if len(cfg.Only) > 0 && !contains(cfg.Only, sr.Name) {
			continue
		}
		var sc *scenarios.Scenario
		for _, s := range cfg.Suites {
			if sc = findScenario(s.Scenarios, sr.Name); sc != nil {
				break
			}
		}
		if sc == nil {
			return nil, &InputError{Problems: []string{fmt.Sprintf("replay: scenario %q of %s is in no suite given: its expectations are unknown", sr.Name, from)}}
		}
		first, last := sr.Telemetry[0], sr.Telemetry[1]
		if first < 0 || last < first || last > len(rec.Documents) {
			return nil, &InputError{Problems: []string{fmt.Sprintf("replay: scenario %q of %s: telemetry range [%d, %d) outside its %d documents", sr.Name, from, first, last, len(rec.Documents))}}
		}
		// The recorded scenario, without what evaluate recomputes.
		replayed := &ScenarioResult{Name: sc.Name, Description: sc.Description, Technique: sc.Technique, Tags: sc.Tags,
			Runs: sr.Runs, Exec: sr.Exec, Telemetry: sr.Telemetry}
		w := window{scenario: replayed, pids: map[int]bool{}, first: first, last: last, all: sc.Recorded != ""}
		for _, p := range sr.Processes {
			w.addRoot(p)
		}
		res.Scenarios = append(res.Scenarios, replayed)
		list = append(list, sc)
		windows = append(windows, w)
	}
	progress := cfg.Progress
	if progress == nil {
		progress = func(Progress) {}
	}
	if err := evaluate(ctx, cfg, res, list, windows, progress); err != nil {
		res.Incomplete = err.Error()
		return res, err
	}
	if res.End.IsZero() {
		res.End = time.Now().UTC()
	}
	return res, nil
}

// ScenarioDocuments returns the documents a recorded run attributed to
// scenario name: its process tree within its slice of the telemetry, the
// events its cells were judged on. Saved as NDJSON they are a recorded
// scenario (scenarios.Scenario.Recorded) another suite can judge, which is
// how telemetry of a live run (a real agent's) enters a suite.
func ScenarioDocuments(rec *Result, name string) ([]ecs.Document, error) {
	for _, sr := range rec.Scenarios {
		if sr.Name != name {
			continue
		}
		first, last := sr.Telemetry[0], sr.Telemetry[1]
		if first < 0 || last < first || last > len(rec.Documents) {
			return nil, fmt.Errorf("scenario %q: telemetry range [%d, %d) outside the run's %d documents", name, first, last, len(rec.Documents))
		}
		out := &ScenarioResult{Name: name}
		w := window{scenario: out, pids: map[int]bool{}, all: strings.HasPrefix(sr.Runs, recordedPrefix)}
		for _, p := range sr.Processes {
			w.addRoot(p)
		}
		w.attribute(rec.Documents[first:last])
		return out.docs, nil
	}
	var names []string
	for _, sr := range rec.Scenarios {
		names = append(names, sr.Name)
	}
	return nil, fmt.Errorf("no scenario %q in the run (it has %s)", name, strings.Join(names, ", "))
}
