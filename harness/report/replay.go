package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/harness"
)

// ReadRun reads what harness.Replay needs from a run directory written by
// WriteAll: the run, its scenarios (executions, process trees, telemetry
// slices) and telemetry gaps from report.json, and its documents from
// telemetry.ndjson. A directory of another manifest format, an incomplete
// run, or a replayed one is an error that says so.
func ReadRun(dir string) (*harness.Result, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	reportPath := filepath.Join(dir, m.Files["report"])
	data, err := os.ReadFile(reportPath)
	if err != nil {
		return nil, err
	}
	var res harness.Result
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("%s: %w", reportPath, err)
	}
	switch {
	case res.Incomplete != "":
		return nil, fmt.Errorf("%s: the run stopped early (%s): its scenarios were not all recorded", reportPath, res.Incomplete)
	case res.ReplayedFrom != "":
		return nil, fmt.Errorf("%s: a replay of %s, not a recorded run: replay that directory instead", reportPath, res.ReplayedFrom)
	}
	telemetryPath := filepath.Join(dir, m.Files["telemetry"])
	f, err := os.Open(telemetryPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	for d, err := range ecs.ReadEvents(telemetryPath, f) {
		if err != nil {
			return nil, err
		}
		res.Documents = append(res.Documents, d)
	}
	// The mail servers' transcripts go with the run into its replay's
	// reports, unread.
	if data, err := os.ReadFile(filepath.Join(dir, m.Files["transcripts"])); err == nil {
		for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			if len(line) > 0 {
				res.Evidence = append(res.Evidence, json.RawMessage(line))
			}
		}
	}
	if len(res.Scenarios) == 0 {
		return nil, errors.New(reportPath + ": no scenarios recorded")
	}
	return &res, nil
}
