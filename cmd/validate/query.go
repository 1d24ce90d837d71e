package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/rules"
)

const queryUsage = `usage: validate query --events FILE [flags] QUERY
       validate query --events FILE [flags] --rule RULEFILE

Run an EQL query with the embedded engine over exported events and print
the result exactly as Elasticsearch's _eql/search would answer it.
FILE holds NDJSON (one event per line) or a JSON array; - reads stdin.
A bad query exits 2 with line:col: message on stderr.

flags:
  --events FILE                 events to search (required)
  --rule RULEFILE               take the query from a rule file (.toml, .ndjson, .json,
                                .eql holding one EQL rule); errors at file:line:col
  --mapping FILE                index mapping (JSON): field types and aliases;
                                unknown fields become errors, as in Elasticsearch
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
  --compact                     one-line JSON instead of indented
`

var queryCommand = command{"query", "run an EQL query over exported events (embedded engine)", runQuery}

func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate query", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var req eql.Request
	events := fs.String("events", "", "")
	mappingFile := fs.String("mapping", "", "")
	index := fs.String("index", "", "")
	compact := fs.Bool("compact", false, "")
	sorted := fs.Bool("sorted", false, "")
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
		err = checkQueryArgs(pos, *events, *size, req)
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
		req.Query = rule.Query
	}
	req.Size = *size
	if req.Size == 0 {
		req.Size = -1 // eql.Request: negative asks for no hits (size=0)
	}

	// A bad query is reported before any event is read.
	if _, err := eql.Parse(req.Query); err != nil {
		return ruleQueryError(rule, err, stderr)
	}
	var opts []eql.Option
	if *mappingFile != "" {
		data, err := os.ReadFile(*mappingFile)
		if err != nil {
			return usageError(fmt.Errorf("query: %w", err))
		}
		m, err := eql.ParseMapping(data)
		if err != nil {
			return usageError(fmt.Errorf("query: mapping %s: %w", *mappingFile, err))
		}
		opts = append(opts, eql.WithMapping(m))
	}
	name := *index
	if name == "" {
		name = indexName(*events)
	}
	opts = append(opts, eql.WithIndex(name))
	if *sorted {
		opts = append(opts, eql.Sorted())
	}

	in, closeIn, err := openEvents(*events)
	if err != nil {
		return usageError(fmt.Errorf("query: %w", err))
	}
	defer closeIn()
	res, err := eql.Search(ctx, req, readEvents(*events, in), opts...)
	if err != nil {
		var ee *eventsError
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
	return strings.TrimSuffix(base, filepath.Ext(base))
}

func openEvents(path string) (io.Reader, func(), error) {
	if path == "-" {
		return os.Stdin, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// eventsError is a problem in the events file, with its position.
type eventsError struct {
	file string
	pos  string // "12" (NDJSON line) or "event 3" (array element)
	err  error
}

func (e *eventsError) Error() string { return fmt.Sprintf("%s:%s: %v", e.file, e.pos, e.err) }
func (e *eventsError) Unwrap() error { return e.err }

// maxEventLine bounds one NDJSON line (one event).
const maxEventLine = 16 << 20

// readEvents yields the events of r: a JSON array when its first
// non-blank byte is '[', NDJSON otherwise (blank lines skipped). Numbers
// stay json.Number, as ecs.Decode keeps them.
func readEvents(file string, r io.Reader) iter.Seq2[ecs.Document, error] {
	return func(yield func(ecs.Document, error) bool) {
		br := bufio.NewReaderSize(r, 64<<10)
		first, skipped, err := peekNonSpace(br)
		if err == io.EOF {
			return
		}
		if err != nil {
			yield(nil, &eventsError{file, "1", err})
			return
		}
		if first == '[' {
			readArray(file, br, yield)
			return
		}
		sc := bufio.NewScanner(br)
		sc.Buffer(make([]byte, 64<<10), maxEventLine)
		for line := 1 + skipped; sc.Scan(); line++ {
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			d, err := ecs.Decode(b)
			if err != nil {
				pos := fmt.Sprint(line)
				var se *json.SyntaxError
				if errors.As(err, &se) {
					// Offset counts bytes of the trimmed line up to and
					// including the bad one.
					lead := len(sc.Bytes()) - len(bytes.TrimLeft(sc.Bytes(), " \t"))
					pos = fmt.Sprintf("%d:%d", line, lead+max(int(se.Offset), 1))
				}
				yield(nil, &eventsError{file, pos, err})
				return
			}
			if !yield(d, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(nil, &eventsError{file, "?", err})
		}
	}
}

func readArray(file string, r io.Reader, yield func(ecs.Document, error) bool) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // '['
		yield(nil, &eventsError{file, "1", err})
		return
	}
	for i := 0; dec.More(); i++ {
		var d ecs.Document
		if err := dec.Decode(&d); err != nil || d == nil {
			if err == nil {
				err = errors.New("not a JSON object")
			}
			yield(nil, &eventsError{file, fmt.Sprintf("event %d", i), err})
			return
		}
		if !yield(d, nil) {
			return
		}
	}
	if _, err := dec.Token(); err != nil { // ']'
		yield(nil, &eventsError{file, "end", err})
	}
}

// peekNonSpace skips blank space (and a UTF-8 byte order mark) and
// returns the first other byte, unread, and how many newlines it skipped.
func peekNonSpace(br *bufio.Reader) (byte, int, error) {
	if bom, err := br.Peek(3); err == nil && string(bom) == "\uFEFF" {
		br.Discard(3)
	}
	lines := 0
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, lines, err
		}
		switch b {
		case '\n':
			lines++
			continue
		case ' ', '\t', '\r':
			continue
		}
		return b, lines, br.UnreadByte()
	}
}
