package ecs

import (
	"path"
	"strings"
)

// A Gap is something the real data source sends that the rendered documents
// of a run lack: a field with any value, or one value of a field (an
// event.action the source sends but no document of this run carries). A
// rule that tests a gap cannot be judged on this telemetry; the harness
// reports such verdicts as UNVERIFIABLE instead of blaming the rule.
type Gap struct {
	// Field is a dotted path; "*" matches any run of characters, dots
	// included ("process.hash.*", "*.tty.*").
	Field string `json:"field"`
	// Value, when set, narrows the gap to that value of Field
	// (event.action "disconnect_received"); empty means the field itself.
	Value string `json:"value,omitempty"`
	// Why says why the documents lack it.
	Why string `json:"why"`
}

// String names the gap as a rule author reads it: `event.action ==
// "fork"` or `process.exit_code`.
func (g Gap) String() string {
	if g.Value != "" {
		return g.Field + ` == "` + g.Value + `"`
	}
	return g.Field
}

// MatchesField reports whether field is (under) the gap's field pattern.
func (g Gap) MatchesField(field string) bool {
	if !strings.Contains(g.Field, "*") {
		return field == g.Field
	}
	// path.Match's * stops at '/', never at '.': exactly "any run of
	// characters" for dotted paths.
	ok, err := path.Match(g.Field, field)
	return err == nil && ok
}

// Observes names an observation a sensor may or may not deliver; what the
// documents lack when it does not depends on the profile (Missing).
type Observes string

// What a sensor may observe beyond execs and connection attempts.
const (
	ObservesFork          Observes = "fork"           // ecs.Fork
	ObservesExit          Observes = "exit"           // ecs.Exit
	ObservesAccept        Observes = "accept"         // ecs.Accept
	ObservesClose         Observes = "close"          // ecs.Close
	ObservesConnectSource Observes = "connect-source" // Connect.Source on every attempt
	ObservesLeaders       Observes = "leaders"        // Process.GroupLeader and SessionLeader
	ObservesEntryLeader   Observes = "entry-leader"   // Process.EntryLeader and its EntryMeta
)

// Missing returns what profile p's documents lack when the sensor does not
// deliver o: the event.action values (or Sysmon event codes) and fields only
// those observations give.
func Missing(p Profile, o Observes) []Gap {
	why := "the sensor of this run does not observe " + observesWhat[o]
	g := func(field, value string) Gap { return Gap{Field: field, Value: value, Why: why} }
	switch p {
	case Endpoint, "":
		switch o {
		case ObservesFork:
			return []Gap{g("event.action", "fork")}
		case ObservesExit:
			return []Gap{g("event.action", "end"), g("process.exit_code", ""), g("process.end", "")}
		case ObservesAccept:
			return []Gap{g("event.action", "connection_accepted"), g("network.direction", "ingress")}
		case ObservesClose:
			return []Gap{g("event.action", "disconnect_received"), g("source.bytes", ""), g("destination.bytes", "")}
		case ObservesConnectSource:
			return []Gap{g("source.ip", ""), g("source.address", ""), g("source.port", "")}
		case ObservesLeaders:
			return []Gap{g("process.group_leader.*", ""), g("process.session_leader.*", "")}
		case ObservesEntryLeader:
			return []Gap{g("process.entry_leader.*", "")}
		}
	case Auditbeat:
		if o == ObservesAccept {
			return []Gap{g("event.action", "accepted-connection-from"), g("network.direction", "ingress"), g("source.ip", ""), g("source.port", "")}
		}
	case SysmonLinux:
		if o == ObservesExit {
			return []Gap{g("event.code", "5"), g("winlog.event_id", "5")}
		}
	}
	return nil
}

var observesWhat = map[Observes]string{
	ObservesFork:          "forks",
	ObservesExit:          "process exits",
	ObservesAccept:        "accepted inbound connections",
	ObservesClose:         "socket closes",
	ObservesConnectSource: "the local address of a connection attempt (only when one of the fake servers logged the accept)",
	ObservesLeaders:       "process group and session leaders",
	ObservesEntryLeader:   "the entry leader of a session (how the session was entered)",
}

// Unrendered returns what profile p's source sends that this renderer never
// renders, whatever the sensor: fields no observation carries, and events
// whose content is not established publicly (NotRenderedError).
func Unrendered(p Profile) []Gap {
	g := func(field, value, why string) Gap { return Gap{Field: field, Value: value, Why: why} }
	const noObs = "no observation carries it"
	switch p {
	case Endpoint, "":
		return []Gap{
			g("process.hash.*", "", noObs), g("*.tty.*", "", noObs),
			g("process.thread.capabilities.*", "", noObs), g("process.uptime", "", noObs),
			g("user.domain", "", noObs), g("*supplemental_groups.*", "", noObs),
			g("process.env_vars", "", noObs), g("*.Ext.command_line_truncated", "", noObs),
			g("process.Ext.trusted*", "", noObs), g("process.ai_agent.*", "", noObs),
			g("cloud.*", "", noObs), g("container.*", "", noObs), g("orchestrator.*", "", noObs),
			g("process.entry_leader.entry_meta.source.*", "", "the remote address of an entry (an sshd client) is not observed"),
		}
	case Auditbeat:
		return []Gap{
			g("auditd.data.a*", "", noObs), g("auditd.paths*", "", noObs), g("file.*", "", noObs),
			g("user.saved.*", "", noObs), g("user.filesystem.*", "", noObs),
			g("event.action", "end", "Auditbeat's exit_group event is not rendered: its record's result and exit fields are not established publicly"),
		}
	case SysmonLinux:
		return []Gap{
			g("winlog.process.*", "", noObs), g("winlog.user.*", "", noObs),
			g("winlog.event_data.LogonGuid", "", noObs), g("winlog.event_data.LogonId", "", noObs),
			g("winlog.event_data.TerminalSessionId", "", noObs), g("process.hash.*", "", noObs),
			g("network.direction", "ingress", "inbound connections (event 3, Initiated false) are not rendered: which end Sysmon for Linux writes as Source is not established publicly"),
		}
	}
	return nil
}
