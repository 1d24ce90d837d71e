// Package conformance runs Elasticsearch's own EQL specification corpus
// (x-pack/plugin/eql/qa/common/src/main/resources: the .toml query files
// and the data/ folder) against any engine that implements Backend, and
// compares the answers exactly as Elasticsearch's QA harness
// (BaseEqlSpecTestCase) does: event ids in response order, and join keys
// compared as strings.
//
// The corpus is test input, not part of the project. Dir finds it through
// EQL_CONFORMANCE_DIR, defaulting to ../shared/eql-conformance relative to
// the module root.
package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/purpleharness/purpleharness/ecs"
)

// ErrNoCorpus is returned by Dir when the corpus is not on disk.
var ErrNoCorpus = errors.New("EQL conformance corpus not found")

// Dir returns the corpus directory: $EQL_CONFORMANCE_DIR, or
// ../shared/eql-conformance next to the module root (found by walking up
// from the working directory to go.mod).
func Dir() (string, error) {
	if d := os.Getenv("EQL_CONFORMANCE_DIR"); d != "" {
		if _, err := os.Stat(d); err != nil {
			return "", fmt.Errorf("%w: EQL_CONFORMANCE_DIR=%s: %v", ErrNoCorpus, d, err)
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
				return "", fmt.Errorf("%w: %s (set EQL_CONFORMANCE_DIR)", ErrNoCorpus, d)
			}
			return filepath.Clean(d), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: no go.mod above %s (set EQL_CONFORMANCE_DIR)", ErrNoCorpus, wd)
		}
		dir = parent
	}
}

// Dataset is one index of the corpus, ready to load.
type Dataset struct {
	// Index is the index name ("endgame-140").
	Index string
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

// Load reads the whole corpus from dir.
func Load(dir string) (*Corpus, error) {
	c := &Corpus{Dir: dir, Datasets: map[string]Dataset{}}
	for _, sd := range suiteDefs {
		s := Suite{Name: sd.name, Indices: strings.Split(sd.index, ",")}
		for _, f := range sd.files {
			qs, err := loadQueries(filepath.Join(dir, f))
			if err != nil {
				return nil, err
			}
			for i := range qs {
				qs[i].Suite, qs[i].File = sd.name, f
				qs[i].Index, qs[i].Tiebreaker, qs[i].IDField = sd.index, sd.tiebreaker, sd.idField
			}
			s.Queries = append(s.Queries, qs...)
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

// loadDataset reads index's mapping and data as Elasticsearch's DataLoader
// does.
func loadDataset(dir, index string) (Dataset, error) {
	ds := Dataset{Index: index}
	mapping, err := os.ReadFile(filepath.Join(dir, "data", index+".mapping"))
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
	dataName := index
	if index == "endgame-140-nanos" {
		dataName = "endgame-140"
	}
	data, err := os.ReadFile(filepath.Join(dir, "data", dataName+".data"))
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
		return ds, fmt.Errorf("load dataset %s: %w", index, err)
	}
	for _, d := range docs {
		doc := ecs.Document(d)
		switch index {
		case "endgame-140", "endgame-shard-failures":
			if err := toUnixMillis(doc); err != nil {
				return ds, fmt.Errorf("load dataset %s: %w", index, err)
			}
		case "endgame-140-nanos":
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
