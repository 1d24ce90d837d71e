package rules

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// tomlFile is the part of a detection-rules TOML file we read. The layout
// follows detection-rules' rule schema (detection_rules/schemas): a
// [metadata] table (creation_date, maturity, ...) and a [rule] table.
type tomlFile struct {
	Metadata map[string]any `toml:"metadata"`
	Rule     *struct {
		RuleID      string   `toml:"rule_id"`
		Name        string   `toml:"name"`
		Description string   `toml:"description"`
		Type        string   `toml:"type"`
		Language    string   `toml:"language"`
		Query       *string  `toml:"query"`
		Index       []string `toml:"index"`
		Severity    string   `toml:"severity"`
		RiskScore   int      `toml:"risk_score"`
		Threat      []Threat `toml:"threat"`

		RelatedIntegrations []struct {
			Package string `toml:"package"`
		} `toml:"related_integrations"`

		EventCategoryOverride             string `toml:"event_category_override"`
		TimestampField                    string `toml:"timestamp_field"`
		TiebreakerField                   string `toml:"tiebreaker_field"`
		TimestampOverride                 string `toml:"timestamp_override"`
		TimestampOverrideFallbackDisabled bool   `toml:"timestamp_override_fallback_disabled"`
	} `toml:"rule"`
}

// queryKey finds candidate "query = <string>" assignments; the one whose
// string decodes to the rule's query is the one.
var typeErr = regexp.MustCompile(`^toml: line (\d+) \(last key "((?:[^"\\]|\\.)*)"\): (.*)$`)

var queryKey = regexp.MustCompile(`(?m)^[ \t]*(?:rule\.)?(?:query|"query"|'query')[ \t]*=[ \t]*`)

func parseTOML(path string, data []byte) (*Rule, error) {
	lines := lineStarts(data)
	var f tomlFile
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			pos := Pos{path, pe.Position.Line, pe.Position.Col}
			if st := pe.Position.Start; st >= 0 && st < len(data) {
				// The byte offset is exact; the library's line can run one
				// past a newline the error sits on.
				pos = posOf(path, lines, st)
			}
			return nil, &Error{pos, "toml: " + pe.Message}
		}
		// Type mismatches come as plain errors that name the line of the
		// offending key: "toml: line 2 (last key "rule.risk_score"): ...".
		if m := typeErr.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			if line >= 1 && line <= len(lines) {
				return nil, &Error{Pos{path, line, 1}, fmt.Sprintf("toml: %s: %s", m[2], m[3])}
			}
		}
		return nil, &Error{Pos{path, 1, 1}, strings.TrimPrefix(err.Error(), "toml: ")}
	}
	if f.Rule == nil {
		return nil, &Error{Pos{path, 1, 1}, "no [rule] table (not a detection-rules file)"}
	}
	// detection-rules reads a deprecated rule as free-form tables
	// (DeprecatedRuleContents), so only a live rule's keys are checked.
	if errs := unknownKeys(path, data, lines, md); len(errs) > 0 && f.Metadata["maturity"] != "deprecated" {
		return nil, errors.Join(errs...)
	}
	fr := f.Rule
	r := &Rule{
		File: path, Format: FormatTOML, Line: 1,
		ID: fr.RuleID, Name: fr.Name, Description: fr.Description,
		Type: fr.Type, Language: Language(strings.ToLower(fr.Language)),
		Index: fr.Index, Severity: Severity(strings.ToLower(fr.Severity)),
		RiskScore: fr.RiskScore, Threat: fr.Threat, lines: lines,

		EventCategoryOverride: fr.EventCategoryOverride, TimestampField: fr.TimestampField,
		TiebreakerField: fr.TiebreakerField, TimestampOverride: fr.TimestampOverride,
		TimestampOverrideFallbackDisabled: fr.TimestampOverrideFallbackDisabled,
	}
	r.Integrations = stringList(f.Metadata["integration"])
	for _, ri := range fr.RelatedIntegrations {
		if ri.Package != "" && !slices.Contains(r.Integrations, ri.Package) {
			r.Integrations = append(r.Integrations, ri.Package)
		}
	}
	if r.Language == "" && r.Type == "eql" {
		r.Language = LanguageEQL // detection-rules always sets both; be lenient
	}
	if fr.Query == nil {
		if r.Language == LanguageEQL {
			return nil, &Error{ruleTablePos(path, data, lines), "eql rule has no query"}
		}
		return r, nil
	}
	r.Query = *fr.Query
	r.src = locateQuery(data, r.Query, queryKey, decodeTOMLString)
	return r, nil
}

// ruleTablePos is where the [rule] header is, for errors about the table.
func ruleTablePos(path string, data []byte, lines []int) Pos {
	if m := regexp.MustCompile(`(?m)^[ \t]*\[[ \t]*rule[ \t]*\]`).FindIndex(data); m != nil {
		return posOf(path, lines, m[0])
	}
	return Pos{path, 1, 1}
}

// locateQuery returns the source offsets of query's bytes, found by decoding
// each candidate "query =" string in data with decode. When none matches
// exactly, it falls back to the start of the first candidate (positions on
// its first line stay right; later ones are approximate).
func locateQuery(data []byte, query string, key *regexp.Regexp, decode func([]byte, int) (stringMap, bool)) []int {
	var fallback []int
	for _, m := range key.FindAllIndex(data, -1) {
		sm, ok := decode(data, m[1])
		if !ok {
			continue
		}
		if string(sm.val) == query {
			return sm.src
		}
		if fallback == nil {
			start := m[1] + 1
			if strings.HasPrefix(string(data[m[1]:]), `"""`) || strings.HasPrefix(string(data[m[1]:]), `'''`) {
				start = m[1] + 3
			}
			fallback = clampedIdentity(start, len(query), len(data))
		}
	}
	if fallback == nil {
		return nil
	}
	return fallback
}

func clampedIdentity(start, n, limit int) []int {
	src := identity(start, n)
	for i := range src {
		src[i] = min(src[i], max(limit-1, 0))
	}
	return src
}

// stringList reads a metadata value that detection-rules allows as a
// string or a list of strings (integration = "aws" or ["aws", "endpoint"]).
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
