package ecs

import (
	"strconv"
	"strings"
	"time"
)

// Profile SysmonLinux: Sysmon for Linux writing to syslog, collected by
// Elastic Agent's sysmon_linux integration (elastic/integrations
// packages/sysmon_linux: filestream + syslog + decode_xml_wineventlog, then
// the data stream's ingest pipeline). The document is the pipeline's output,
// quirks included, because rules run against what is indexed:
//
//   - event.action is always "log"; event.code carries the Sysmon event id
//     ("1" process create, "3" network connect).
//   - process.name is "sysmon": the pipeline renames the syslog app name
//     into process.name, and its basename script looks for a backslash, so
//     the Linux image path never replaces it. process.parent.name is absent.
//   - process.args come from splitting CommandLine with Windows rules.
//   - user.* is absent: the pipeline only splits DOMAIN\user.
//
// Sysmon reports a TCP connection when the socket reaches ESTABLISHED
// (its inet_sock_set_state probe), so a refused or unanswered attempt has
// no document; the renderer says so with a *NotEmittedError.
// docs/profiles.md lists every field.

// SysmonECSVersion is the ecs.version the sysmon_linux pipeline sets.
const SysmonECSVersion = "8.17.0"

// Sysmon for Linux's event provider, as its manifest declares it.
const (
	sysmonProvider     = "Linux-Sysmon"
	sysmonProviderGUID = "{ff032593-a8d3-4f13-b0d6-01fc615a0f97}"
	sysmonChannel      = "Linux-Sysmon/Operational"
)

func (r Renderer) sysmonCommon(d Document, code string, version int, serial uint64, t time.Time) {
	// @timestamp is the syslog header's time, parsed by Filebeat's syslog
	// processor (filestream.yml.hbs); the header (RFC 3164, "Dec  4
	// 17:33:15") has whole seconds, and the pipeline's date processor on
	// UtcTime writes back into UtcTime, not @timestamp.
	d.Set("@timestamp", ts(t.Truncate(time.Second), layoutMilli))
	setIf(d, "agent.id", r.Agent.ID)
	setIf(d, "agent.name", r.agentName())
	d.Set("agent.type", "filebeat")
	d.Set("agent.version", r.agentVersion())
	setIf(d, "elastic_agent.id", r.Agent.ID)
	d.Set("elastic_agent.snapshot", false)
	d.Set("elastic_agent.version", r.agentVersion())
	d.Set("data_stream.type", "logs")
	d.Set("data_stream.dataset", "sysmon_linux.log")
	d.Set("data_stream.namespace", r.namespace())
	d.Set("ecs.version", SysmonECSVersion)
	d.Set("input.type", "filestream")
	d.Set("event.action", "log")
	d.Set("event.code", code)
	d.Set("event.created", ts(t, layoutMilli))
	d.Set("event.dataset", "sysmon_linux.log")
	// event.module is a constant_keyword ("sysmon_linux") in the data
	// stream's mapping: Elasticsearch answers queries on it although the
	// source does not carry it. We put it in the document so the embedded
	// engine sees what Elasticsearch sees.
	d.Set("event.module", "sysmon_linux")
	d.Set("event.kind", "event")
	d.Set("event.provider", sysmonProvider)
	d.Set("log.level", "information")
	r.beatsHost(d)

	d.Set("winlog.channel", sysmonChannel)
	setIf(d, "winlog.computer_name", r.Host.Hostname)
	d.Set("winlog.event_id", code)
	d.Set("winlog.opcode", "Info")
	d.Set("winlog.provider_guid", sysmonProviderGUID)
	d.Set("winlog.record_id", strconv.FormatUint(serial, 10))
	d.Set("winlog.version", version)
	// The syslog app name, renamed into process.name by the pipeline.
	d.Set("process.name", "sysmon")
}

func (r Renderer) sysmonConnect(c Connect) (Document, error) {
	switch {
	case c.Transport == UDP:
		return nil, &NotEmittedError{SysmonLinux, NetworkKind,
			"Sysmon for Linux reports UDP when datagrams are sent or received, not on connect(2)"}
	case !c.Established && c.Result != "":
		return nil, &NotEmittedError{SysmonLinux, NetworkKind,
			"Sysmon for Linux reports a TCP connection once it is established (inet_sock_set_state SYN_SENT -> ESTABLISHED); " +
				"connect(2) returned " + c.Result + " and no peer was seen accepting it"}
	}
	d := Document{}
	r.sysmonCommon(d, "3", 5, c.Serial, c.Time)
	d.Set("event.category", []any{"network"})
	d.Set("event.type", []any{"start", "connection", "protocol"})

	p := &c.Process
	d.Set("process.entity_id", SysmonProcessGUID(r.Host.ID, p))
	d.Set("process.pid", p.PID)
	setIf(d, "process.executable", p.Executable)

	transport := c.Transport
	if transport == "" {
		transport = TCP // the probe only reports IPPROTO_TCP
	}
	d.Set("network.transport", string(transport))
	d.Set("network.direction", "egress") // Initiated="true"
	d.Set("network.type", networkType(c.Dest.Addr()))
	dst := c.Dest.Addr().String()
	d.Set("destination.ip", dst)
	d.Set("destination.port", int(c.Dest.Port()))
	related := []any{}
	if c.Source.IsValid() {
		src := c.Source.Addr().String()
		d.Set("source.ip", src)
		d.Set("source.port", int(c.Source.Port()))
		related = append(related, src)
		if id := CommunityID(c.Source, c.Dest, transport); id != "" {
			d.Set("network.community_id", id)
		}
	}
	if len(related) == 0 || related[0] != dst {
		related = append(related, dst)
	}
	d.Set("related.ip", related)
	return d, nil
}

func (r Renderer) sysmonExec(e Exec) Document {
	d := Document{}
	r.sysmonCommon(d, "1", 5, e.Serial, e.Time)
	d.Set("event.category", []any{"process"})
	d.Set("event.type", []any{"start"})

	p := &e.Process
	d.Set("process.entity_id", SysmonProcessGUID(r.Host.ID, p))
	d.Set("process.pid", p.PID)
	setIf(d, "process.executable", p.Executable)
	setIf(d, "process.working_directory", p.WorkingDirectory)
	sysmonCommandLine(d, "process.", p.Args)
	if q := p.Parent; q != nil {
		d.Set("process.parent.entity_id", SysmonProcessGUID(r.Host.ID, q))
		d.Set("process.parent.pid", q.PID)
		setIf(d, "process.parent.executable", q.Executable)
		sysmonCommandLine(d, "process.parent.", q.Args)
	} else if p.PPID > 0 {
		d.Set("process.parent.pid", p.PPID)
	}
	// Sysmon for Linux has no integrity levels; it writes this literal.
	d.Set("winlog.event_data.IntegrityLevel", "no level")
	return d
}

// sysmonExit renders ProcessTerminate (event 5, version 3): UtcTime,
// ProcessGuid, ProcessId, Image, User; the pipeline maps code 5 to
// process/end. Sysmon reports no exit code.
func (r Renderer) sysmonExit(x Exit) Document {
	d := Document{}
	r.sysmonCommon(d, "5", 3, x.Serial, x.Time)
	d.Set("event.category", []any{"process"})
	d.Set("event.type", []any{"end"})
	p := &x.Process
	d.Set("process.entity_id", SysmonProcessGUID(r.Host.ID, p))
	d.Set("process.pid", p.PID)
	setIf(d, "process.executable", p.Executable)
	return d
}

func sysmonCommandLine(d Document, prefix string, argv []string) {
	line := argsLine(argv)
	if line == "" {
		return
	}
	d.Set(prefix+"command_line", line)
	args := windowsArgv(line)
	d.Set(prefix+"args", strs(args))
	d.Set(prefix+"args_count", len(args))
}

// windowsArgv splits a command line with the Windows rules the sysmon_linux
// pipeline applies (CommandLineToArgvW, with the pre-2008 treatment of a
// doubled quote inside quotes): spaces and tabs separate arguments outside
// quotes; 2n backslashes before a quote give n backslashes and the quote
// toggles quoting; 2n+1 backslashes give n backslashes and a literal quote;
// other backslashes are literal.
func windowsArgv(cmd string) []string {
	var args []string
	for {
		cmd = strings.TrimLeft(cmd, " \t")
		if cmd == "" {
			return args
		}
		var b strings.Builder
		inQuote := false
		slashes := 0
		i := 0
	arg:
		for ; i < len(cmd); i++ {
			c := cmd[i]
			switch c {
			case '\\':
				slashes++
				continue
			case '"':
				b.WriteString(strings.Repeat(`\`, slashes/2))
				if slashes%2 == 0 {
					if inQuote && i+1 < len(cmd) && cmd[i+1] == '"' {
						b.WriteByte('"')
						i++
					}
					inQuote = !inQuote
				} else {
					b.WriteByte('"')
				}
				slashes = 0
				continue
			case ' ', '\t':
				if !inQuote {
					break arg
				}
			}
			b.WriteString(strings.Repeat(`\`, slashes))
			slashes = 0
			b.WriteByte(c)
		}
		b.WriteString(strings.Repeat(`\`, slashes))
		args = append(args, b.String())
		if i >= len(cmd) {
			return args
		}
		cmd = cmd[i+1:]
	}
}
