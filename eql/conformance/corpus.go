// Package conformance runs Elasticsearch's own EQL specification corpus
// (x-pack/plugin/eql/qa/common/src/main/resources: the .toml query files
// and the data/ folder) against any engine that implements Backend, and
// compares the answers exactly as Elasticsearch's QA harness
// (BaseEqlSpecTestCase) does: event ids in response order, and join keys
// compared as strings.
//
// The corpus is test input, not part of the project. Dir finds it through
// EQL_CONFORMANCE_DIR, defaulting to ../shared/eql-conformance relative to
// the module root. Load reads that folder as Elasticsearch keeps it, in
// either layout the folder has had (see Load), so a checkout of
// elastic/elasticsearch at the tag of the server under test works as is.
package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/prereq"
)

// ErrNoCorpus is returned by Dir, inside a *prereq.Missing, when the corpus
// is not at its default place. A corpus named by EQL_CONFORMANCE_DIR that
// is not there is a configuration error, not a missing corpus.
var ErrNoCorpus = errors.New("EQL conformance corpus not found")

// Dir returns the corpus directory: $EQL_CONFORMANCE_DIR, or
// ../shared/eql-conformance next to the module root (found by walking up
// from the working directory to go.mod).
func Dir() (string, error) {
	if d := os.Getenv("EQL_CONFORMANCE_DIR"); d != "" {
		if _, err := os.Stat(d); err != nil {
			return "", fmt.Errorf("EQL_CONFORMANCE_DIR=%s: %w", d, err)
		}
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "eql-conformance")
			if _, err := os.Stat(d); err != nil {
				return "", prereq.Errorf(prereq.Corpus, "%w: %s (set EQL_CONFORMANCE_DIR)", ErrNoCorpus, d)
			}
			return filepath.Clean(d), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", prereq.Errorf(prereq.Corpus, "%w: no go.mod above %s (set EQL_CONFORMANCE_DIR)", ErrNoCorpus, wd)
		}
		dir = parent
	}
}

// Dataset is one index of the corpus, ready to load.
type Dataset struct {
	// Index is the index name ("endgame-140").
	Index string
	// MappingFile and DataFile are where they were read from, relative
	// to the corpus folder ("data/endgame-140.mapping", "test_data.json").
	MappingFile, DataFile string
	// Mapping is the index mapping as JSON: comments stripped and the
	// [runtime_random_keyword_type] placeholder replaced by "keyword".
	Mapping []byte
	// Documents are the events in file (ingest) order, with the loader's
	// transforms applied (endgame timestamps to @timestamp).
	Documents []ecs.Document
}

// Query is one spec entry.
type Query struct {
	Suite string
	File  string
	Name  string
	Query string
	// Expected lists acceptable answers (several for non-deterministic
	// samples); each is the flattened event ids, -1 for a missing event.
	Expected [][]int64
	// JoinKeys are the expected flattened join keys as strings ("null"
	// for null); nil when the spec does not check them.
	JoinKeys []string
	// Size is the request size (50 when the spec gives none).
	Size                        int
	MaxSamplesPerKey            int
	AllowPartialSearchResults   *bool
	AllowPartialSequenceResults *bool
	ExpectShardFailures         *bool
	// Index is the index expression searched ("sample1,sample2,sample3").
	Index string
	// Tiebreaker is the request's tiebreaker field ("" for none); IDField
	// names the _source field holding an event's id.
	Tiebreaker string
	IDField    string
}

// Suite is a group of query files run against the same indices.
type Suite struct {
	Name    string
	Indices []string
	Queries []Query
}

// Corpus is the loaded specification.
type Corpus struct {
	Dir      string
	Suites   []Suite
	Datasets map[string]Dataset
	// Missing lists the spec files of the suites below that the folder
	// does not hold (an Elasticsearch version older than the suite); their
	// queries are not run.
	Missing []string
}

type suiteDef struct {
	name       string
	files      []string
	index      string
	tiebreaker string
	idField    string
}

// The suites as Elasticsearch's test classes define them.
var suiteDefs = []suiteDef{
	{"main", []string{"test_queries.toml", "additional_test_queries.toml", "test_queries_date.toml"}, "endgame-140", "serial_event_id", "serial_event_id"},
	{"nanos", []string{"test_queries_date_nanos.toml"}, "endgame-140-nanos", "serial_event_id", "serial_event_id"},
	{"extra", []string{"test_extra.toml"}, "extra", "sequence", "sequence"},
	{"missing events", []string{"test_missing_events.toml"}, "missing-events", "sequence", "sequence"},
	{"sample", []string{"test_sample.toml"}, "sample1,sample2,sample3", "", "id"},
	{"sample multi", []string{"test_sample_multi.toml"}, "sample-multi", "", "id"},
	{"failing shards", []string{"test_failing_shards.toml"}, "endgame-140,endgame-shard-failures", "serial_event_id", "serial_event_id"},
}

// Load reads the corpus from dir: the query files of every suite that
// dir holds, and the datasets those suites search. A suite whose query
// files are all absent is left out and its files listed in Missing; a
// folder holding none of them is an error.
//
// Datasets are read from either layout of Elasticsearch's
// x-pack/plugin/eql/qa/common/src/main/resources (DataLoader.java):
// data/<index>.mapping with data/<index>.data for every index (the
// layout of 8.x and 9.x, and of ../shared/eql-conformance), or the
// earlier test_data.json with mapping-default.json for endgame-140 and
// mapping-date_nanos.json with data/eql_date_nanos.data for its nanosecond
// twin.
func Load(dir string) (*Corpus, error) {
	c := &Corpus{Dir: dir, Datasets: map[string]Dataset{}}
	for _, sd := range suiteDefs {
		s := Suite{Name: sd.name, Indices: strings.Split(sd.index, ",")}
		present := 0
		for _, f := range sd.files {
			path := filepath.Join(dir, f)
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				c.Missing = append(c.Missing, f)
				continue
			}
			present++
			qs, err := loadQueries(path)
			if err != nil {
				return nil, err
			}
			for i := range qs {
				qs[i].Suite, qs[i].File = sd.name, f
				qs[i].Index, qs[i].Tiebreaker, qs[i].IDField = sd.index, sd.tiebreaker, sd.idField
			}
			s.Queries = append(s.Queries, qs...)
		}
		if present == 0 {
			continue
		}
		for _, idx := range s.Indices {
			if _, ok := c.Datasets[idx]; ok {
				continue
			}
			ds, err := loadDataset(dir, idx)
			if err != nil {
				return nil, err
			}
			c.Datasets[idx] = ds
		}
		c.Suites = append(c.Suites, s)
	}
	if len(c.Suites) == 0 {
		return nil, fmt.Errorf("%w: %s holds none of Elasticsearch's EQL spec files (%s)", ErrNoCorpus, dir, strings.Join(c.Missing, ", "))
	}
	return c, nil
}

var bareNull = regexp.MustCompile(`([\[,]\s*)null(\s*[\],])`)

// loadQueries parses a spec file. test_extra.toml holds a bare null inside
// arrays, which TOML rejects: outside of query strings it is read as "null".
func loadQueries(path string) ([]Query, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load spec: %w", err)
	}
	var b strings.Builder
	inStr := false
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if !inStr && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			for bareNull.MatchString(line) {
				line = bareNull.ReplaceAllString(line, `$1"null"$2`)
			}
		}
		if strings.Count(line, "'''")%2 == 1 {
			inStr = !inStr
		}
		b.WriteString(line)
	}
	var raw struct {
		Queries []map[string]any `toml:"queries"`
	}
	if _, err := toml.Decode(b.String(), &raw); err != nil {
		return nil, fmt.Errorf("load spec %s: %w", path, err)
	}
	var out []Query
	for i, m := range raw.Queries {
		q := Query{Size: 50}
		q.Name, _ = m["name"].(string)
		q.Query, _ = m["query"].(string)
		if q.Name == "" || q.Query == "" {
			return nil, fmt.Errorf("load spec %s: query #%d lacks name or query", path, i+1)
		}
		exp, err := expectedIDs(m["expected_event_ids"])
		if err != nil {
			return nil, fmt.Errorf("load spec %s: %s: %w", path, q.Name, err)
		}
		q.Expected = exp
		if jk, ok := m["join_keys"].([]any); ok {
			q.JoinKeys = make([]string, 0, len(jk))
			for _, k := range jk {
				q.JoinKeys = append(q.JoinKeys, fmt.Sprint(k))
			}
		}
		if v, ok := m["size"].(int64); ok {
			q.Size = int(v)
		}
		if v, ok := m["max_samples_per_key"].(int64); ok {
			q.MaxSamplesPerKey = int(v)
		}
		q.AllowPartialSearchResults = boolPtr(m["allow_partial_search_results"])
		q.AllowPartialSequenceResults = boolPtr(m["allow_partial_sequence_results"])
		q.ExpectShardFailures = boolPtr(m["expect_shard_failures"])
		out = append(out, q)
	}
	return out, nil
}

func boolPtr(v any) *bool {
	if b, ok := v.(bool); ok {
		return &b
	}
	return nil
}

func expectedIDs(v any) ([][]int64, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("expected_event_ids is not a list")
	}
	if len(list) == 0 {
		return [][]int64{{}}, nil
	}
	if _, nested := list[0].([]any); nested {
		var out [][]int64
		for _, e := range list {
			ids, err := expectedIDs(e)
			if err != nil {
				return nil, err
			}
			out = append(out, ids[0])
		}
		return out, nil
	}
	ids := make([]int64, 0, len(list))
	for _, e := range list {
		n, ok := e.(int64)
		if !ok {
			return nil, fmt.Errorf("expected_event_ids holds %v", e)
		}
		ids = append(ids, n)
	}
	return [][]int64{ids}, nil
}

// datasetLayouts lists, for index, where each layout of the corpus keeps
// its mapping and its data, newest first. endgame-140-nanos reads
// endgame-140's data (DataLoader's load(TEST_NANOS_INDEX, TEST_INDEX)).
func datasetLayouts(index string) [][2]string {
	data := index
	if index == "endgame-140-nanos" {
		data = "endgame-140"
	}
	out := [][2]string{{"data/" + index + ".mapping", "data/" + data + ".data"}}
	switch index {
	case "endgame-140":
		out = append(out, [2]string{"mapping-default.json", "test_data.json"})
	case "endgame-140-nanos":
		out = append(out, [2]string{"mapping-date_nanos.json", "data/eql_date_nanos.data"})
	}
	return out
}

// loadDataset reads index's mapping and data as Elasticsearch's DataLoader
// does, from the first layout whose two files dir holds.
func loadDataset(dir, index string) (Dataset, error) {
	ds := Dataset{Index: index}
	var tried []string
	for _, l := range datasetLayouts(index) {
		_, merr := os.Stat(filepath.Join(dir, l[0]))
		_, derr := os.Stat(filepath.Join(dir, l[1]))
		if merr == nil && derr == nil {
			ds.MappingFile, ds.DataFile = l[0], l[1]
			break
		}
		tried = append(tried, l[0]+" with "+l[1])
	}
	if ds.MappingFile == "" {
		return ds, fmt.Errorf("load dataset %s: %s holds neither %s", index, dir, strings.Join(tried, " nor "))
	}
	mapping, err := os.ReadFile(filepath.Join(dir, ds.MappingFile))
	if err != nil {
		return ds, fmt.Errorf("load dataset: %w", err)
	}
	var mb bytes.Buffer
	for _, line := range strings.Split(string(mapping), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		mb.WriteString(strings.ReplaceAll(line, "[runtime_random_keyword_type]", "keyword"))
		mb.WriteString("\n")
	}
	ds.Mapping = mb.Bytes()
	data, err := os.ReadFile(filepath.Join(dir, ds.DataFile))
	if err != nil {
		return ds, fmt.Errorf("load dataset: %w", err)
	}
	var clean bytes.Buffer
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "//") {
			continue
		}
		clean.WriteString(line)
		clean.WriteString("\n")
	}
	dec := json.NewDecoder(&clean)
	dec.UseNumber()
	var docs []map[string]any
	if err := dec.Decode(&docs); err != nil {
		return ds, fmt.Errorf("load dataset %s (%s): %w", index, ds.DataFile, err)
	}
	for _, d := range docs {
		doc := ecs.Document(d)
		// Endgame data holds a Windows FILETIME in timestamp, which
		// DataLoader turns into @timestamp; data that already has an
		// @timestamp (eql_date_nanos.data) is indexed as it is.
		_, hasTS := doc["@timestamp"]
		switch {
		case hasTS:
		case index == "endgame-140", index == "endgame-shard-failures":
			if err := toUnixMillis(doc); err != nil {
				return ds, fmt.Errorf("load dataset %s: %w", index, err)
			}
		case index == "endgame-140-nanos":
			if err := toUnixNanos(doc); err != nil {
				return ds, fmt.Errorf("load dataset %s: %w", index, err)
			}
		}
		ds.Documents = append(ds.Documents, doc)
	}
	return ds, nil
}

// Windows FILETIME (100 ns ticks since 1601) to epoch milliseconds.
const filetimeEpochDiffMillis = 11644473600000

func toUnixMillis(doc ecs.Document) error {
	n, ok := doc["timestamp"].(json.Number)
	if !ok {
		return fmt.Errorf("event without a numeric timestamp")
	}
	ft, err := n.Int64()
	if err != nil {
		return err
	}
	doc["@timestamp"] = json.Number(fmt.Sprint(ft/10000 - filetimeEpochDiffMillis))
	return nil
}

// toUnixNanos reads the FILETIME value as nanoseconds since the epoch:
// @timestamp becomes "millis.fraction" (fraction dropped when zero) and
// timestamp becomes milliseconds, as DataLoader.timestampToUnixNanos does.
func toUnixNanos(doc ecs.Document) error {
	n, ok := doc["timestamp"].(json.Number)
	if !ok {
		return fmt.Errorf("event without a numeric timestamp")
	}
	s := n.String()
	if len(s) <= 12 {
		return fmt.Errorf("timestamp %s too short", s)
	}
	millis, frac := s[:12], s[12:]
	if frac == "000000" {
		doc["@timestamp"] = millis
	} else {
		doc["@timestamp"] = millis + "." + frac
	}
	v, err := n.Int64()
	if err != nil {
		return err
	}
	doc["timestamp"] = json.Number(fmt.Sprint(v / 1000000))
	return nil
}

// Names returns the dataset names, sorted.
func (c *Corpus) Names() []string {
	var out []string
	for k := range c.Datasets {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
