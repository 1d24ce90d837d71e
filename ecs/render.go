package ecs

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Kind is the sort of event an observation becomes: it selects the data
// stream (Elastic Defend writes process and network events to different
// ones) and the EQL event category.
type Kind string

const (
	ProcessKind Kind = "process"
	NetworkKind Kind = "network"
)

// Observation is what the renderer accepts: Fork, Exec, Exit, Connect,
// Accept or Close (by value or pointer).
type Observation interface {
	observationKind() Kind
}

func (Fork) observationKind() Kind    { return ProcessKind }
func (Exec) observationKind() Kind    { return ProcessKind }
func (Exit) observationKind() Kind    { return ProcessKind }
func (Connect) observationKind() Kind { return NetworkKind }
func (Accept) observationKind() Kind  { return NetworkKind }
func (Close) observationKind() Kind   { return NetworkKind }

// ErrNotEmitted is matched (errors.Is) by a *NotEmittedError.
var ErrNotEmitted = errors.New("the data source does not emit this event")

// NotEmittedError reports that the real data source would not have sent any
// document for an observation, and why. It is an explanation, not a failure:
// a rule that expects to fire on such an event cannot fire with this
// profile, and the report should say so.
type NotEmittedError struct {
	Profile Profile
	Kind    Kind
	Reason  string
}

func (e *NotEmittedError) Error() string {
	return fmt.Sprintf("%s sends no %s event: %s", e.Profile, e.Kind, e.Reason)
}

// Is makes errors.Is(err, ErrNotEmitted) true.
func (e *NotEmittedError) Is(target error) bool { return target == ErrNotEmitted }

// Renderer turns observations into documents shaped like one data source.
// It is a value: safe for concurrent use, and rendering the same
// observation twice gives the same document (entity and event ids are
// derived, never random), which is what golden tests and the Elasticsearch
// backend's idempotent indexing rely on.
type Renderer struct {
	Profile Profile // "" means Endpoint
	Host    Host
	Agent   Agent
	// Namespace is the data stream namespace ("default" when empty). It
	// only appears in the Elastic Agent profiles (data_stream.namespace and
	// the index name); Auditbeat writes to auditbeat-<version>.
	Namespace string
}

// ErrNotRendered is matched (errors.Is) by a *NotRenderedError.
var ErrNotRendered = errors.New("the data source sends this event but the profile does not render it")

// NotRenderedError reports that the real data source does send a document
// for an observation but this profile does not render it, because what that
// document holds is not established from the source's public description.
// It is our gap, not the rule's: a verdict that depends on the missing
// document must not blame the rule (the harness reports it as
// UNVERIFIABLE, naming Action).
type NotRenderedError struct {
	Profile Profile
	Kind    Kind
	Action  string // the event.action (or event.code) the source would send
	Reason  string
}

func (e *NotRenderedError) Error() string {
	return fmt.Sprintf("%s sends a %s event (%s) that this profile does not render: %s", e.Profile, e.Kind, e.Action, e.Reason)
}

// Is makes errors.Is(err, ErrNotRendered) true.
func (e *NotRenderedError) Is(target error) bool { return target == ErrNotRendered }

// Render renders o: a Fork, Exec, Exit, Connect, Accept or Close (or a
// pointer to one). The error is a *NotEmittedError when the profile's
// source would not have reported the observation, a *NotRenderedError when
// it would but the profile does not model that document, or a plain error
// for an unknown profile or observation type.
func (r Renderer) Render(o Observation) (Document, error) {
	switch o := o.(type) {
	case Exec:
		return r.Exec(o)
	case *Exec:
		return r.Exec(*o)
	case Connect:
		return r.Connect(o)
	case *Connect:
		return r.Connect(*o)
	case Fork:
		return r.Fork(o)
	case *Fork:
		return r.Fork(*o)
	case Exit:
		return r.Exit(o)
	case *Exit:
		return r.Exit(*o)
	case Accept:
		return r.Accept(o)
	case *Accept:
		return r.Accept(*o)
	case Close:
		return r.Close(o)
	case *Close:
		return r.Close(*o)
	}
	return nil, fmt.Errorf("render: unsupported observation %T", o)
}

// Exec renders a process start (an execve).
func (r Renderer) Exec(e Exec) (Document, error) {
	switch r.profile() {
	case Endpoint:
		return r.endpointExec(e), nil
	case Auditbeat:
		return r.auditbeatExec(e), nil
	case SysmonLinux:
		return r.sysmonExec(e), nil
	}
	return nil, r.unknownProfile()
}

// Fork renders a new process (fork/clone).
func (r Renderer) Fork(f Fork) (Document, error) {
	switch r.profile() {
	case Endpoint:
		return r.endpointFork(f), nil
	case Auditbeat:
		return nil, &NotEmittedError{Auditbeat, ProcessKind,
			"go-libaudit's normalisations (aucoalesce/normalizations.yaml) list clone, fork and vfork as unhandled: Auditbeat reports process starts at execve (\"executed\")"}
	case SysmonLinux:
		return nil, &NotEmittedError{SysmonLinux, ProcessKind,
			"Sysmon for Linux has no fork event: ProcessCreate (event 1) is written at exec"}
	}
	return nil, r.unknownProfile()
}

// Exit renders the end of a process.
func (r Renderer) Exit(x Exit) (Document, error) {
	switch r.profile() {
	case Endpoint:
		return r.endpointExit(x), nil
	case Auditbeat:
		return r.auditbeatExit(x)
	case SysmonLinux:
		return r.sysmonExit(x), nil
	}
	return nil, r.unknownProfile()
}

// Connect renders a connection attempt.
func (r Renderer) Connect(c Connect) (Document, error) {
	if !c.Dest.IsValid() {
		return nil, fmt.Errorf("render %s connect (serial %d): no destination address", r.profile(), c.Serial)
	}
	switch r.profile() {
	case Endpoint:
		return r.endpointConnect(c)
	case Auditbeat:
		return r.auditbeatConnect(c), nil
	case SysmonLinux:
		return r.sysmonConnect(c)
	}
	return nil, r.unknownProfile()
}

// Accept renders an inbound connection accepted by a local process.
func (r Renderer) Accept(a Accept) (Document, error) {
	if !a.Remote.IsValid() {
		return nil, fmt.Errorf("render %s accept (serial %d): no peer address", r.profile(), a.Serial)
	}
	switch r.profile() {
	case Endpoint:
		return r.endpointAccept(a)
	case Auditbeat:
		return r.auditbeatAccept(a), nil
	case SysmonLinux:
		return nil, &NotRenderedError{SysmonLinux, NetworkKind, "event.code 3 (Initiated false)",
			"which end Sysmon for Linux writes as SourceIp/DestinationIp for an inbound connection is not established from its public sources; the sysmon_linux pipeline maps Initiated=false to network.direction \"ingress\""}
	}
	return nil, r.unknownProfile()
}

// Close renders the close of a connection.
func (r Renderer) Close(c Close) (Document, error) {
	switch r.profile() {
	case Endpoint:
		return r.endpointClose(c)
	case Auditbeat:
		return nil, &NotEmittedError{Auditbeat, NetworkKind,
			"close(2) records carry no socket address and go-libaudit has no normalisation for them: Auditbeat reports no disconnect"}
	case SysmonLinux:
		return nil, &NotEmittedError{SysmonLinux, NetworkKind,
			"Sysmon for Linux reports connections (event 3), not their end"}
	}
	return nil, r.unknownProfile()
}

// Index returns the index (data stream) the profile's source writes events
// of kind k to, e.g. "logs-endpoint.events.network-default".
func (r Renderer) Index(k Kind) string {
	ns := r.namespace()
	switch r.profile() {
	case Endpoint:
		return "logs-endpoint.events." + string(k) + "-" + ns
	case Auditbeat:
		return "auditbeat-" + r.agentVersion()
	case SysmonLinux:
		return "logs-sysmon_linux.log-" + ns
	}
	return ""
}

// IndexPattern returns the index pattern detection rules written for the
// profile's source query, e.g. "logs-endpoint.events.*".
func IndexPattern(p Profile) string {
	switch p {
	case Endpoint, "":
		return "logs-endpoint.events.*"
	case Auditbeat:
		return "auditbeat-*"
	case SysmonLinux:
		return "logs-sysmon_linux.log-*"
	}
	return ""
}

func (r Renderer) profile() Profile {
	if r.Profile == "" {
		return Endpoint
	}
	return r.Profile
}

func (r Renderer) unknownProfile() error {
	_, err := ParseProfile(string(r.Profile))
	return fmt.Errorf("render: %w", err)
}

func (r Renderer) namespace() string {
	if r.Namespace == "" {
		return "default"
	}
	return r.Namespace
}

// Versions the documents claim when Agent.Version is empty: a current 8.x
// release of each shipper.
const (
	DefaultAgentVersion = "8.17.0"
)

func (r Renderer) agentVersion() string {
	if r.Agent.Version != "" {
		return r.Agent.Version
	}
	return DefaultAgentVersion
}

func (r Renderer) agentName() string {
	if r.Agent.Name != "" {
		return r.Agent.Name
	}
	return r.Host.Name
}

// --- shared value formatting -------------------------------------------

// Timestamps: every source writes UTC with a fixed number of fractional
// digits. Elastic Defend writes 100ns ticks (7 digits, from its Windows
// heritage: "2024-06-09T13:52:06.9710234Z") and process start times in
// clock ticks (USER_HZ=100, 2 digits: "2024-06-09T13:52:06.94Z"); the Beats
// serialise time.Time with milliseconds ("2021-11-09T17:39:26.389Z").
const (
	layout100ns = "2006-01-02T15:04:05.0000000Z"
	layoutTicks = "2006-01-02T15:04:05.00Z"
	layoutMilli = "2006-01-02T15:04:05.000Z"
)

func ts(t time.Time, layout string) string { return t.UTC().Format(layout) }

// networkType is ECS network.type for an address: "ipv4" or "ipv6". An
// IPv4-mapped IPv6 address (::ffff:a.b.c.d) is what an AF_INET6 socket
// connecting to an IPv4 peer reports; the sources render the mapped form as
// IPv6, and so do we.
func networkType(a netip.Addr) string {
	if a.Is4() {
		return "ipv4"
	}
	return "ipv6"
}

// argsLine joins argv with single spaces, which is how Elastic Defend and
// Sysmon build command_line on Linux (no quoting).
func argsLine(args []string) string { return strings.Join(args, " ") }

// nonLoopback drops loopback addresses: the Beats' add_host_metadata lists
// interface addresses without them, Elastic Defend keeps them.
func nonLoopback(ips []string) []string {
	var out []string
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil && a.IsLoopback() {
			continue
		}
		out = append(out, s)
	}
	return out
}

func strs(v []string) []any {
	out := make([]any, len(v))
	for i, s := range v {
		out[i] = s
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

// setIf sets path to v unless v is the zero string.
func setIf(d Document, path, v string) {
	if v != "" {
		d.Set(path, v)
	}
}

// setList sets path to a JSON array of strings unless v is empty.
func setList(d Document, path string, v []string) {
	if len(v) > 0 {
		d.Set(path, strs(v))
	}
}
