package elastic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/rules"
)

// These tests run without a cluster, on response bodies in Elasticsearch's
// wire format: two recorded from 8.x clusters, one the API specification's
// example, one from a 7.x tutorial (testdata/README.md says where each came
// from).

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeSequenceResponse(t *testing.T) {
	res, err := DecodeResponse(readTestdata(t, "eql_sequence_response.json"))
	if err != nil {
		t.Fatalf("DecodeResponse: %v", err)
	}
	if res.Hits.Total != (eql.Total{Value: 1, Relation: "eq"}) || res.Took != 6 || res.IsPartial || res.IsRunning {
		t.Errorf("header = %+v took %d, want total 1 eq, took 6", res.Hits.Total, res.Took)
	}
	if len(res.Hits.Sequences) != 1 {
		t.Fatalf("sequences = %d, want 1", len(res.Hits.Sequences))
	}
	seq := res.Hits.Sequences[0]
	if want := []any{json.Number("2012")}; !reflect.DeepEqual(seq.JoinKeys, want) {
		t.Errorf("join_keys = %#v, want %#v", seq.JoinKeys, want)
	}
	var ids, names []string
	for _, h := range seq.Events {
		ids = append(ids, h.ID)
		n, _ := h.Source.Lookup("process.name")
		names = append(names, fmt.Sprint(n))
	}
	if want := []string{"AtOJ4UjUBAAx3XR5kcCM", "OQmfCaduce8zoHT93o4H"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("event ids = %v, want %v", ids, want)
	}
	if want := []string{"cmd.exe", "regsvr32.exe"}; !reflect.DeepEqual(names, want) {
		t.Errorf("process.name = %v, want %v", names, want)
	}
	// Numbers stay json.Number, exactly as ecs.Decode leaves them.
	if v, _ := seq.Events[0].Source.Lookup("file.size"); v != json.Number("16384") {
		t.Errorf("file.size = %#v, want json.Number(16384)", v)
	}
	if seq.Events[0].Index != ".ds-my-data-stream-2099.12.07-000001" {
		t.Errorf("_index = %q", seq.Events[0].Index)
	}
}

func TestParseError(t *testing.T) {
	tests := []struct {
		file     string
		status   int
		want     string
		problems []Problem
		queryErr bool
	}{
		{"eql_unknown_column.json", 400,
			"elasticsearch: 400 verification_exception 1:25: Unknown column [ddl.name]",
			[]Problem{{1, 25, "Unknown column [ddl.name]"}}, true},
		{"eql_field_comparison.json", 500,
			"elasticsearch: 500 ql_illegal_argument_exception 1:40: Comparisons against fields are not (currently) supported; offender [add(process.pid,0)] in [==]",
			[]Problem{{1, 40, "Comparisons against fields are not (currently) supported; offender [add(process.pid,0)] in [==]"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			e := parseError(tt.status, readTestdata(t, tt.file))
			if got := e.Error(); got != tt.want {
				t.Errorf("Error() = %q\nwant      %q", got, tt.want)
			}
			if !reflect.DeepEqual(e.Problems, tt.problems) {
				t.Errorf("Problems = %+v, want %+v", e.Problems, tt.problems)
			}
			if e.IsQueryError() != tt.queryErr {
				t.Errorf("IsQueryError() = %v, want %v", e.IsQueryError(), tt.queryErr)
			}
		})
	}
	// Bodies that are not Elasticsearch's error shape (a proxy's HTML page)
	// still give a readable error.
	e := parseError(502, []byte("<html>Bad Gateway</html>\n"))
	if got, want := e.Error(), "elasticsearch: 502: <html>Bad Gateway</html>"; got != want {
		t.Errorf("non-JSON body: Error() = %q, want %q", got, want)
	}
	// ES writes "line -1:-1" for problems without a position.
	e = parseError(400, []byte(`{"error":{"type":"verification_exception","reason":"Found 1 problem\nline -1:-1: Unknown index [nope]"},"status":400}`))
	if want := []Problem{{0, 0, "Unknown index [nope]"}}; !reflect.DeepEqual(e.Problems, want) {
		t.Errorf("unpositioned problem: %+v, want %+v", e.Problems, want)
	}
}

func TestBulkErrors(t *testing.T) {
	var res bulkResponse
	if err := json.Unmarshal(readTestdata(t, "bulk_conflict.json"), &res); err != nil {
		t.Fatal(err)
	}
	// The caller's documents 10..14 were sent as these five actions.
	err := bulkErrors(res, []int{10, 11, 12, 13, 14})
	var be *BulkError
	if !errors.As(err, &be) {
		t.Fatalf("bulkErrors = %v, want *BulkError", err)
	}
	want := "elasticsearch refused 1 document(s); document 12: version_conflict_engine_exception: [109487]: version conflict, document already exists (current version [1])"
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
	res.Errors = false
	if err := bulkErrors(res, nil); err != nil {
		t.Errorf("errors:false → %v, want nil", err)
	}
}

func TestMatchStreams(t *testing.T) {
	streams := []string{
		"auditbeat-run1",
		"logs-endpoint.events.network-run1",
		"logs-endpoint.events.process-run1",
		"logs-sysmon_linux.log-run1",
	}
	tests := []struct {
		patterns []string
		want     []string
	}{
		{[]string{"logs-endpoint.events.*"}, streams[1:3]},
		{[]string{"logs-endpoint.events.network-*"}, streams[1:2]},
		{[]string{"auditbeat-*", "logs-sysmon_linux.log-*"}, []string{streams[0], streams[3]}},
		{[]string{"logs-*", "-logs-endpoint.events.process-*"}, []string{streams[1], streams[3]}},
		{[]string{"logs-*,-*process*"}, []string{streams[1], streams[3]}},
		{[]string{"winlogbeat-*"}, nil},
		{nil, streams},
		{[]string{"*"}, streams},
		{[]string{"logs-endpoint.events.network-run1"}, streams[1:2]},
	}
	for _, tt := range tests {
		if got := matchStreams(streams, tt.patterns); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("matchStreams(%q) = %q, want %q", tt.patterns, got, tt.want)
		}
	}
}

func TestWildcard(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "logs-x", true},
		{"logs-*", "logs-", true},
		{"logs-*", "log", false},
		{"*-run1", "auditbeat-run1", true},
		{"*-run1", "auditbeat-run2", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbYcZ", false},
		{"a*b", "abab", true},
		{"**b", "ab", true},
		{"a*a*a", "aa", false},
		{"logs-endpoint.events.network-run1", "logs-endpoint.events.network-run1", true},
	}
	for _, tt := range tests {
		if got := wildcard(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcard(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
	// A rule file's index pattern is input: many stars that cannot match
	// must not take exponential time.
	pattern := strings.Repeat("*a", 30) + "*b"
	s := strings.Repeat("a", 200)
	done := make(chan bool, 1)
	go func() { done <- wildcard(pattern, s) }()
	select {
	case got := <-done:
		if got {
			t.Errorf("wildcard(%q, %q) = true, want false", pattern, s)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("wildcard(%q, %q) still running after 5s", pattern, s)
	}
}

func TestNamespace(t *testing.T) {
	tests := []struct{ in, want string }{
		{"20261126T230000-3f2a", "20261126t230000_3f2a"},
		{"CI run #42 / main", "ci_run__42___main"},
		{"-_.x", "x"},
		{"", "default"},
		{strings.Repeat("a", 150), strings.Repeat("a", 100)},
	}
	for _, tt := range tests {
		if got := Namespace(tt.in); got != tt.want {
			t.Errorf("Namespace(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStreamFor(t *testing.T) {
	tests := []struct {
		name string
		doc  ecs.Document
		want string
		err  bool
	}{
		{"agent data stream", ecs.Document{"data_stream": map[string]any{"type": "logs", "dataset": "endpoint.events.network", "namespace": "default"}}, "logs-endpoint.events.network-ns", false},
		{"flattened keys", ecs.Document{"data_stream.type": "logs", "data_stream.dataset": "sysmon_linux.log"}, "logs-sysmon_linux.log-ns", false},
		{"beats", ecs.Document{"agent": map[string]any{"type": "auditbeat"}}, "auditbeat-ns", false},
		{"nothing", ecs.Document{"event": map[string]any{"category": "network"}}, "", true},
	}
	for _, tt := range tests {
		got, err := streamFor(tt.doc, "ns")
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("%s: streamFor = %q, %v; want %q (error %v)", tt.name, got, err, tt.want, tt.err)
		}
	}
}

func TestTemplateBody(t *testing.T) {
	body := templateBody("run1")
	if got := body["index_patterns"]; !reflect.DeepEqual(got, []string{"*-run1"}) {
		t.Errorf("index_patterns = %v", got)
	}
	if p := body["priority"].(int); p <= 200 || p == templatePriority("run2") {
		t.Errorf("priority = %d: want above Fleet's 200 and distinct per run", p)
	}
	props := body["template"].(map[string]any)["mappings"].(map[string]any)["properties"].(map[string]any)
	typeOf := func(path string) string {
		m := props
		parts := strings.Split(path, ".")
		for _, p := range parts[:len(parts)-1] {
			m = m[p].(map[string]any)["properties"].(map[string]any)
		}
		return m[parts[len(parts)-1]].(map[string]any)["type"].(string)
	}
	for path, want := range map[string]string{
		"@timestamp":               "date",
		"destination.port":         "long",
		"process.name":             "keyword",
		"process.parent.entity_id": "keyword",
		"event.type":               "keyword",
		"destination.ip":           "ip",
	} {
		if got := typeOf(path); got != want {
			t.Errorf("mapping of %s = %q, want %q", path, got, want)
		}
	}
	if _, err := json.Marshal(body); err != nil {
		t.Errorf("template does not marshal: %v", err)
	}
}

func TestWithNamespace(t *testing.T) {
	ds := map[string]any{"type": "logs", "dataset": "endpoint.events.network", "namespace": "default"}
	tests := []struct {
		name string
		doc  ecs.Document
		want any // data_stream.namespace afterwards; nil: absent
	}{
		{"nested", ecs.Document{"data_stream": ds}, "run1"},
		{"flattened", ecs.Document{"data_stream.type": "logs", "data_stream.namespace": "default"}, "run1"},
		{"beats", ecs.Document{"agent": map[string]any{"type": "auditbeat"}}, nil},
	}
	for _, tt := range tests {
		out := withNamespace(tt.doc, "run1")
		if v, _ := out.Lookup("data_stream.namespace"); v != tt.want {
			t.Errorf("%s: data_stream.namespace = %v, want %v", tt.name, v, tt.want)
		}
	}
	if ds["namespace"] != "default" {
		t.Errorf("caller's document was modified: %v", ds)
	}
}

// TestSearchAllGrowsSize checks the paging loop: the size grows until a
// response holds fewer results than asked for, and stops at MaxResults.
func TestSearchAllGrowsSize(t *testing.T) {
	for _, total := range []int{0, 999, 1000, 5000, 20000} {
		var sizes []int
		res, err := searchAll(context.Background(), eql.Request{Query: "q"}, func(_ context.Context, r eql.Request) (*eql.Response, error) {
			sizes = append(sizes, r.Size)
			return &eql.Response{Hits: eql.Hits{Total: eql.Total{Value: min(total, r.Size), Relation: "eq"}}}, nil
		})
		switch {
		case total > MaxResults:
			if !errors.Is(err, ErrTruncated) || res == nil {
				t.Errorf("total %d: err = %v, want ErrTruncated with the response", total, err)
			}
		case err != nil || res.Hits.Total.Value != total:
			t.Errorf("total %d: got %v, %v (sizes %v)", total, res, err, sizes)
		}
		if last := sizes[len(sizes)-1]; last > MaxResults {
			t.Errorf("total %d: asked for size %d > MaxResults", total, last)
		}
	}
}

func TestOpenWithoutClusterNamesRemedies(t *testing.T) {
	image := "docker.elastic.co/elasticsearch/elasticsearch:0.0.0-purpleharness-absent"
	_, err := Open(context.Background(), Options{Image: image})
	if !errors.Is(err, ErrNoCluster) {
		t.Fatalf("Open = %v, want ErrNoCluster", err)
	}
	for _, want := range []string{image, "docker pull " + image, "--es-url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestRequestBody(t *testing.T) {
	tests := []struct {
		req  eql.Request
		want string
	}{
		{eql.Request{Query: "any where true"}, `{"query":"any where true"}`},
		{eql.Request{Query: "q", Size: 5, ResultPosition: "head", TiebreakerField: "serial_event_id"}, `{"query":"q","size":5,"result_position":"head","tiebreaker_field":"serial_event_id"}`},
		{eql.Request{Query: "q", Size: -1, FetchSize: 7}, `{"fetch_size":7,"query":"q","size":0}`},
	}
	for _, tt := range tests {
		got, err := requestBody(tt.req)
		if err != nil || string(got) != tt.want {
			t.Errorf("requestBody(%+v) = %s, %v; want %s", tt.req, got, err, tt.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a, b := ecs.Document{"x": 1}, ecs.Document{"x": 1}
	if fingerprint([]ecs.Document{a, b}) != fingerprint([]ecs.Document{a, b}) {
		t.Error("same documents, different fingerprints")
	}
	if fingerprint([]ecs.Document{a, b}) == fingerprint([]ecs.Document{b, a}) {
		t.Error("reordered documents, same fingerprint")
	}
	if fingerprint([]ecs.Document{a}) == fingerprint([]ecs.Document{a, b}) {
		t.Error("different sets, same fingerprint")
	}
}

func TestDisagreement(t *testing.T) {
	es, err := DecodeResponse(readTestdata(t, "eql_sequence_response.json"))
	if err != nil {
		t.Fatal(err)
	}
	same, _ := DecodeResponse(readTestdata(t, "eql_sequence_response.json"))
	// The embedded engine holds numbers as the producer typed them and
	// names its own index and ids.
	same.Hits.Sequences[0].JoinKeys = []any{2012}
	same.Hits.Sequences[0].Events[0].Index, same.Hits.Sequences[0].Events[0].ID = "events", "0"
	same.Hits.Sequences[0].Events[0].Source.Set("file.size", 16384)
	if d := Disagreement(es, same); d != "" {
		t.Errorf("Disagreement(same answer) = %q, want none", d)
	}
	other, _ := DecodeResponse(readTestdata(t, "eql_sequence_response.json"))
	other.Hits.Sequences[0].Events[1].Source.Set("process.name", "REGSVR32.EXE")
	d := Disagreement(es, other)
	if !strings.HasPrefix(d, "sequence 0 event 1 differs:") || !strings.Contains(d, "REGSVR32.EXE") {
		t.Errorf("Disagreement(other process.name) = %q", d)
	}
	other.Hits.Sequences[0].JoinKeys = []any{"2012"}
	if d := Disagreement(es, other); d != `sequence 0: join keys [2012] in elasticsearch, ["2012"] in the embedded engine` {
		t.Errorf("Disagreement(string join key) = %q", d)
	}
	other.Hits.Total.Value = 2
	if d := Disagreement(es, other); d != "elasticsearch found 1, the embedded engine 2" {
		t.Errorf("Disagreement(total) = %q", d)
	}
}

func TestLiveRequest(t *testing.T) {
	from := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	to := from.Add(90 * time.Second)
	req, err := liveRequest(eql.Request{Query: "q", Filter: json.RawMessage(`{"term":{"agent.type":"endpoint"}}`)}, Window{From: from, To: to, Hosts: []string{"h1"}})
	if err != nil {
		t.Fatal(err)
	}
	body, err := requestBody(req)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"query":"q","filter":{"bool":{"filter":[{"range":{"@timestamp":{"format":"strict_date_optional_time_nanos","gte":"2026-11-26T23:00:00Z","lte":"2026-11-26T23:01:30Z"}}},{"terms":{"host.name":["h1"]}},{"term":{"agent.type":"endpoint"}}]}}}`
	if string(body) != want {
		t.Errorf("live request body:\n%s\nwant\n%s", body, want)
	}
	if _, err := liveRequest(eql.Request{Query: "q"}, Window{From: to, To: from}); err == nil {
		t.Error("reversed window accepted")
	}
}

// TestErrorForRule maps a real verification error to the rule file.
func TestErrorForRule(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/r.toml"
	// The recorded error is for the query below (its category was a
	// generated test name): ES says 1:25, at ddl.name. The query starts on
	// file line 4, column 12.
	body := "[rule]\ntype = \"eql\"\nname = \"r\"\nquery = '''test1700000000000 where ddl.name != null'''\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e := parseError(400, readTestdata(t, "eql_unknown_column.json"))
	re := e.ForRule(&rs[0])
	if want := path + ":4:36: Unknown column [ddl.name]"; re.Error() != want {
		t.Errorf("ForRule = %q, want %q", re.Error(), want)
	}
	if !errors.Is(re, re.Err) {
		t.Error("RuleError does not unwrap to the Elasticsearch error")
	}
}

// TestRuleRequestBody checks the _eql/search body the backend sends for
// rules that set their own request parameters: event_category_field,
// timestamp_field and tiebreaker_field as Kibana's rule executor sends
// them (security_solution rule_types/eql/build_eql_search_request.ts; the
// parameter names are Elasticsearch's, EqlSearchRequest), and none of them
// for a rule that sets none, so Elasticsearch's defaults apply.
// timestamp_override is not a request parameter: it picks the field of
// the rule's time window (TestLiveRequestTimestampOverride).
func TestRuleRequestBody(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"s3_logging_off.toml", `{"query":"info where data_stream.dataset == \"aws.cloudtrail\"\n  and event.provider == \"s3.amazonaws.com\"\n  and event.action == \"PutBucketLogging\"\n  and event.outcome == \"success\"\n","size":10000,"event_category_field":"event.type"}`},
		{"trail_then_logging.ndjson", `{"query":"sequence by user.name with maxspan=1h\n  [info where event.action == \"StopLogging\"]\n  [info where event.action == \"PutBucketLogging\"]","size":10000,"timestamp_field":"event.created","event_category_field":"event.type"}`},
		{"exec_then_connect.toml", `{"query":"sequence by process.entity_id\n  [process where event.action == \"exec\"]\n  [network where event.action == \"connection_attempted\" and destination.port == 110]\n","size":10000,"tiebreaker_field":"event.sequence"}`},
		{"saved_object.ndjson", `{"query":"info where event.action == \"PutBucketLogging\"","size":10000,"timestamp_field":"event.created","tiebreaker_field":"event.sequence","event_category_field":"event.type"}`},
	}
	for _, tc := range tests {
		rs, err := rules.Load("../../rules/testdata/overrides/" + tc.file)
		if err != nil || len(rs) != 1 {
			t.Fatalf("load %s: %v (%d rules)", tc.file, err, len(rs))
		}
		req := rs[0].Request()
		req.Size = 10000
		body, err := requestBody(req)
		if err != nil {
			t.Fatal(err)
		}
		if string(body) != tc.want {
			t.Errorf("%s: request body\n%s\nwant\n%s", tc.file, body, tc.want)
		}
	}
	r := published(t)
	body, err := requestBody(r.Request())
	if err != nil {
		t.Fatal(err)
	}
	if s := string(body); strings.Contains(s, "_field") {
		t.Errorf("published rule (no parameters): body %s names a field parameter", s)
	}
}

// TestLiveRequestTimestampOverride: a rule's timestamp_override moves the
// live window to that field with Kibana's fallback to @timestamp for
// documents without it (buildTimeRangeFilter), or without the fallback
// when timestamp_override_fallback_disabled is set.
func TestLiveRequestTimestampOverride(t *testing.T) {
	from := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	to := from.Add(time.Minute)
	rng := func(f string) string {
		return `{"range":{"` + f + `":{"format":"strict_date_optional_time_nanos","gte":"2026-12-04T10:00:00Z","lte":"2026-12-04T10:01:00Z"}}}`
	}
	tests := []struct {
		name string
		rule rules.Rule
		want string
	}{
		{"none", rules.Rule{}, rng("@timestamp")},
		{"override with fallback", rules.Rule{TimestampOverride: "event.ingested"},
			`{"bool":{"minimum_should_match":1,"should":[` + rng("event.ingested") + `,{"bool":{"filter":[` + rng("@timestamp") + `,{"bool":{"must_not":{"exists":{"field":"event.ingested"}}}}]}}]}}`},
		{"override without fallback", rules.Rule{TimestampOverride: "event.ingested", TimestampOverrideFallbackDisabled: true}, rng("event.ingested")},
		{"override is @timestamp", rules.Rule{TimestampOverride: "@timestamp"}, rng("@timestamp")},
		// timestamp_field orders events; it does not move the window.
		{"timestamp_field", rules.Rule{TimestampField: "event.created"}, rng("@timestamp")},
	}
	for _, tc := range tests {
		req := tc.rule.Request()
		req.Query = "q"
		live, err := liveRequest(req, Window{From: from, To: to}.ForRule(&tc.rule))
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"bool":{"filter":[` + tc.want + `]}}`; string(live.Filter) != want {
			t.Errorf("%s: filter\n%s\nwant\n%s", tc.name, live.Filter, want)
		}
	}
}

// TestDefendTemplate: the run's Defend event streams get Defend's own
// mapping, above the run's ECS template, so Elasticsearch searches them
// through the mapping the embedded engine uses (ecs.IndexMappingJSON).
func TestDefendTemplate(t *testing.T) {
	ts := runTemplates("run1")
	if len(ts) != 2 || ts[0].name != "purpleharness-run1" || ts[1].name != "purpleharness-run1-endpoint" {
		t.Fatalf("templates: %+v", ts)
	}
	d := ts[1].body
	if got := d["index_patterns"]; !reflect.DeepEqual(got, []string{"logs-endpoint.events.*-run1"}) {
		t.Errorf("index_patterns = %v", got)
	}
	if d["priority"].(int) <= ts[0].body["priority"].(int) {
		t.Errorf("priority %v is not above the ECS template's %v", d["priority"], ts[0].body["priority"])
	}
	mappings := d["template"].(map[string]any)["mappings"].(map[string]any)
	if mappings["dynamic"] != false {
		t.Errorf("dynamic = %v, want false as in Defend's templates", mappings["dynamic"])
	}
	body, err := json.Marshal(mappings)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ecs.IndexMappingJSON(ecs.Endpoint)
	var a, b any
	json.Unmarshal(body, &a)
	json.Unmarshal(want, &b)
	if !reflect.DeepEqual(a, b) {
		t.Error("the template's mappings differ from ecs.IndexMappingJSON(Endpoint)")
	}
	name := a.(map[string]any)["properties"].(map[string]any)["process"].(map[string]any)["properties"].(map[string]any)["name"].(map[string]any)
	if name["type"] != "keyword" || name["fields"].(map[string]any)["caseless"].(map[string]any)["normalizer"] != "lowercase" {
		t.Errorf("process.name = %v, want a keyword with a lowercase-normalized caseless sub-field", name)
	}
	if _, err := eql.ParseMapping(body); err != nil {
		t.Errorf("the template's mappings do not parse: %v", err)
	}
}
