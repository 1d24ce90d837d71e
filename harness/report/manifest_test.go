package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestManifestRoundTrip reads back the manifest WriteAll writes, and gives
// a clear error for a directory without one and for older and newer formats.
func TestManifestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := WriteAll(dir, loadResult(t)); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != ManifestFormat || m.Files["telemetry"] != TelemetryFile {
		t.Errorf("manifest = %+v", m)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"format": 1}`, "older than the format 2"},
		{`{"format": 3}`, "newer than the format 2"},
		{`{"format": `, "unexpected end of JSON input"},
	} {
		if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadManifest(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.body, err, tc.want)
		}
	}
	if _, err := ReadManifest(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no manifest.json") {
		t.Errorf("empty dir: err = %v", err)
	}
}
