package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
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
		} `json:"params"`
	} `json:"attributes"`
}

var jsonQueryKey = regexp.MustCompile(`"query"[ \t]*:[ \t]*`)

func parseNDJSON(path string, data []byte) ([]Rule, error) {
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
		r, err := parseNDJSONLine(path, n+1, line)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r == nil {
			continue // summary line or exception list
		}
		r.lines = lines
		if r.src != nil {
			for i := range r.src {
				r.src[i] += start
			}
		}
		rules = append(rules, *r)
	}
	return rules, errors.Join(errs...)
}

func parseNDJSONLine(path string, lineNo int, line []byte) (*Rule, error) {
	var l ndjsonLine
	if err := json.Unmarshal(line, &l); err != nil {
		col := 1
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			col = int(se.Offset)
		case errors.As(err, &te):
			col = int(te.Offset)
			err = fmt.Errorf("field %s: cannot use JSON %s as %s", te.Field, te.Value, te.Type)
		}
		col = max(1, min(col, len(line)))
		return nil, &Error{Pos{path, lineNo, col}, "json: " + strings.TrimPrefix(err.Error(), "json: ")}
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
		}
	} else if l.ExportedCount != nil || (l.ListID != "" && fr.RuleID == "") {
		return nil, nil
	}
	if fr.RuleID == "" && fr.Type == "" && fr.Query == nil {
		return nil, &Error{Pos{path, lineNo, 1}, "not a detection rule (no rule_id, type or query)"}
	}
	r := &Rule{
		File: path, Format: FormatNDJSON, Line: lineNo,
		ID: fr.RuleID, Name: fr.Name, Description: fr.Description,
		Type: fr.Type, Language: Language(strings.ToLower(fr.Language)),
		Index: fr.Index, Severity: Severity(strings.ToLower(fr.Severity)),
		RiskScore: int(fr.RiskScore), Threat: fr.Threat,
	}
	if r.Language == "" && r.Type == "eql" {
		r.Language = LanguageEQL
	}
	if fr.Query == nil {
		if r.Language == LanguageEQL {
			return nil, &Error{Pos{path, lineNo, 1}, fmt.Sprintf("eql rule %q has no query", r.Name)}
		}
		return r, nil
	}
	r.Query = *fr.Query
	r.src = locateQuery(line, r.Query, jsonQueryKey, decodeJSONString)
	if r.src == nil {
		r.src = make([]int, len(r.Query)+1) // the object's first column
	}
	return r, nil
}
