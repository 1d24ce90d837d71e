// Package report renders a harness.Result in the formats detection
// engineers and CI consume: a console table, JUnit XML (one testcase per
// scenario × rule, the explanation as the failure message), report.json,
// summary.md for $GITHUB_STEP_SUMMARY, an ATT&CK Navigator layer, and the
// run's telemetry (NDJSON) and mail server transcripts. One file per format.
package report

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/purpleharness/purpleharness/harness"
)

// File names written into the output directory.
const (
	JSONFile        = "report.json"
	JUnitFile       = "junit.xml"
	SummaryFile     = "summary.md"
	NavigatorFile   = "navigator-layer.json"
	TelemetryFile   = "telemetry.ndjson"
	TranscriptsFile = "transcripts.ndjson"
	ServerLogFile   = "servers.log"
)

// WriteAll writes every file format into dir (created if needed) and
// returns the paths written.
func WriteAll(dir string, r *harness.Result) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("write reports: %w", err)
	}
	writers := []struct {
		name  string
		write func(io.Writer, *harness.Result) error
	}{
		{JSONFile, JSON},
		{JUnitFile, JUnit},
		{SummaryFile, Markdown},
		{NavigatorFile, Navigator},
		{TelemetryFile, Telemetry},
		{TranscriptsFile, Transcripts},
		{ServerLogFile, func(w io.Writer, r *harness.Result) error { _, err := io.WriteString(w, r.ServerLog); return err }},
		{ManifestFile, writeManifest},
	}
	var paths []string
	for _, w := range writers {
		p := filepath.Join(dir, w.name)
		if err := writeFile(p, r, w.write); err != nil {
			return paths, fmt.Errorf("write %s: %w", p, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func writeFile(path string, r *harness.Result, write func(io.Writer, *harness.Result) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if err := write(bw, r); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
