package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/purpleharness/purpleharness/harness"
)

// ManifestFile names the run directory's manifest: the format version of
// the files WriteAll wrote, so a later reader of the directory (a replay)
// can tell a directory it understands from an older or newer one.
const ManifestFile = "manifest.json"

// ManifestFormat is the version of the run directory's layout that this
// build writes and reads. Bump it when a file a reader relies on changes
// shape.
const ManifestFormat = 2

// Manifest is the content of manifest.json.
type Manifest struct {
	Format int `json:"format"`
	// Files maps each role to the file in the directory that holds it.
	Files map[string]string `json:"files"`
}

func newManifest() Manifest {
	return Manifest{Format: ManifestFormat, Files: map[string]string{
		"report":      JSONFile,
		"telemetry":   TelemetryFile,
		"transcripts": TranscriptsFile,
	}}
}

func writeManifest(w io.Writer, _ *harness.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(newManifest())
}

// ReadManifest reads dir's manifest.json. A directory without one, or one
// of another format version, is an error that says which and what to do.
func ReadManifest(dir string) (Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, fmt.Errorf("%s: no %s: not a run directory written by validate run (or written before run directories had a manifest)", dir, ManifestFile)
	}
	if err != nil {
		return Manifest{}, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case m.Format < ManifestFormat:
		return Manifest{}, fmt.Errorf("%s: format %d is older than the format %d this build reads: re-record the run with this build's validate run", path, m.Format, ManifestFormat)
	case m.Format > ManifestFormat:
		return Manifest{}, fmt.Errorf("%s: format %d is newer than the format %d this build reads: use the validate build that wrote it, or a newer one", path, m.Format, ManifestFormat)
	}
	return m, nil
}
