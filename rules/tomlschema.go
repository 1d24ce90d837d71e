package rules

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/purpleharness/purpleharness/internal/editdist"
)

// keys is the shape of a TOML table: each allowed key and, for a table or
// an array of tables, the shape below it (nil: a value). anyKeys admits
// whatever lies below (free-form dicts in detection-rules' schema).
type keys map[string]keys

var anyKeys = keys{"*": nil}

func leaf(names ...string) keys {
	k := keys{}
	for _, n := range names {
		k[n] = nil
	}
	return k
}

func with(k keys, more keys) keys {
	for n, v := range more {
		k[n] = v
	}
	return k
}

var threatEntry = leaf("id", "name", "reference")

var threatSchema = keys{
	"framework": nil,
	"tactic":    threatEntry,
	"technique": with(leaf("id", "name", "reference"), keys{"subtechnique": threatEntry}),
}

// tomlSchema is the layout of a detection-rules rule file, from
// detection_rules/rule.py: TOMLRuleContents (metadata, rule, transform),
// RuleMeta, RuleTransform, BaseRuleData and every rule type's data class
// (QueryRuleData, MachineLearningRuleData, ThresholdQueryRuleData,
// NewTermsRuleData, EQLRuleData, ESQLRuleData, ThreatMatchRuleData) with
// their nested data classes. detection-rules' marshmallow schemas refuse an
// unknown key, so a key outside this shape is one detection-rules would
// refuse too (or a typo that silently does nothing).
var tomlSchema = keys{
	"metadata": with(leaf("creation_date", "updated_date", "deprecation_date", "bypass_bbr_timing", "comments",
		"integration", "maturity", "min_stack_version", "min_stack_comments", "os_type_list",
		"query_schema_validation", "related_endpoint_rules", "promotion"), keys{"extended": anyKeys}),
	"rule": with(leaf(
		// BaseRuleData
		"name", "author", "description", "from", "revision", "setup", "risk_score", "rule_id", "severity",
		"type", "building_block_type", "enabled", "false_positives", "interval", "license", "max_signals",
		"note", "references", "rule_name_override", "tags", "throttle", "timeline_id", "timeline_title",
		"timestamp_override", "to", "version",
		// QueryRuleData
		"query", "language", "index", "data_view_id",
		// MachineLearningRuleData
		"anomaly_threshold", "machine_learning_job_id",
		// EQLRuleData
		"timestamp_field", "event_category_override", "tiebreaker_field",
		// ThreatMatchRuleData
		"concurrent_searches", "items_per_search", "threat_query", "threat_language", "threat_index",
		"threat_indicator_path",
	), keys{
		"investigation_fields": leaf("field_names"),
		"related_integrations": leaf("package", "version", "integration"),
		"required_fields":      leaf("name", "type", "ecs"),
		"actions":              anyKeys,
		"exceptions_list":      anyKeys,
		"filters":              anyKeys,
		"meta":                 anyKeys,
		"response_actions":     anyKeys,
		"threat_filters":       anyKeys,
		"risk_score_mapping":   leaf("field", "operator", "value"),
		"severity_mapping":     leaf("field", "operator", "value", "severity"),
		"threat":               threatSchema,
		"threat_mappings":      {"framework": nil, "version": nil, "threat": threatSchema},
		"alert_suppression":    {"group_by": nil, "duration": leaf("unit", "value"), "missing_fields_strategy": nil},
		"threshold":            {"field": nil, "value": nil, "cardinality": leaf("field", "value")},
		"new_terms":            {"field": nil, "value": nil, "history_window_start": leaf("field", "value")},
		"threat_mapping":       {"entries": leaf("field", "type", "value", "negate")},
	}),
	"transform": {
		"osquery":     {"label": nil, "query": nil, "ecs_mapping": anyKeys},
		"investigate": {"label": nil, "description": nil, "providers": anyKeys, "relativeFrom": nil, "relativeTo": nil},
	},
}

// unknownKeys returns an error for each key of the decoded file that
// tomlSchema does not allow, at the key's position in data, with the
// allowed keys of its table.
func unknownKeys(path string, data []byte, lines []int, md toml.MetaData) []error {
	var errs []error
	reported := map[string]bool{}
	for _, k := range md.Keys() {
		shape := tomlSchema
		for i, name := range k {
			if _, free := shape["*"]; free {
				break
			}
			sub, ok := shape[name]
			if !ok {
				parent := strings.Join(k[:i], ".")
				if reported[parent+"\x00"+name] {
					break
				}
				reported[parent+"\x00"+name] = true
				where := "top level"
				if parent != "" {
					where = "[" + parent + "]"
				}
				msg := fmt.Sprintf("unknown key %q in %s", name, where)
				if s := nearest(name, shape); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				errs = append(errs, &Error{keyPos(path, data, lines, k[:i+1]), msg})
				break
			}
			if sub == nil {
				break
			}
			shape = sub
		}
	}
	return errs
}

// keyPos finds where key is written: its table header ([a.b] or [[a.b]]),
// or "name =" after the header of its parent table (or anywhere, for keys
// of inline tables and dotted keys). The file's start when not found.
func keyPos(path string, data []byte, lines []int, key toml.Key) Pos {
	name := regexp.QuoteMeta(key[len(key)-1])
	quoted := `(?:` + name + `|"` + name + `"|'` + name + `')`
	full := make([]string, len(key))
	for i, k := range key {
		full[i] = regexp.QuoteMeta(k)
	}
	header := regexp.MustCompile(`(?m)^[ \t]*\[\[?[ \t]*` + strings.Join(full, `[ \t]*\.[ \t]*`) + `[ \t]*\]`)
	if m := header.FindIndex(data); m != nil {
		return posOf(path, lines, m[0]+strings.IndexByte(string(data[m[0]:m[1]]), '['))
	}
	from := 0
	if len(key) > 1 {
		parent := make([]string, len(full)-1)
		copy(parent, full)
		ph := regexp.MustCompile(`(?m)^[ \t]*\[\[?[ \t]*` + strings.Join(parent, `[ \t]*\.[ \t]*`) + `[ \t]*\]`)
		if m := ph.FindIndex(data); m != nil {
			from = m[1]
		}
	}
	assign := regexp.MustCompile(`(?m)(?:^[ \t]*|[{,][ \t]*|\.)` + quoted + `[ \t]*(?:=|\.)`)
	if m := assign.FindIndex(data[from:]); m != nil {
		off := from + m[0]
		for off < len(data) && strings.ContainsRune(" \t{,.", rune(data[off])) {
			off++
		}
		return posOf(path, lines, off)
	}
	return Pos{path, 1, 1}
}

// nearest returns the allowed key closest to name by edit distance, when
// close enough to be a likely typo.
func nearest(name string, shape keys) string {
	var names []string
	for n := range shape {
		names = append(names, n)
	}
	return editdist.Nearest(name, names, len(name)/2+1, editdist.Levenshtein)
}
