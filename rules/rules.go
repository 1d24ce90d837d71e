// Package rules loads detection rules in the formats detection engineers
// keep them in (docs/rules.md is the user's guide):
//
//   - Elastic detection-rules TOML (github.com/elastic/detection-rules):
//     a [metadata] table and a [rule] table with language, query, index,
//     name, rule_id, severity, risk_score and [[rule.threat]] MITRE mapping;
//   - Kibana saved-object NDJSON exports (Security → Rules → Export, or the
//     saved objects API), one rule per line, and .json files holding one
//     rule object as the detection engine API returns it, or an array;
//   - raw .eql files holding just the query, with the index patterns given
//     by the caller (WithIndex).
//
// Every rule remembers where its query sits in its file, so that an EQL
// error at query line:col (or byte offset) is reported at file:line:col —
// exactly, also inside TOML multi-line strings and JSON-escaped NDJSON
// queries. Rules in languages other than EQL are loaded and marked
// skipped, never reported as errors.
package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/purpleharness/purpleharness/eql"
)

// Format is the file format a rule was loaded from.
type Format string

// The rule file formats.
const (
	FormatTOML   Format = "toml"
	FormatNDJSON Format = "ndjson"
	FormatJSON   Format = "json"
	FormatEQL    Format = "eql"
)

// Language is a rule's query language as detection-rules and Kibana spell it.
type Language string

// Query languages. Only LanguageEQL is evaluated; others are skipped.
const (
	LanguageEQL    Language = "eql"
	LanguageKuery  Language = "kuery"
	LanguageLucene Language = "lucene"
	LanguageESQL   Language = "esql"
)

// Severity is the detection-rules severity of a rule.
type Severity string

// Severities, as detection-rules and Kibana spell them.
const (
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Rule is one detection rule and where it came from.
type Rule struct {
	File   string // path the rule was loaded from
	Format Format
	Line   int // line of the rule in File: 1 for TOML/EQL, the object's line for NDJSON

	ID          string // rule_id (a UUID in detection-rules)
	Name        string
	Description string
	Type        string // "eql", "query", "threshold", ... (Kibana rule type)
	Language    Language
	Query       string
	Index       []string // index patterns the rule searches
	Severity    Severity
	RiskScore   int
	Threat      []Threat

	// Integrations are the Fleet packages the rule declares it reads data
	// from ([metadata] integration in detection-rules; the packages of
	// related_integrations in an export): "endpoint" for Elastic Defend.
	// A package besides the one that ships the indexed data (ProblemChild's
	// ingest pipeline on Defend's process events, say) adds fields that
	// data source's own templates do not define.
	Integrations []string

	// The EQL request parameters a rule sets for itself (detection-rules
	// EQLRuleData, Kibana's EQL rule params). Empty means Elasticsearch's
	// default. Request puts them in the _eql/search request.
	EventCategoryOverride string // event_category_override: the field holding each stage's category
	TimestampField        string // timestamp_field: the field events are ordered by
	TiebreakerField       string // tiebreaker_field: orders events with equal timestamps

	// TimestampOverride (timestamp_override) names the field Kibana's
	// rule executor filters its look-back window on, instead of
	// @timestamp; documents without it fall back to @timestamp unless
	// TimestampOverrideFallbackDisabled. It is not the EQL timestamp_field:
	// events are still ordered by TimestampField (Kibana, rule_types/eql/
	// eql.ts and build_eql_search_request.ts, and utils/build_events_query.ts
	// buildTimeRangeFilter).
	TimestampOverride                 string
	TimestampOverrideFallbackDisabled bool

	// src maps each byte offset of Query (and len(Query)) to its byte
	// offset in the file; lines holds the file's line start offsets.
	src   []int
	lines []int
}

// Threat is one [[rule.threat]] entry: a MITRE ATT&CK tactic and the
// techniques (with sub-techniques) the rule detects under it.
type Threat struct {
	Framework  string      `toml:"framework" json:"framework"`
	Tactic     Ref         `toml:"tactic" json:"tactic"`
	Techniques []Technique `toml:"technique" json:"technique"`
}

// Ref names an ATT&CK object.
type Ref struct {
	ID        string `toml:"id" json:"id"`
	Name      string `toml:"name" json:"name"`
	Reference string `toml:"reference" json:"reference"`
}

// Technique is an ATT&CK technique with its sub-techniques.
type Technique struct {
	Ref
	Subtechniques []Ref `toml:"subtechnique" json:"subtechnique"`
}

// TechniqueIDs lists every technique and sub-technique ID the rule maps
// to, in file order ("T1071", "T1071.003").
func (r *Rule) TechniqueIDs() []string {
	var ids []string
	for _, t := range r.Threat {
		for _, tech := range t.Techniques {
			ids = append(ids, tech.ID)
			for _, s := range tech.Subtechniques {
				ids = append(ids, s.ID)
			}
		}
	}
	return ids
}

// Covers reports whether the rule is tagged for ATT&CK technique id
// (T1071 or T1071.003): a technique listed without sub-techniques covers
// itself and all of them, one listed with sub-techniques covers those and
// the technique itself. A rule with no technique, or an empty id, covers
// everything.
func (r *Rule) Covers(id string) bool {
	if id == "" {
		return true
	}
	any := false
	for _, t := range r.Threat {
		for _, tech := range t.Techniques {
			any = true
			if id == tech.ID {
				return true
			}
			if len(tech.Subtechniques) == 0 && strings.HasPrefix(id, tech.ID+".") {
				return true
			}
			for _, s := range tech.Subtechniques {
				if id == s.ID {
					return true
				}
			}
		}
	}
	return !any
}

// Request is the _eql/search request Kibana's rule executor sends for the
// rule: its query, with timestamp_field, event_category_field (from
// event_category_override) and tiebreaker_field as the rule sets them and
// left out (Elasticsearch's defaults) where it does not
// (build_eql_search_request.ts). Callers add size and any window filter.
func (r *Rule) Request() eql.Request {
	return eql.Request{
		Query:              r.Query,
		TimestampField:     r.TimestampField,
		TiebreakerField:    r.TiebreakerField,
		EventCategoryField: r.EventCategoryOverride,
	}
}

// EventCategoryField is the field the rule's stage categories are read
// from: its event_category_override, or event.category.
func (r *Rule) EventCategoryField() string {
	if r.EventCategoryOverride != "" {
		return r.EventCategoryOverride
	}
	return eql.DefaultEventCategoryField
}

// Skipped reports why the rule is not evaluated: its language is not EQL.
// The reason is empty for EQL rules.
func (r *Rule) Skipped() string {
	if r.Language == LanguageEQL {
		return ""
	}
	lang := string(r.Language)
	if lang == "" {
		lang = "no language"
	}
	return fmt.Sprintf("%s rule, not EQL (type %q)", lang, r.Type)
}

// Pos is a position in a rule file. Line and Col count from 1; Col counts
// bytes, as Go's own tools do.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// QueryPos is the file position of the first byte of the query.
func (r *Rule) QueryPos() Pos { return r.PosAt(0) }

// PosAt maps a byte offset into Query to its position in the file.
// Offsets outside the query are clamped to its ends.
func (r *Rule) PosAt(offset int) Pos {
	if len(r.src) == 0 {
		return Pos{File: r.File, Line: r.Line, Col: 1}
	}
	offset = max(0, min(offset, len(r.src)-1))
	return posOf(r.File, r.lines, r.src[offset])
}

// Position maps a query position given as line and column (both from 1,
// the column counted in characters, as Elasticsearch reports positions in
// its error messages) to its position in the file. For errors of the
// embedded engine prefer PosAt with the error's byte offset.
func (r *Rule) Position(line, col int) Pos {
	return r.PosAt(QueryOffset(r.Query, line, col))
}

// QueryOffset converts a 1-based line and character column in q into a
// byte offset, clamped to q.
func QueryOffset(q string, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(q[off:], '\n')
		if i < 0 {
			return len(q)
		}
		off += i + 1
	}
	for c := 1; c < col && off < len(q) && q[off] != '\n'; c++ {
		_, n := utf8.DecodeRuneInString(q[off:])
		off += n
	}
	return off
}

// Error is a problem in a rule file, at a position.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Option adjusts loading.
type Option func(*options)

type options struct {
	index []string
}

// WithIndex gives the index patterns of raw .eql rules, which cannot name
// their own, and of rules whose file names none.
func WithIndex(patterns ...string) Option {
	return func(o *options) { o.index = patterns }
}

// Load reads the rules in one file, choosing the format by extension
// (.toml, .ndjson/.jsonl, .json, .eql). It returns the rules it could load
// together with every problem found (an errors.Join of *Error), so lint can
// report all of them at once.
func Load(path string, opts ...Option) ([]Rule, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load rules: %w", err)
	}
	var rules []Rule
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".toml":
		var r *Rule
		r, err = parseTOML(path, data)
		if r != nil {
			rules = []Rule{*r}
		}
	case ".ndjson", ".jsonl":
		rules, err = parseNDJSON(path, data)
	case ".json":
		rules, err = parseJSON(path, data)
	case ".eql":
		rules = []Rule{parseEQL(path, data)}
	default:
		return nil, &Error{Pos{File: path}, fmt.Sprintf("unknown rule format %q (want .toml, .ndjson, .jsonl, .json or .eql)", ext)}
	}
	for i := range rules {
		if len(rules[i].Index) == 0 {
			rules[i].Index = o.index
		}
	}
	return rules, err
}

// IsRuleFile reports whether Load understands the file's extension.
func IsRuleFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml", ".ndjson", ".jsonl", ".eql":
		// .json is loaded when named explicitly, not picked up from a
		// folder, where it is as likely a mapping or a fixture.
		return true
	}
	return false
}

// LoadDir loads every rule file below dir (recursively, in lexical order).
// Like Load it returns what loaded along with all problems.
func LoadDir(dir string, opts ...Option) ([]Rule, error) {
	var rules []Rule
	var errs []error
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !IsRuleFile(path) {
			return nil
		}
		rs, err := Load(path, opts...)
		rules = append(rules, rs...)
		if err != nil {
			errs = append(errs, err)
		}
		return nil
	})
	if err != nil {
		return rules, fmt.Errorf("load rules from %s: %w", dir, err)
	}
	return rules, errors.Join(errs...)
}

// lineStarts returns the byte offset of every line start in data.
func lineStarts(data []byte) []int {
	starts := []int{0}
	for i, b := range data {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// posOf converts a byte offset in a file to a Pos.
func posOf(file string, lines []int, off int) Pos {
	i := sort.Search(len(lines), func(i int) bool { return lines[i] > off }) - 1
	if i < 0 {
		i = 0
	}
	return Pos{File: file, Line: i + 1, Col: off - lines[i] + 1}
}

// identity maps a query that is the file's bytes from start on.
func identity(start, n int) []int {
	src := make([]int, n+1)
	for i := range src {
		src[i] = start + i
	}
	return src
}

func parseEQL(path string, data []byte) Rule {
	start := 0
	if len(data) >= 3 && string(data[:3]) == "\uFEFF" {
		start = 3 // a UTF-8 byte order mark is not part of the query
	}
	q := string(data[start:])
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return Rule{
		File: path, Format: FormatEQL, Line: 1,
		Name: name, Type: "eql", Language: LanguageEQL, Query: q,
		src: identity(start, len(q)), lines: lineStarts(data),
	}
}
