package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/rules"
)

const queryUsage = `usage: validate query --events FILE [flags] QUERY
       validate query --events FILE [flags] --rule RULEFILE

Run an EQL query with the embedded engine over exported events and print
the result exactly as Elasticsearch's _eql/search would answer it.
FILE holds NDJSON (one event per line), a JSON array, or Elasticsearch
_search responses (hits.hits[]._source; the pages of a scroll or PIT one
after the other), as is or compressed (.gz, .zst); - reads stdin.
A bad query exits 2 with line:col: message on stderr. On a terminal,
stderr shows the reading's progress (events, events/s, share and time left).

flags:
  --events FILE                 events to search (required); repeat it or give a glob
                                (--events 'export-*.ndjson.gz') to search several
                                files as one stream, in the order given
  --rule RULEFILE               take the query from a rule file (.toml, .ndjson, .json,
                                .eql holding one EQL rule); errors at file:line:col;
                                the rule's event_category_override, timestamp_field
                                and tiebreaker_field apply unless given as flags
  --mapping FILE                the index's mapping (JSON): a mappings body, an index or
                                component template, or GET _mapping, _index_template or
                                _component_template output. FILE's events are mapped into
                                it as Elasticsearch indexes them (dynamic mapping, dynamic
                                templates, dynamic false/strict/runtime); a field it does not
                                map is an error, as in Elasticsearch
  --index NAME                  index name reported in each hit (default: FILE's base name)
  --timestamp-field F           default @timestamp
  --tiebreaker-field F          default none
  --event-category-field F      default event.category
  --size N                      default 10 (0: no hits, only the total)
  --result-position head|tail   default tail
  --max-samples-per-key N       default 1
  --sorted                      FILE is already in timestamp (then tiebreaker) order:
                                stream it, memory bounded by open sequences; an event
                                out of order is an error
  --memory SIZE                 unsorted input: the events a filter matches are held
                                for the sort up to SIZE (default 384MiB; units B, KiB,
                                MiB, GiB, KB, MB, GB), then sorted into a temporary file
                                (in $TMPDIR, unlinked at once) and merged back; the
                                answer is the same. Open sequences are not counted.
                                A held event keeps its fields' values in memory and,
                                for the hits, where its JSON lies in FILE (a copy in a
                                second temporary file for compressed input or a pipe)
  --compact                     one-line JSON instead of indented
`

var queryCommand = command{"query", "run an EQL query over exported events (embedded engine)", runQuery}

func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate query", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var req eql.Request
	var events stringList
	fs.Var(&events, "events", "")
	mappingFile := fs.String("mapping", "", "")
	index := fs.String("index", "", "")
	compact := fs.Bool("compact", false, "")
	sorted := fs.Bool("sorted", false, "")
	memory := byteSize(384 << 20)
	fs.Var(&memory, "memory", "")
	ruleFile := fs.String("rule", "", "")
	size := fs.Int("size", eql.DefaultSize, "")
	fs.StringVar(&req.TimestampField, "timestamp-field", eql.DefaultTimestampField, "")
	fs.StringVar(&req.TiebreakerField, "tiebreaker-field", "", "")
	fs.StringVar(&req.EventCategoryField, "event-category-field", eql.DefaultEventCategoryField, "")
	fs.StringVar(&req.ResultPosition, "result-position", eql.DefaultResultPosition, "")
	fs.IntVar(&req.MaxSamplesPerKey, "max-samples-per-key", eql.DefaultMaxSamplesPerKey, "")
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, queryUsage)
		return nil
	}
	if err == nil && *ruleFile != "" {
		// The rule file gives the query: QUERY must not be given too.
		if len(pos) > 0 {
			err = fmt.Errorf("query: give QUERY or --rule FILE, not both")
		} else {
			pos = []string{""}
		}
	}
	if err == nil {
		err = checkQueryArgs(pos, strings.Join(events, ","), *size, req)
	}
	if err != nil {
		fmt.Fprint(stderr, queryUsage)
		return usageError(err)
	}
	req.Query = pos[0]
	var rule *rules.Rule
	if *ruleFile != "" {
		if rule, err = loadOneRule(*ruleFile); err != nil {
			return usageError(fmt.Errorf("query: %w", err))
		}
		// The rule's own request parameters apply (as Kibana sends them)
		// unless a flag names the field explicitly.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		rr := rule.Request()
		req.Query = rr.Query
		if rr.EventCategoryField != "" && !set["event-category-field"] {
			req.EventCategoryField = rr.EventCategoryField
		}
		if rr.TimestampField != "" && !set["timestamp-field"] {
			req.TimestampField = rr.TimestampField
		}
		if rr.TiebreakerField != "" && !set["tiebreaker-field"] {
			req.TiebreakerField = rr.TiebreakerField
		}
	}
	req.Size = *size
	if req.Size == 0 {
		req.Size = -1 // eql.Request: negative asks for no hits (size=0)
	}

	// A bad query is reported before any event is read.
	q, err := eql.Parse(req.Query)
	if err != nil {
		return ruleQueryError(rule, err, stderr)
	}
	var opts []eql.Option
	files, err := expandEvents(events)
	if err != nil {
		return usageError(fmt.Errorf("query: %w", err))
	}
	stdin, err := stdinReplay(files, *mappingFile != "")
	if err != nil {
		return usageError(fmt.Errorf("query: %w", err))
	}
	var mapping *eql.Mapping
	if *mappingFile != "" {
		data, err := os.ReadFile(*mappingFile)
		if err != nil {
			return usageError(fmt.Errorf("query: %w", err))
		}
		m, err := eql.ParseMapping(data)
		if err != nil {
			return usageError(fmt.Errorf("query: mapping %s: %w", *mappingFile, err))
		}
		if c := m.ComposedOf(); len(c) > 0 {
			fmt.Fprintf(stderr, "validate query: warning: mapping %s composes component templates %s, whose mappings are not in it (pass their GET _component_template output merged in, or the index's GET _mapping)\n", *mappingFile, strings.Join(c, ", "))
		}
		if err := indexEvents(m, files, stdin); err != nil {
			return usageError(fmt.Errorf("query: %w", err))
		}
		opts = append(opts, eql.WithMapping(m))
		mapping = m
	}
	name := *index
	if name == "" {
		name = indexName(files[0])
	}
	opts = append(opts, eql.WithIndex(name))
	if *sorted {
		opts = append(opts, eql.Sorted())
	}

	// Each event is decoded only on the fields the search reads (through
	// the mapping's aliases and sub-fields), unless a runtime field's
	// script may read any; hits get their whole event back afterwards.
	// PURPLEHARNESS_FULL_DECODE=1 decodes everything (the reference).
	fields, project := eql.SearchFields(q, req, mapping)
	project = project && os.Getenv("PURPLEHARNESS_FULL_DECODE") == ""
	var store *ecs.SourceStore
	if project {
		// The events kept to be returned (open sequences, results) keep
		// their JSON on disk: where it lies in the file they were read
		// from when that is a regular, uncompressed one, else in an
		// unlinked temporary file.
		if store, err = ecs.NewSourceStore(""); err != nil {
			return fmt.Errorf("query: %w", err)
		}
		defer store.Close()
	}
	newProjection := func() *ecs.Projection {
		p := ecs.NewProjection(fields)
		p.StoreSources(store)
		switch {
		case req.Size < 0:
			p.KeepValuesOnly() // no event is returned
		case !*sorted:
			// The events held for the sort keep their JSON on disk
			// from the start: few of them become hits.
			p.StashSources()
		}
		return p
	}
	if !*sorted {
		spill := eql.Spill{Budget: int64(memory), Encode: spillEncode, Decode: func(raw []byte) (eql.Fields, error) { return ecs.Decode(raw) }}
		if project {
			p := newProjection()
			spill.Encode, spill.Decode = p.EncodeSpilled, p.DecodeSpilled
		}
		opts = append(opts, eql.WithSpill(spill))
	}
	// The readers on every core drop the events no filter of the query
	// can match, so that the search's own goroutine does not read them at
	// all (and a projected one is not even kept). They cannot change the
	// answer, sorted or not; with --sorted their order goes unchecked.
	wanted, err := eql.Wanted(req, opts...)
	if err != nil {
		return ruleQueryError(rule, err, stderr)
	}
	// The filters the readers found matching are not evaluated again.
	opts = append(opts, wanted.Marks())
	// A projected event read from a regular file keeps where its JSON
	// lies there (input, its number in the store), not a copy of it.
	newDecode := func(input int) func() func([]byte, int64) (eql.Fields, error) {
		return func() func([]byte, int64) (eql.Fields, error) {
			test := wanted.Test()
			if project {
				p := newProjection()
				p.ReadsFrom(input)
				return func(raw []byte, off int64) (eql.Fields, error) {
					f, ok, err := p.ProjectWantedAt(raw, off, test)
					if err == nil && !ok {
						return eql.Dropped, nil
					}
					return f, err
				}
			}
			return func(raw []byte, _ int64) (eql.Fields, error) {
				d, err := ecs.Decode(raw)
				if err == nil && !test(d) {
					return eql.Dropped, nil
				}
				return d, err
			}
		}
	}
	// A progress line on a terminal, for searches that take a while.
	var progress *inputProgress
	stopProgress := func() {}
	if isTerminal(stderr) {
		progress = newInputProgress(files)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { progress.show(stderr, time.Second, stop); close(done) }()
		stopProgress = func() { close(stop); <-done }
	}
	res, err := eql.Search(ctx, req, eventsAt(files, stdin, store, newDecode, progress), opts...)
	stopProgress()
	if err == nil {
		err = restoreSources(res)
	}
	if err != nil {
		var ee *ecs.ReadError
		if errors.As(err, &ee) {
			return usageError(ee)
		}
		var qe *eql.Error
		if *sorted && !errors.As(err, &qe) {
			return usageError(fmt.Errorf("query --sorted: %w (drop --sorted for unordered input)", err))
		}
		return ruleQueryError(rule, err, stderr)
	}
	enc := json.NewEncoder(stdout)
	if !*compact {
		enc.SetIndent("", "  ")
	}
	enc.SetEscapeHTML(false)
	return enc.Encode(res)
}

// loadOneRule loads the single EQL rule of a rule file.
func loadOneRule(path string) (*rules.Rule, error) {
	rs, err := rules.Load(path)
	if err != nil {
		return nil, err
	}
	var eqlRules []rules.Rule
	for _, r := range rs {
		if r.Skipped() == "" {
			eqlRules = append(eqlRules, r)
		}
	}
	switch len(eqlRules) {
	case 1:
		return &eqlRules[0], nil
	case 0:
		return nil, fmt.Errorf("%s: no EQL rule", path)
	}
	return nil, fmt.Errorf("%s: %d EQL rules; --rule needs a file with one", path, len(eqlRules))
}

// ruleQueryError reports a query error at file:line:col when the query
// came from a rule file, else as queryError does.
func ruleQueryError(r *rules.Rule, err error, stderr io.Writer) error {
	var qe *eql.Error
	if r == nil || !errors.As(err, &qe) {
		return queryError(err, stderr)
	}
	fmt.Fprintf(stderr, "%s: %s\n", r.PosAt(qe.Offset), qe.Msg)
	return silentExit(exitUsage)
}

func checkQueryArgs(pos []string, events string, size int, req eql.Request) error {
	switch {
	case len(pos) == 0:
		return errors.New("query: no QUERY given")
	case len(pos) > 1:
		return fmt.Errorf("query: one QUERY expected, got %d arguments (quote the query)", len(pos))
	case events == "":
		return errors.New("query: --events FILE is required")
	case size < 0:
		return fmt.Errorf("query: --size %d: must be 0 or more", size)
	case req.ResultPosition != "head" && req.ResultPosition != "tail":
		return fmt.Errorf("query: --result-position %q: want head or tail", req.ResultPosition)
	case req.MaxSamplesPerKey < 1:
		return fmt.Errorf("query: --max-samples-per-key %d: must be 1 or more", req.MaxSamplesPerKey)
	}
	return nil
}

// queryError prints an EQL error as line:col: message with the query line
// and a caret, and exits 2; other errors (e.g. a search-time failure) are
// bad input too.
func queryError(err error, stderr io.Writer) error {
	var qe *eql.Error
	if errors.As(err, &qe) {
		fmt.Fprintln(stderr, qe.Caret())
		return silentExit(exitUsage)
	}
	return usageError(fmt.Errorf("query: %w", err))
}

func indexName(events string) string {
	if events == "-" {
		return "stdin"
	}
	base := filepath.Base(events)
	for _, ext := range []string{".gz", ".zst", ".zstd"} {
		base = strings.TrimSuffix(base, ext)
	}
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// spillEncode is the JSON an event decoded whole is spilled as.
func spillEncode(f eql.Fields) ([]byte, error) { return json.Marshal(f) }

// restoreSources gives every hit of a projected search its whole event.
func restoreSources(res *eql.Response) error {
	var err error
	restore := func(h *eql.Hit) {
		switch {
		case err != nil || h.Missing:
		case h.Source == nil:
			err = errors.New("an event's JSON could not be read back from its temporary file")
		default:
			h.Source = ecs.FullSource(h.Source)
		}
	}
	for i := range res.Hits.Events {
		restore(&res.Hits.Events[i])
	}
	for i := range res.Hits.Sequences {
		for j := range res.Hits.Sequences[i].Events {
			restore(&res.Hits.Sequences[i].Events[j])
		}
	}
	return err
}

// byteSize is a flag holding a number of bytes: 512MiB, 1GiB, 64MB, 4096.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	num := strings.TrimRightFunc(s, unicode.IsLetter)
	unit := strings.ToLower(s[len(num):])
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("invalid size %q (want a number of bytes, e.g. 512MiB)", s)
	}
	mult, ok := map[string]int64{"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit]
	if !ok || n > math.MaxInt64/mult {
		return fmt.Errorf("invalid size %q (want a number of bytes, e.g. 512MiB)", s)
	}
	*b = byteSize(n * mult)
	return nil
}
