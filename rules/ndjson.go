package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ndjsonRule holds the fields of a detection rule as Kibana's rule export
// (POST /api/detection_engine/rules/_export, or Security → Rules → Export)
// writes them: one rule object per line, snake_case fields.
type ndjsonRule struct {
	RuleID      string   `json:"rule_id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Type        string   `json:"type"`
	Language    string   `json:"language"`
	Query       *string  `json:"query"`
	Index       []string `json:"index"`
	Severity    string   `json:"severity"`
	RiskScore   float64  `json:"risk_score"`
	Threat      []Threat `json:"threat"`

	RelatedIntegrations relatedIntegrations `json:"related_integrations"`

	EventCategoryOverride             string `json:"event_category_override"`
	TimestampField                    string `json:"timestamp_field"`
	TiebreakerField                   string `json:"tiebreaker_field"`
	TimestampOverride                 string `json:"timestamp_override"`
	TimestampOverrideFallbackDisabled bool   `json:"timestamp_override_fallback_disabled"`
}

// ndjsonLine is any line of an export: a rule, a Kibana saved object of
// type "alert" (saved objects export: attributes.params holds the rule in
// camelCase), an exception list, or the trailing export summary.
type ndjsonLine struct {
	ndjsonRule
	ExportedCount *int   `json:"exported_count"`
	ListID        string `json:"list_id"`
	Attributes    *struct {
		Name        string `json:"name"`
		AlertTypeID string `json:"alertTypeId"`
		Params      struct {
			RuleID      string   `json:"ruleId"`
			Description string   `json:"description"`
			Type        string   `json:"type"`
			Language    string   `json:"language"`
			Query       *string  `json:"query"`
			Index       []string `json:"index"`
			Severity    string   `json:"severity"`
			RiskScore   float64  `json:"riskScore"`
			Threat      []Threat `json:"threat"`

			RelatedIntegrations relatedIntegrations `json:"relatedIntegrations"`

			EventCategoryOverride             string `json:"eventCategoryOverride"`
			TimestampField                    string `json:"timestampField"`
			TiebreakerField                   string `json:"tiebreakerField"`
			TimestampOverride                 string `json:"timestampOverride"`
			TimestampOverrideFallbackDisabled bool   `json:"timestampOverrideFallbackDisabled"`
		} `json:"params"`
	} `json:"attributes"`
}

// relatedIntegration is one entry of a rule's related_integrations.
type relatedIntegration struct {
	Package string `json:"package"`
}

type relatedIntegrations []relatedIntegration

func (ri relatedIntegrations) packages() []string {
	var out []string
	for _, r := range ri {
		if r.Package != "" && !slices.Contains(out, r.Package) {
			out = append(out, r.Package)
		}
	}
	return out
}

var jsonQueryKey = regexp.MustCompile(`"query"[ \t]*:[ \t]*`)

func parseNDJSON(path string, data []byte) ([]Rule, error) {
	data = blankBOM(data)
	lines := lineStarts(data)
	var rules []Rule
	var errs []error
	for n, start := range lines {
		end := len(data)
		if n+1 < len(lines) {
			end = lines[n+1]
		}
		line := bytes.TrimRight(data[start:end], "\r\n")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		r, err := parseObject(path, FormatNDJSON, data, start, start+len(line), lines)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r != nil { // nil: summary line, exception list, other object
			rules = append(rules, *r)
		}
	}
	return rules, errors.Join(errs...)
}

// parseJSON reads a .json file: a single rule object, pretty-printed as
// the detection engine API returns it (GET /api/detection_engine/rules),
// an array of them, or NDJSON saved under a .json name.
func parseJSON(path string, data []byte) ([]Rule, error) {
	data = blankBOM(data)
	lines := lineStarts(data)
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	dec := json.NewDecoder(bytes.NewReader(data))
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if _, err := dec.Token(); err != nil {
			return nil, jsonError(path, data, lines, 0, len(data), err)
		}
		var rules []Rule
		var errs []error
		for dec.More() {
			var raw json.RawMessage
			from := int(dec.InputOffset())
			if err := dec.Decode(&raw); err != nil {
				return rules, errors.Join(append(errs, elementError(path, data, lines, from, err))...)
			}
			end := int(dec.InputOffset())
			r, err := parseObject(path, FormatJSON, data, end-len(raw), end, lines)
			if err != nil {
				errs = append(errs, err)
			} else if r != nil {
				rules = append(rules, *r)
			}
		}
		return rules, errors.Join(errs...)
	}
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		// The first value's offsets count from the file's start.
		return nil, jsonError(path, data, lines, 0, len(data), err)
	}
	if dec.More() {
		return parseNDJSON(path, data) // one object per line under a .json name
	}
	end := int(dec.InputOffset())
	r, err := parseObject(path, FormatJSON, data, end-len(raw), end, lines)
	if r == nil || err != nil {
		return nil, err
	}
	return []Rule{*r}, nil
}

// blankBOM returns data with a leading UTF-8 byte order mark (as Windows
// tools write it) turned into three spaces, which JSON skips as
// whitespace while every later byte keeps its offset, so positions stay
// file positions (as for .eql files, whose query starts after the mark).
func blankBOM(data []byte) []byte {
	if !bytes.HasPrefix(data, []byte("\uFEFF")) {
		return data
	}
	out := bytes.Clone(data)
	copy(out, "   ")
	return out
}

// elementError positions an error in the array element that follows
// offset from. A streaming Decoder's SyntaxError.Offset does not count from
// a fixed point, so the element is decoded again on its own, where it does.
func elementError(path string, data []byte, lines []int, from int, err error) error {
	start := from
	for start < len(data) && strings.IndexByte(" \t\r\n,", data[start]) >= 0 {
		start++
	}
	var raw json.RawMessage
	if err2 := json.NewDecoder(bytes.NewReader(data[start:])).Decode(&raw); err2 != nil {
		err = err2
	}
	return jsonError(path, data, lines, start, len(data), err)
}

// jsonError positions a JSON decoding error of data[start:end] in the file.
func jsonError(path string, data []byte, lines []int, start, end int, err error) error {
	off := start
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = start + max(int(se.Offset)-1, 0)
	case errors.As(err, &te):
		off = start + max(int(te.Offset)-1, 0)
		err = fmt.Errorf("field %s: cannot use JSON %s as %s", te.Field, te.Value, te.Type)
	}
	off = max(start, min(off, end-1, len(data)-1))
	if off < 0 {
		off = 0
	}
	return &Error{posOf(path, lines, off), "json: " + strings.TrimPrefix(err.Error(), "json: ")}
}

// parseObject reads the rule object data[start:end]. It returns nil and no
// error for objects that are not rules (the export summary, exception
// lists, other saved objects).
func parseObject(path string, format Format, data []byte, start, end int, lines []int) (*Rule, error) {
	obj := data[start:end]
	objPos := posOf(path, lines, start)
	var l ndjsonLine
	if err := json.Unmarshal(obj, &l); err != nil {
		return nil, jsonError(path, data, lines, start, end, err)
	}
	fr := l.ndjsonRule
	if a := l.Attributes; a != nil {
		if a.AlertTypeID == "" && a.Params.Query == nil {
			return nil, nil // some other saved object (dashboard, ...)
		}
		p := a.Params
		fr = ndjsonRule{
			RuleID: p.RuleID, Name: a.Name, Description: p.Description,
			Type: p.Type, Language: p.Language, Query: p.Query, Index: p.Index,
			Severity: p.Severity, RiskScore: p.RiskScore, Threat: p.Threat,
			RelatedIntegrations: p.RelatedIntegrations,

			EventCategoryOverride: p.EventCategoryOverride, TimestampField: p.TimestampField,
			TiebreakerField: p.TiebreakerField, TimestampOverride: p.TimestampOverride,
			TimestampOverrideFallbackDisabled: p.TimestampOverrideFallbackDisabled,
		}
	} else if l.ExportedCount != nil || (l.ListID != "" && fr.RuleID == "") {
		return nil, nil
	}
	if fr.RuleID == "" && fr.Type == "" && fr.Query == nil {
		return nil, &Error{objPos, "not a detection rule (no rule_id, type or query)"}
	}
	if l.Attributes == nil {
		if errs := unknownRuleKeys(path, data, lines, start, end); len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
	}
	r := &Rule{
		File: path, Format: format, Line: objPos.Line,
		ID: fr.RuleID, Name: fr.Name, Description: fr.Description,
		Type: fr.Type, Language: Language(strings.ToLower(fr.Language)),
		Index: fr.Index, Severity: Severity(strings.ToLower(fr.Severity)),
		RiskScore: int(fr.RiskScore), Threat: fr.Threat, lines: lines,
		Integrations: fr.RelatedIntegrations.packages(),

		EventCategoryOverride: fr.EventCategoryOverride, TimestampField: fr.TimestampField,
		TiebreakerField: fr.TiebreakerField, TimestampOverride: fr.TimestampOverride,
		TimestampOverrideFallbackDisabled: fr.TimestampOverrideFallbackDisabled,
	}
	if r.Language == "" && r.Type == "eql" {
		r.Language = LanguageEQL
	}
	if fr.Query == nil {
		if r.Language == LanguageEQL {
			return nil, &Error{objPos, fmt.Sprintf("eql rule %q has no query", r.Name)}
		}
		return r, nil
	}
	r.Query = *fr.Query
	r.src = locateQuery(obj, r.Query, jsonQueryKey, decodeJSONString)
	if r.src == nil {
		r.src = make([]int, len(r.Query)+1) // the object's start
	}
	for i := range r.src {
		r.src[i] += start
	}
	return r, nil
}
