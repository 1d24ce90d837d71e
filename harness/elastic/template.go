package elastic

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	"github.com/purpleharness/purpleharness/ecs"
)

// ecsFields are the fields the index template maps explicitly, with the
// types Elastic Defend's and ECS's own templates give them. Mapping them
// all, present in our events or not, matters: EQL fails a query with
// "Unknown column" for a field no searched index maps, while Elasticsearch
// with Defend's template would simply see null there. Numbers that rules
// compare (ports, pids) must be numbers, not keywords.
var ecsFields = map[string]string{
	"@timestamp": "date",
	"message":    "match_only_text",
	"tags":       "keyword",
	"labels":     "object",

	"agent.id": "keyword", "agent.name": "keyword", "agent.type": "keyword", "agent.version": "keyword",
	"data_stream.type": "constant_keyword", "data_stream.dataset": "constant_keyword", "data_stream.namespace": "constant_keyword",
	"ecs.version": "keyword",

	"event.action": "keyword", "event.category": "keyword", "event.type": "keyword", "event.kind": "keyword",
	"event.outcome": "keyword", "event.dataset": "keyword", "event.module": "keyword", "event.id": "keyword",
	"event.code": "keyword", "event.provider": "keyword", "event.sequence": "long", "event.created": "date",
	"event.ingested": "date", "event.duration": "long",

	"host.name": "keyword", "host.hostname": "keyword", "host.id": "keyword", "host.ip": "ip",
	"host.mac": "keyword", "host.architecture": "keyword", "host.containerized": "boolean",
	"host.os.type": "keyword", "host.os.family": "keyword", "host.os.name": "keyword", "host.os.kernel": "keyword",
	"host.os.platform": "keyword", "host.os.version": "keyword", "host.os.full": "keyword",

	"user.id": "keyword", "user.name": "keyword", "user.domain": "keyword",
	"user.group.id": "keyword", "user.group.name": "keyword",
	"user.effective.id": "keyword", "user.effective.name": "keyword",

	"process.entity_id": "keyword", "process.pid": "long", "process.name": "keyword",
	"process.executable": "keyword", "process.args": "keyword", "process.args_count": "long",
	"process.command_line": "wildcard", "process.working_directory": "keyword",
	"process.start": "date", "process.end": "date", "process.exit_code": "long",
	"process.hash.sha256": "keyword", "process.hash.md5": "keyword",
	"process.interactive": "boolean", "process.title": "keyword",
	"process.user.id": "keyword", "process.user.name": "keyword",
	"process.group.id": "keyword", "process.group.name": "keyword",
	"process.parent.entity_id": "keyword", "process.parent.pid": "long", "process.parent.name": "keyword",
	"process.parent.executable": "keyword", "process.parent.args": "keyword",
	"process.parent.args_count": "long", "process.parent.command_line": "wildcard",
	"process.entry_leader.entity_id": "keyword", "process.session_leader.entity_id": "keyword",
	"process.group_leader.entity_id": "keyword",

	"network.transport": "keyword", "network.protocol": "keyword", "network.direction": "keyword",
	"network.type": "keyword", "network.iana_number": "keyword", "network.community_id": "keyword",
	"source.ip": "ip", "source.port": "long", "source.address": "keyword", "source.domain": "keyword",
	"source.bytes": "long", "source.packets": "long",
	"destination.ip": "ip", "destination.port": "long", "destination.address": "keyword",
	"destination.domain": "keyword", "destination.bytes": "long", "destination.packets": "long",
	"server.ip": "ip", "server.port": "long", "client.ip": "ip", "client.port": "long",
	"url.full": "wildcard", "url.domain": "keyword", "url.scheme": "keyword",

	"dns.question.name": "keyword", "dns.question.type": "keyword",
	"file.path": "keyword", "file.name": "keyword", "file.extension": "keyword", "file.directory": "keyword",

	"auditd.data.syscall": "keyword", "auditd.data.a0": "keyword", "auditd.message_type": "keyword",
	"auditd.result": "keyword", "auditd.sequence": "long", "auditd.summary.actor.primary": "keyword",
	"auditd.summary.object.primary": "keyword", "auditd.summary.how": "keyword",
}

// templateBody is the composable index template for one run: data streams
// whose names end in -<namespace>, one shard (so Elasticsearch's implicit
// tiebreak, the shard doc order, is ingest order — the order the embedded
// engine uses last), no replicas (single-node test clusters stay green),
// and the ECS mapping above. Strings not listed map to keyword, as in
// Elastic Agent's templates, never to analysed text.
func templateBody(namespace string) map[string]any {
	return map[string]any{
		"index_patterns": []string{"*-" + namespace},
		"data_stream":    map[string]any{},
		"priority":       templatePriority(namespace),
		"template": map[string]any{
			"settings": map[string]any{
				"number_of_shards":   1,
				"number_of_replicas": 0,
			},
			"mappings": map[string]any{
				"dynamic_templates": []any{
					map[string]any{"strings_as_keyword": map[string]any{
						"match_mapping_type": "string",
						"mapping":            map[string]any{"type": "keyword", "ignore_above": 1024},
					}},
				},
				"properties": properties(ecsFields),
			},
		},
		"_meta": map[string]any{
			"managed_by":  "purpleharness",
			"description": "ECS mapping for one purpleharness run; deleted with the run's data streams",
		},
	}
}

// namedTemplate is an index template and the name it is installed under.
type namedTemplate struct {
	name string
	body map[string]any
}

// runTemplates are the index templates of one run, in the order they are
// installed: the run's ECS template for every stream, and above it, for
// Elastic Defend's event streams, the mapping Defend's own templates give
// them (ecs.IndexMappingJSON: elastic/endpoint-package's fields with their
// multi-fields, normalizers and ignore_above, dynamic: false), the mapping
// the embedded engine searches those streams through.
func runTemplates(namespace string) []namedTemplate {
	return []namedTemplate{
		{"purpleharness-" + namespace, templateBody(namespace)},
		{"purpleharness-" + namespace + "-endpoint", defendTemplateBody(namespace)},
	}
}

// defendTemplateBody is the template of the run's Elastic Defend event
// streams: templateBody's settings with Defend's mapping, at a priority
// above the run's ECS template (both match those streams).
func defendTemplateBody(namespace string) map[string]any {
	var mappings map[string]any
	body, _ := ecs.IndexMappingJSON(ecs.Endpoint)
	if err := json.Unmarshal(body, &mappings); err != nil {
		panic("elastic: the Defend mapping is not JSON: " + err.Error()) // ecs builds it with json.Marshal
	}
	t := templateBody(namespace)
	t["index_patterns"] = []string{"logs-endpoint.events.*-" + namespace}
	t["priority"] = templatePriority(namespace) + 1
	t["template"].(map[string]any)["mappings"] = mappings
	t["_meta"] = map[string]any{
		"managed_by":  "purpleharness",
		"description": "Elastic Defend's event mapping for one purpleharness run; deleted with the run's data streams",
	}
	return t
}

// properties turns dotted field paths into nested mapping properties.
func properties(fields map[string]string) map[string]any {
	root := map[string]any{}
	paths := make([]string, 0, len(fields))
	for p := range fields {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		m := root
		parts := strings.Split(p, ".")
		for _, part := range parts[:len(parts)-1] {
			obj, ok := m[part].(map[string]any)
			if !ok {
				obj = map[string]any{"properties": map[string]any{}}
				m[part] = obj
			}
			m = obj["properties"].(map[string]any)
		}
		m[parts[len(parts)-1]] = map[string]any{"type": fields[p]}
	}
	return root
}

// templatePriority is above the built-in logs template (100) and Fleet's
// integration templates (200), so our mapping wins for our streams, and
// differs from run to run: Elasticsearch refuses a template whose patterns
// may overlap another's of the same priority, and while "*-<ns1>" and
// "*-<ns2>" cannot match one name, distinct priorities keep concurrent runs
// clear of that check altogether.
func templatePriority(namespace string) int {
	h := fnv.New32a()
	h.Write([]byte(namespace))
	return 1000 + int(h.Sum32()%1_000_000)
}

// Namespace turns a run id into a valid data_stream.namespace: lowercase,
// at most 100 bytes, and none of the characters Elasticsearch forbids in
// index names, nor '-', which separates the parts of a data stream name.
func Namespace(runID string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(runID) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 100 {
			break
		}
	}
	ns := strings.TrimLeft(b.String(), "_.")
	if ns == "" {
		ns = "default"
	}
	return ns
}

// streamFor names the data stream a document goes to, following the data
// stream naming scheme <type>-<dataset>-<namespace>. Documents that carry
// data_stream.type and data_stream.dataset (Elastic Agent profiles) keep
// theirs; Beats documents, which have none, go to <agent.type>-<namespace>
// ("auditbeat-<ns>") so that rules written for auditbeat-* find them.
func streamFor(d ecs.Document, namespace string) (string, error) {
	typ, _ := d.Lookup("data_stream.type")
	ds, _ := d.Lookup("data_stream.dataset")
	ts, tok := typ.(string)
	dss, dok := ds.(string)
	if tok && dok && ts != "" && dss != "" {
		return ts + "-" + dss + "-" + namespace, nil
	}
	if at, _ := d.Lookup("agent.type"); at != nil {
		if s, ok := at.(string); ok && s != "" {
			return strings.ToLower(s) + "-" + namespace, nil
		}
	}
	return "", fmt.Errorf("document names no data stream (data_stream.type/dataset) nor agent.type")
}
