package fakemail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/purpleharness/purpleharness/yamlerr"
)

// Protocol is a mail protocol as it appears in evidence.
type Protocol string

// The protocols served.
const (
	ProtoSMTP Protocol = "smtp"
	ProtoPOP3 Protocol = "pop3"
	ProtoIMAP Protocol = "imap"
)

// Service is one listener: a protocol on a port with a TLS mode. The names
// are the IANA service names of the canonical ports.
type Service string

// The services, with their canonical ports.
const (
	SMTP       Service = "smtp"       // 25: plain, STARTTLS offered (RFC 5321, RFC 3207)
	Submission Service = "submission" // 587: STARTTLS, AUTH PLAIN/LOGIN (RFC 6409)
	SMTPS      Service = "smtps"      // 465: implicit TLS (RFC 8314)
	POP3       Service = "pop3"       // 110: plain, STLS offered (RFC 1939, RFC 2595)
	POP3S      Service = "pop3s"      // 995: implicit TLS
	IMAP       Service = "imap"       // 143: plain, STARTTLS offered (RFC 3501)
	IMAPS      Service = "imaps"      // 993: implicit TLS
)

// Services lists every service in start order.
var Services = []Service{SMTP, Submission, SMTPS, POP3, POP3S, IMAP, IMAPS}

// Protocol returns the service's protocol.
func (s Service) Protocol() Protocol {
	switch s {
	case SMTP, Submission, SMTPS:
		return ProtoSMTP
	case POP3, POP3S:
		return ProtoPOP3
	case IMAP, IMAPS:
		return ProtoIMAP
	}
	return ""
}

// Port returns the canonical port, 0 for an unknown service.
func (s Service) Port() int {
	return map[Service]int{SMTP: 25, Submission: 587, SMTPS: 465, POP3: 110, POP3S: 995,
		IMAP: 143, IMAPS: 993}[s]
}

// ImplicitTLS reports whether the service speaks TLS from the first byte.
func (s Service) ImplicitTLS() bool { return s == SMTPS || s == POP3S || s == IMAPS }

func (s Service) valid() bool { return s.Port() != 0 }

// Defaults of the default configuration: the account the atomics use.
const (
	DefaultHost     = "127.0.0.1"
	DefaultDomain   = "purpleharness.test"
	DefaultLogin    = "c2"
	DefaultPassword = "atomic-red"
	DefaultAddress  = "c2@purpleharness.test"
)

// Config configures Start. The zero value of each field means its default;
// DefaultConfig adds the default account.
type Config struct {
	// Host is the address every listener binds: 127.0.0.1 unless set.
	Host string
	// Ports overrides canonical ports per service; 0 picks a free port.
	Ports map[Service]int
	// Listen, if set, opens each service's listener instead of
	// net.ListenConfig.Listen: a caller that owns a network namespace opens
	// it there, or hands over a listener it was given (socket activation).
	Listen func(ctx context.Context, network, addr string) (net.Listener, error)
	// Services to start; nil starts all of them.
	Services []Service
	// Domain names the server in greetings and in the certificate.
	Domain string
	// Users are the accounts. Start with no users serves nobody.
	Users []User
	// Limits protect the servers from hostile clients.
	Limits Limits
	// RequireTLSForAuth refuses passwords over plaintext (LOGINDISABLED
	// on IMAP, no AUTH before STARTTLS on SMTP, STLS first on POP3). Off by
	// default: C2 implants log in over plaintext and the harness must see
	// them do it.
	RequireTLSForAuth bool
	// ErrorLog receives server-side problems (handler panics, accept
	// errors). Nil logs to stderr.
	ErrorLog *log.Logger
	// OnSession, if set, is called with each session record when the
	// connection ends, from the connection's goroutine.
	OnSession func(Session)
	// KeepSessions bounds the sessions Evidence keeps in memory (default
	// 100000); when exceeded the oldest are dropped from memory (OnSession
	// and subscribers still see every one) and Dropped counts them.
	KeepSessions int
}

// User is one account.
type User struct {
	Login    string
	Password string
	// Address is where SMTP delivers to this user.
	Address string
	// Aliases are more addresses delivering to the same INBOX.
	Aliases []string
	// Messages are in the mailboxes at start.
	Messages []SeedMessage
}

// SeedMessage is a message present at start. Raw, if set, is the whole
// RFC 5322 message; otherwise one is built from the other fields.
type SeedMessage struct {
	Mailbox string // default INBOX
	From    string
	Subject string
	Body    string
	Raw     string
}

// bytes renders the message with CRLF line endings.
func (m SeedMessage) bytes(u User) []byte {
	if m.Raw != "" {
		return toCRLF([]byte(m.Raw))
	}
	from := m.From
	if from == "" {
		from = "operator@" + DefaultDomain
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <seed-%d@%s>\nContent-Type: text/plain; charset=utf-8\n\n%s",
		from, u.Address, m.Subject, time.Now().UTC().Format(time.RFC1123Z), time.Now().UnixNano(), DefaultDomain, m.Body)
	if !strings.HasSuffix(m.Body, "\n") {
		b.WriteString("\n")
	}
	return toCRLF(b.Bytes())
}

// Limits bound what one client can make the servers do. Zero means the
// default in DefaultLimits.
type Limits struct {
	// MaxLineLength bounds a command line (RFC 5321 4.5.3.1.4 says 512 for
	// SMTP; AUTH payloads and IMAP commands need more).
	MaxLineLength int
	// MaxMessageBytes bounds a message sent over SMTP or APPENDed.
	MaxMessageBytes int64
	// IdleTimeout closes a connection that sent nothing for this long.
	IdleTimeout time.Duration
	// PreAuthIdleTimeout is IdleTimeout for a connection that has not
	// logged in: a client that connects and says nothing holds a slot for
	// this long only. Capped at IdleTimeout.
	PreAuthIdleTimeout time.Duration
	// MaxConnections bounds concurrent connections per service. When a
	// service is full, a new client takes the slot of the connection that
	// has not logged in and has been quiet longest (it is closed, ended
	// "evicted"); only when every connection is logged in is the new one
	// refused (421 / -ERR [SYS/TEMP] / * BYE). Idle clients therefore
	// cannot lock a login out.
	MaxConnections int
	// MaxAuthFailures closes a connection after this many failed logins.
	MaxAuthFailures int
	// MaxStoreBytes bounds all messages held: beyond it SMTP answers 452
	// and APPEND/COPY get NO [OVERQUOTA], so a client cannot exhaust memory.
	MaxStoreBytes int64
}

// DefaultLimits are the limits used for zero fields.
var DefaultLimits = Limits{
	MaxLineLength:      4096,
	MaxMessageBytes:    10 << 20,
	IdleTimeout:        5 * time.Minute,
	PreAuthIdleTimeout: 30 * time.Second,
	MaxConnections:     256,
	MaxAuthFailures:    3,
	MaxStoreBytes:      512 << 20,
}

func (l Limits) withDefaults() Limits {
	if l.MaxLineLength <= 0 {
		l.MaxLineLength = DefaultLimits.MaxLineLength
	}
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = DefaultLimits.MaxMessageBytes
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultLimits.IdleTimeout
	}
	if l.PreAuthIdleTimeout <= 0 {
		l.PreAuthIdleTimeout = DefaultLimits.PreAuthIdleTimeout
	}
	l.PreAuthIdleTimeout = min(l.PreAuthIdleTimeout, l.IdleTimeout)
	if l.MaxConnections <= 0 {
		l.MaxConnections = DefaultLimits.MaxConnections
	}
	if l.MaxAuthFailures <= 0 {
		l.MaxAuthFailures = DefaultLimits.MaxAuthFailures
	}
	if l.MaxStoreBytes <= 0 {
		l.MaxStoreBytes = DefaultLimits.MaxStoreBytes
	}
	return l
}

// DefaultUser is the account the atomics use with no configuration, with
// one seeded "tasking" message for the implant to fetch.
func DefaultUser() User {
	return User{
		Login:    DefaultLogin,
		Password: DefaultPassword,
		Address:  DefaultAddress,
		Messages: []SeedMessage{{
			From:    "operator@" + DefaultDomain,
			Subject: "tasking",
			Body:    "task-id: 1\ncommand: whoami\nreply-to: " + DefaultAddress + "\n",
		}},
	}
}

// DefaultConfig serves DefaultUser on the canonical ports of 127.0.0.1.
func DefaultConfig() Config {
	return Config{Users: []User{DefaultUser()}}
}

// EphemeralPorts returns a Ports map that gives every service a free port,
// for tests and parallel runs.
func EphemeralPorts() map[Service]int {
	m := make(map[Service]int, len(Services))
	for _, s := range Services {
		m[s] = 0
	}
	return m
}

// ConfigError is a problem in a configuration file, with its position.
type ConfigError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// LoadConfig reads a YAML configuration file. See docs/fakemail.md for the
// format; every error carries file:line:col.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("load mail config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig parses a YAML configuration; name is used in errors.
func ParseConfig(name string, data []byte) (Config, error) {
	p := &configParser{file: name}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Config{}, p.yamlError(data, err)
	}
	var cfg Config
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return DefaultConfig(), nil // an empty file means the defaults
	}
	p.config(doc.Content[0], &cfg)
	if len(p.errs) > 0 {
		return Config{}, errors.Join(p.errs...)
	}
	if cfg.Users == nil {
		cfg.Users = []User{DefaultUser()}
	}
	return cfg, nil
}

type configParser struct {
	file string
	errs []error
}

func (p *configParser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &ConfigError{File: p.file, Line: n.Line, Col: n.Column,
		Msg: fmt.Sprintf(format, args...)})
}

// yamlError positions a syntax error from the yaml package at its line and
// column (see yamlerr).
func (p *configParser) yamlError(data []byte, err error) error {
	line, col, msg := yamlerr.Locate(data, err)
	return &ConfigError{File: p.file, Line: line, Col: col, Msg: msg}
}

// mapping calls f for each key of a mapping node, reporting duplicates.
func (p *configParser) mapping(n *yaml.Node, what string, f func(key string, k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping", what)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			p.errorf(k, "duplicate key %q in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		f(k.Value, k, v)
	}
}

func (p *configParser) scalar(n *yaml.Node, key string, out any) {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "%s must be a scalar", key)
		return
	}
	if err := n.Decode(out); err != nil {
		p.errorf(n, "%s: cannot read %q as %T", key, n.Value, out)
	}
}

func (p *configParser) config(n *yaml.Node, cfg *Config) {
	p.mapping(n, "config", func(key string, k, v *yaml.Node) {
		switch key {
		case "host":
			p.scalar(v, key, &cfg.Host)
		case "domain":
			p.scalar(v, key, &cfg.Domain)
		case "ports":
			cfg.Ports = map[Service]int{}
			p.mapping(v, "ports", func(svc string, k, v *yaml.Node) {
				if !Service(svc).valid() {
					p.errorf(k, "unknown service %q (want one of %v)", svc, Services)
					return
				}
				var port int
				p.scalar(v, svc, &port)
				if port < 0 || port > 65535 {
					p.errorf(v, "port %d out of range 0-65535", port)
				}
				cfg.Ports[Service(svc)] = port
			})
		case "services":
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, "services must be a list")
				return
			}
			cfg.Services = []Service{}
			for _, e := range v.Content {
				var s string
				p.scalar(e, "service", &s)
				if !Service(s).valid() {
					p.errorf(e, "unknown service %q (want one of %v)", s, Services)
				}
				cfg.Services = append(cfg.Services, Service(s))
			}
		case "limits":
			p.limits(v, &cfg.Limits)
		case "require_tls_for_auth":
			p.scalar(v, key, &cfg.RequireTLSForAuth)
		case "users":
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, "users must be a list")
				return
			}
			cfg.Users = []User{}
			logins := map[string]bool{}
			for _, e := range v.Content {
				u := p.user(e)
				if logins[u.Login] {
					p.errorf(e, "duplicate user %q", u.Login)
				}
				logins[u.Login] = true
				cfg.Users = append(cfg.Users, u)
			}
		default:
			p.errorf(k, "unknown key %q (want host, domain, ports, services, limits, require_tls_for_auth or users)", key)
		}
	})
}

func (p *configParser) limits(n *yaml.Node, l *Limits) {
	p.mapping(n, "limits", func(key string, k, v *yaml.Node) {
		switch key {
		case "max_line_length":
			p.scalar(v, key, &l.MaxLineLength)
		case "max_message_bytes":
			p.scalar(v, key, &l.MaxMessageBytes)
		case "max_connections":
			p.scalar(v, key, &l.MaxConnections)
		case "max_auth_failures":
			p.scalar(v, key, &l.MaxAuthFailures)
		case "max_store_bytes":
			p.scalar(v, key, &l.MaxStoreBytes)
		case "idle_timeout", "preauth_idle_timeout":
			var s string
			p.scalar(v, key, &s)
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				p.errorf(v, "%s: want a positive duration like 60s, got %q", key, s)
			}
			if key == "idle_timeout" {
				l.IdleTimeout = d
			} else {
				l.PreAuthIdleTimeout = d
			}
		default:
			p.errorf(k, "unknown limit %q (want max_line_length, max_message_bytes, max_store_bytes, idle_timeout, preauth_idle_timeout, max_connections or max_auth_failures)", key)
		}
	})
}

func (p *configParser) user(n *yaml.Node) User {
	var u User
	p.mapping(n, "user", func(key string, k, v *yaml.Node) {
		switch key {
		case "login":
			p.scalar(v, key, &u.Login)
		case "password":
			p.scalar(v, key, &u.Password)
		case "address":
			p.scalar(v, key, &u.Address)
			if !strings.Contains(u.Address, "@") {
				p.errorf(v, "address %q has no @", u.Address)
			}
		case "aliases":
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, "aliases must be a list")
				return
			}
			for _, e := range v.Content {
				var a string
				p.scalar(e, "alias", &a)
				u.Aliases = append(u.Aliases, a)
			}
		case "messages":
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, "messages must be a list")
				return
			}
			for _, e := range v.Content {
				u.Messages = append(u.Messages, p.message(e))
			}
		default:
			p.errorf(k, "unknown user key %q (want login, password, address, aliases or messages)", key)
		}
	})
	if n.Kind == yaml.MappingNode && u.Login == "" {
		p.errorf(n, "user needs a login")
	}
	return u
}

func (p *configParser) message(n *yaml.Node) SeedMessage {
	var m SeedMessage
	p.mapping(n, "message", func(key string, k, v *yaml.Node) {
		switch key {
		case "mailbox":
			p.scalar(v, key, &m.Mailbox)
		case "from":
			p.scalar(v, key, &m.From)
		case "subject":
			p.scalar(v, key, &m.Subject)
		case "body":
			p.scalar(v, key, &m.Body)
		case "raw":
			p.scalar(v, key, &m.Raw)
		default:
			p.errorf(k, "unknown message key %q (want mailbox, from, subject, body or raw)", key)
		}
	})
	return m
}
