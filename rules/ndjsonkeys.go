package rules

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/purpleharness/purpleharness/internal/editdist"
)

// kibanaRuleKeys are the top-level fields of a detection rule as Kibana's
// rules API returns and exports it (x-pack/solutions/security/plugins/
// security_solution/common/api/detection_engine/model/rule_schema/
// rule_schemas.gen.ts: BaseRequiredFields, BaseOptionalFields,
// BaseDefaultableFields, ResponseFields and every rule type's required,
// optional and defaultable fields).
var kibanaRuleKeys = keySet(
	// BaseRequiredFields, BaseOptionalFields, BaseDefaultableFields
	"name", "description", "risk_score", "severity",
	"rule_name_override", "timestamp_override", "timestamp_override_fallback_disabled", "timeline_id",
	"timeline_title", "outcome", "alias_target_id", "alias_purpose", "license", "note", "building_block_type",
	"output_index", "namespace", "meta", "investigation_fields", "throttle", "response_actions",
	"version", "tags", "enabled", "risk_score_mapping", "severity_mapping", "interval", "from", "to", "actions",
	"exceptions_list", "author", "false_positives", "references", "max_signals", "threat", "setup",
	"related_integrations", "required_fields",
	// ResponseFields
	"id", "rule_id", "immutable", "rule_source", "updated_at", "updated_by", "created_at", "created_by",
	"revision", "execution_summary",
	// rule types: eql, query, saved_query, threshold, threat_match, machine_learning, new_terms, esql
	"type", "query", "language", "index", "data_view_id", "filters", "event_category_override",
	"tiebreaker_field", "timestamp_field", "alert_suppression", "saved_id", "threshold", "threat_query",
	"threat_mapping", "threat_index", "threat_filters", "threat_indicator_path", "threat_language",
	"concurrent_searches", "items_per_search", "anomaly_threshold", "machine_learning_job_id",
	"new_terms_fields", "history_window_start",
)

func keySet(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// unknownRuleKeys returns an error at each top-level key of the rule
// object data[start:end] that Kibana's rule schema does not have.
func unknownRuleKeys(path string, data []byte, lines []int, start, end int) []error {
	dec := json.NewDecoder(bytes.NewReader(data[start:end]))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var errs []error
	for dec.More() {
		at := int(dec.InputOffset())
		t, err := dec.Token()
		if err != nil {
			return errs
		}
		key, _ := t.(string)
		if i := bytes.IndexByte(data[start+at:end], '"'); i >= 0 {
			at += i
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return errs
		}
		if !kibanaRuleKeys[key] {
			msg := fmt.Sprintf("unknown rule field %q", key)
			if s := nearestKey(key, kibanaRuleKeys); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			errs = append(errs, &Error{posOf(path, lines, start+at), msg})
		}
	}
	return errs
}

func nearestKey(name string, set map[string]bool) string {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	return editdist.Nearest(name, names, len(name)/2+1, editdist.Levenshtein)
}
