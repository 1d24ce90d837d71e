package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestLoadLayouts loads the two layouts Elasticsearch's EQL QA resources
// have had (DataLoader.java): data/<index>.mapping with data/<index>.data,
// and the earlier test_data.json with mapping-default.json. The fixtures
// are small corpora in each layout; both run on the embedded engine with
// every answer as the spec says, which needs the datasets' FILETIME
// timestamps turned into @timestamp as DataLoader does.
func TestLoadLayouts(t *testing.T) {
	tests := []struct {
		dir          string
		suites       []string
		files        map[string][2]string // index: mapping file, data file
		missingFirst string
	}{
		{"testdata/current", []string{"main", "nanos"}, map[string][2]string{
			"endgame-140":       {"data/endgame-140.mapping", "data/endgame-140.data"},
			"endgame-140-nanos": {"data/endgame-140-nanos.mapping", "data/endgame-140.data"},
		}, "additional_test_queries.toml"},
		{"testdata/legacy", []string{"main"}, map[string][2]string{
			"endgame-140": {"mapping-default.json", "test_data.json"},
		}, "additional_test_queries.toml"},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			c, err := Load(tc.dir)
			if err != nil {
				t.Fatalf("Load(%s): %v", tc.dir, err)
			}
			var suites []string
			for _, s := range c.Suites {
				suites = append(suites, s.Name)
			}
			if !reflect.DeepEqual(suites, tc.suites) {
				t.Errorf("suites = %v, want %v", suites, tc.suites)
			}
			files := map[string][2]string{}
			for name, ds := range c.Datasets {
				files[name] = [2]string{ds.MappingFile, ds.DataFile}
			}
			if !reflect.DeepEqual(files, tc.files) {
				t.Errorf("dataset files = %v, want %v", files, tc.files)
			}
			if len(c.Missing) == 0 || c.Missing[0] != tc.missingFirst {
				t.Errorf("Missing = %v, want it to start with %s", c.Missing, tc.missingFirst)
			}
			// DataLoader.timestampToUnixMillis: FILETIME / 10^4 - 11644473600000.
			if ts := c.Datasets["endgame-140"].Documents[0]["@timestamp"]; ts != json.Number("1504126051000") {
				t.Errorf("endgame-140 event 1 @timestamp = %#v, want 1504126051000", ts)
			}
			res, err := c.Run(context.Background(), NewEmbedded(), Options{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if r.Passed != r.Total || r.Total == 0 {
					t.Errorf("suite %s: %d/%d passed", r.Suite, r.Passed, r.Total)
				}
				for _, f := range r.Failures {
					t.Errorf("%s/%s: %s", f.Query.Suite, f.Query.Name, f.Diff)
				}
			}
		})
	}
	// DataLoader.timestampToUnixNanos keeps the sub-millisecond digits.
	c, err := Load("testdata/current")
	if err != nil {
		t.Fatal(err)
	}
	if ts := c.Datasets["endgame-140-nanos"].Documents[3]["@timestamp"]; ts != "131485996530.000123" {
		t.Errorf("endgame-140-nanos event 4 @timestamp = %#v, want 131485996530.000123", ts)
	}
}

// TestLoadErrors: a folder without any spec file, and a suite whose
// dataset is in neither layout, are errors that say what was looked for.
func TestLoadErrors(t *testing.T) {
	_, err := Load(t.TempDir())
	if !errors.Is(err, ErrNoCorpus) {
		t.Errorf("Load(empty folder) = %v, want ErrNoCorpus", err)
	}
	dir := t.TempDir()
	q, err := os.ReadFile("testdata/legacy/test_queries.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test_queries.toml"), q, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(dir)
	want := "load dataset endgame-140: " + dir + " holds neither data/endgame-140.mapping with data/endgame-140.data nor mapping-default.json with test_data.json"
	if err == nil || err.Error() != want {
		t.Errorf("Load(queries without data) = %v\nwant %s", err, want)
	}
}
