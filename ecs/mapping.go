package ecs

import (
	"encoding/json"
	"sort"
	"strings"
)

// Field types per profile, as the real source's index template maps them
// (ECS types for ECS fields; the endpoint package, Auditbeat's fields.yml
// and the sysmon_linux package for the rest). Elasticsearch queries the
// mapped type, not the JSON type in _source: Auditbeat sends
// destination.port as the string "25" and Elastic Defend sends user.id as
// the number 0, yet `destination.port == 25` and `user.id == "0"` match,
// because the fields are mapped long and keyword. An embedded engine must
// coerce by this mapping to agree with Elasticsearch.
//
// A constant_keyword with a value is written "constant_keyword=value".
// Every field a renderer emits is listed here (TestMappingCoversRendered)
// and in docs/profiles.md (TestDocsListFields).

const commonHostFields = `
host.architecture keyword
host.hostname keyword
host.id keyword
host.ip ip
host.mac keyword
host.name keyword
host.os.family keyword
host.os.kernel keyword
host.os.name keyword
host.os.platform keyword
host.os.type keyword
host.os.version keyword
`

const endpointProcessFields = `
entity_id keyword
pid long
executable keyword
name keyword
args keyword
args_count long
command_line wildcard
start date
working_directory keyword
interactive boolean
user.id keyword
user.name keyword
group.id keyword
group.name keyword
real_user.id keyword
real_user.name keyword
real_group.id keyword
real_group.name keyword
`

var endpointFields = `
@timestamp date
agent.id keyword
agent.type keyword
agent.version keyword
data_stream.dataset constant_keyword
data_stream.namespace constant_keyword
data_stream.type constant_keyword
destination.address keyword
destination.ip ip
destination.port long
ecs.version keyword
elastic.agent.id keyword
event.action keyword
event.category keyword
event.created date
event.dataset keyword
event.id keyword
event.kind keyword
event.module keyword
event.outcome keyword
event.sequence long
event.type keyword
group.Ext.real.id keyword
group.Ext.real.name keyword
group.id keyword
group.name keyword
host.os.Ext.variant keyword
host.os.full keyword
message match_only_text
network.transport keyword
network.type keyword
process.Ext.ancestry keyword
source.address keyword
source.ip ip
source.port long
user.Ext.real.id keyword
user.Ext.real.name keyword
user.id keyword
user.name keyword
network.direction keyword
source.bytes long
destination.bytes long
process.exit_code long
process.end date
process.previous.args keyword
process.previous.args_count long
process.previous.executable keyword
process.entry_leader.entry_meta.type keyword
process.entry_leader.entry_meta.source.ip ip
process.entry_leader.parent.entity_id keyword
process.entry_leader.parent.pid long
process.entry_leader.parent.start date
process.group_leader.same_as_process boolean
process.session_leader.same_as_process boolean
process.entry_leader.same_as_process boolean
` + commonHostFields + prefixed("process.", endpointProcessFields) + prefixed("process.parent.", endpointProcessFields) +
	prefixed("process.group_leader.", endpointProcessFields) + prefixed("process.session_leader.", endpointProcessFields) +
	prefixed("process.entry_leader.", endpointProcessFields)

var auditbeatFields = `
@timestamp date
agent.id keyword
agent.name keyword
agent.type keyword
agent.version keyword
auditd.data.arch keyword
auditd.data.argc keyword
auditd.data.exit keyword
auditd.data.socket.addr keyword
auditd.data.socket.family keyword
auditd.data.socket.port keyword
auditd.data.syscall keyword
auditd.data.tty keyword
auditd.message_type keyword
auditd.result keyword
auditd.sequence long
auditd.session keyword
auditd.summary.actor.primary keyword
auditd.summary.actor.secondary keyword
auditd.summary.how keyword
auditd.summary.object.primary keyword
auditd.summary.object.secondary keyword
auditd.summary.object.type keyword
destination.ip ip
destination.port long
ecs.version keyword
event.action keyword
event.category keyword
event.kind keyword
event.module keyword
event.outcome keyword
event.type keyword
host.containerized boolean
host.os.codename keyword
network.direction keyword
process.args keyword
process.executable keyword
process.name keyword
process.parent.pid long
process.pid long
process.title keyword
process.working_directory keyword
service.type keyword
source.ip ip
source.port long
tags keyword
user.audit.id keyword
user.audit.name keyword
user.effective.group.id keyword
user.effective.group.name keyword
user.effective.id keyword
user.effective.name keyword
user.group.id keyword
user.group.name keyword
user.id keyword
user.name keyword
` + commonHostFields

var sysmonFields = `
@timestamp date
agent.id keyword
agent.name keyword
agent.type keyword
agent.version keyword
data_stream.dataset constant_keyword
data_stream.namespace constant_keyword
data_stream.type constant_keyword
destination.ip ip
destination.port long
ecs.version keyword
elastic_agent.id keyword
elastic_agent.snapshot boolean
elastic_agent.version keyword
event.action keyword
event.category keyword
event.code keyword
event.created date
event.dataset constant_keyword=sysmon_linux.log
event.kind keyword
event.module constant_keyword=sysmon_linux
event.provider keyword
event.type keyword
host.containerized boolean
host.os.codename keyword
input.type keyword
log.level keyword
network.community_id keyword
network.direction keyword
network.transport keyword
network.type keyword
process.args keyword
process.args_count long
process.command_line wildcard
process.entity_id keyword
process.executable keyword
process.name keyword
process.parent.args keyword
process.parent.args_count long
process.parent.command_line wildcard
process.parent.entity_id keyword
process.parent.executable keyword
process.parent.pid long
process.pid long
process.working_directory keyword
related.ip ip
source.ip ip
source.port long
winlog.channel keyword
winlog.computer_name keyword
winlog.event_data.IntegrityLevel keyword
winlog.event_id keyword
winlog.opcode keyword
winlog.provider_guid keyword
winlog.record_id keyword
winlog.version long
` + commonHostFields

func prefixed(prefix, table string) string {
	var b strings.Builder
	for _, line := range strings.Split(table, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			b.WriteString(prefix + line + "\n")
		}
	}
	return b.String()
}

func fieldTable(p Profile) string {
	switch p {
	case Endpoint, "":
		return endpointFields
	case Auditbeat:
		return auditbeatFields
	case SysmonLinux:
		return sysmonFields
	}
	return ""
}

// Mapping returns the Elasticsearch type of every field profile p renders,
// keyed by dotted path ("destination.port": "long"). Constant keywords with
// a fixed value read "constant_keyword=value". An unknown profile has none.
func Mapping(p Profile) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(fieldTable(p), "\n") {
		if path, typ, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			m[path] = typ
		}
	}
	return m
}

// Fields returns the paths of Mapping(p), sorted.
func Fields(p Profile) []string {
	m := Mapping(p)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// MappingJSON returns Mapping(p) as an Elasticsearch mapping body,
// {"properties": {...}} with nested objects, ready for an index template's
// "mappings" or for eql.ParseMapping. It also sets "dynamic": true, which is
// what the real templates do for the fields they do not list.
func MappingJSON(p Profile) []byte {
	root := map[string]any{}
	for path, typ := range Mapping(p) {
		props := root
		parts := strings.Split(path, ".")
		for _, part := range parts[:len(parts)-1] {
			obj, ok := props[part].(map[string]any)
			if !ok {
				obj = map[string]any{"properties": map[string]any{}}
				props[part] = obj
			}
			props = obj["properties"].(map[string]any)
		}
		f := map[string]any{"type": typ}
		if t, v, ok := strings.Cut(typ, "="); ok {
			f = map[string]any{"type": t, "value": v}
		}
		props[parts[len(parts)-1]] = f
	}
	b, err := json.Marshal(map[string]any{"dynamic": true, "properties": root})
	if err != nil {
		panic("ecs: marshal mapping: " + err.Error()) // maps of strings always marshal
	}
	return b
}
