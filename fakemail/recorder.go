package fakemail

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Recording caps: evidence stays small whatever the client sends.
const (
	maxCommands   = 1000
	maxLineRecord = 512     // bytes of a command line kept
	maxQueued     = 1 << 20 // client bytes held while a reply is awaited
	redacted      = "[redacted]"
)

var errLineTooLong = errors.New("fakemail: command line too long")

// recorder turns the two byte streams of a connection into a Session. It
// parses just enough of SMTP, POP3 and IMAP to split commands, find
// message bodies and literals, redact secrets, see who logged in and see
// when STARTTLS takes effect. It never changes the bytes; the protocol
// library decides everything, the recorder only watches.
//
// Replies matter for parsing: after SMTP DATA the client sends a body only
// if the server said 354, an IMAP synchronising literal follows only a "+"
// continuation. So client bytes that arrive while such a reply is awaited
// are held (r.queue) and parsed once the reply is seen, in wire order.
type recorder struct {
	mu       sync.Mutex
	s        Session
	maxLine  int
	maxFail  int
	finished bool

	// client stream
	cline    []byte
	cmode    clientMode
	cmid     bool  // data mode: part of the current line already hashed
	cremain  int64 // raw mode: bytes left in the literal or BDAT chunk
	cmsg     *capture
	queue    []byte
	awaiting *pendingCmd // command whose reply gates the client stream
	cont     *pendingCmd // IMAP: command continuing after a literal
	rawKind  rawKind
	bdatLast bool
	// SMTP envelope
	mailFrom string
	rcpts    []string
	popUser  string

	// server stream
	sline   []byte
	smode   serverMode
	sremain int64
	smsg    *capture
	pending []*pendingCmd

	startTLS    bool      // a STARTTLS was accepted: switch now
	closeWanted EndReason // the tap should end the connection
	quit        bool
	smid        bool // multi-line mode: part of the current line already hashed
	broken      bool // the parser panicked: stop parsing, keep serving
}

type clientMode int

const (
	cLine     clientMode = iota // commands
	cData                       // SMTP DATA body, dot-stuffed
	cRaw                        // counted bytes: literal or BDAT chunk
	cAuthCont                   // SASL continuation lines
)

type serverMode int

const (
	sLine      serverMode = iota
	sMultiline            // POP3 multi-line response
	sRaw                  // IMAP literal in a response
)

type rawKind int

const (
	rawDiscard rawKind = iota
	rawMessage
	rawSecret
)

type cmdKind int

const (
	kOther cmdKind = iota
	kAuth          // SASL exchange: AUTH / AUTHENTICATE
	kPass          // POP3 PASS/APOP, IMAP LOGIN
	kData          // SMTP DATA
	kStartTLS
	kMultiline // POP3 command answered with a multi-line response
	kRetr      // POP3 RETR: multi-line response is a message
	kQuit
	kNoReply // a line no reply answers (IMAP DONE)
)

type pendingCmd struct {
	idx  int // in s.Commands; -1 when not recorded
	verb string
	tag  string // IMAP
	kind cmdKind
	user string // the login the command tries
	// literalGate is set while an IMAP command waits for "+" to send a
	// synchronising literal.
	literalGate bool
}

// capture hashes a message as it streams past.
type capture struct {
	dir  Direction
	verb string
	h    hash.Hash
	size int64
	head []byte
	from string
	to   []string
}

func newCapture(dir Direction, verb string) *capture {
	return &capture{dir: dir, verb: verb, h: sha256.New()}
}

func (c *capture) write(p []byte) {
	c.h.Write(p)
	c.size += int64(len(p))
	if room := HeadBytes - len(c.head); room > 0 {
		c.head = append(c.head, p[:min(room, len(p))]...)
	}
}

func (c *capture) evidence(complete bool) MessageEvidence {
	return MessageEvidence{Direction: c.dir, Verb: c.verb, Size: c.size,
		SHA256: hex.EncodeToString(c.h.Sum(nil)), Head: string(c.head),
		From: c.from, To: c.to, Complete: complete}
}

func newRecorder(id uint64, svc Service, local, remote Endpoint, limits Limits) *recorder {
	return &recorder{
		s: Session{ID: id, Service: svc, Protocol: svc.Protocol(), Start: time.Now().UTC(),
			Local: local, Remote: remote, Commands: []Command{}},
		maxLine: limits.MaxLineLength,
		maxFail: limits.MaxAuthFailures,
	}
}

func (r *recorder) note(format string) {
	if len(r.s.Notes) < 20 {
		r.s.Notes = append(r.s.Notes, format)
	}
}

// setTLS records the client-facing TLS session.
func (r *recorder) setTLS(mode TLSMode, st tls.ConnectionState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.TLS = &TLSInfo{Mode: mode, Version: tls.VersionName(st.Version),
		CipherSuite: tls.CipherSuiteName(st.CipherSuite), ServerName: st.ServerName,
		ALPN: st.NegotiatedProtocol}
}

// end sets how the session ended unless that is already known.
func (r *recorder) end(reason EndReason, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endLocked(reason, err)
}

func (r *recorder) endLocked(reason EndReason, err error) {
	if r.s.Ended == "" {
		r.s.Ended = reason
		if err != nil {
			r.s.Error = err.Error()
		}
	}
}

// takeStartTLS reports, once, that a STARTTLS was accepted.
func (r *recorder) takeStartTLS() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok := r.startTLS
	r.startTLS = false
	if ok && len(r.queue) > 0 {
		// RFC 3207 section 6 / CVE-2011-0411: bytes pipelined after
		// STARTTLS must not be acted on after the handshake.
		r.note("plaintext pipelined after STARTTLS ignored (" + strconv.Itoa(len(r.queue)) + " bytes)")
		r.queue = nil
	}
	return ok
}

// loggedIn reports whether a login succeeded on the connection.
func (r *recorder) loggedIn() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.s.User != ""
}

// wantClose returns a reason the tap should close the connection for.
func (r *recorder) wantClose() EndReason {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closeWanted
}

// finish completes the record. Later bytes are ignored.
func (r *recorder) finish() Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.finished {
		r.finished = true
		r.s.End = time.Now().UTC()
		if r.quit && (r.s.Ended == "" || r.s.Ended == EndClient || r.s.Ended == EndServer) {
			r.s.Ended = EndQuit
			r.s.Error = ""
		}
		if r.s.Ended == "" {
			r.s.Ended = EndServer
		}
		if r.cmsg != nil {
			r.s.Messages = append(r.s.Messages, r.cmsg.evidence(false))
			r.note("connection ended inside a message transfer")
			r.cmsg = nil
		}
		if r.smsg != nil {
			r.s.Messages = append(r.s.Messages, r.smsg.evidence(false))
			r.smsg = nil
		}
	}
	s := r.s
	s.Commands = append([]Command(nil), r.s.Commands...)
	s.Messages = append([]MessageEvidence(nil), r.s.Messages...)
	return s
}

// recoverParser keeps a parser bug from taking the server down: the
// connection goes on, the session says its record stops there.
func (r *recorder) recoverParser(err *error) {
	if v := recover(); v != nil {
		r.broken = true
		r.note(fmt.Sprintf("evidence parser failed, record incomplete: %v", v))
		if err != nil {
			*err = nil
		}
	}
}

// snapshot copies the record so far, for sessions still open.
func (r *recorder) snapshot() Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.s
	s.Commands = append([]Command(nil), r.s.Commands...)
	s.Messages = append([]MessageEvidence(nil), r.s.Messages...)
	s.Notes = append([]string(nil), r.s.Notes...)
	return s
}

// client feeds bytes the client sent. An error means the tap must end the
// connection (a command line beyond the limit).
func (r *recorder) client(b []byte) (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.recoverParser(&err)
	if r.finished || r.broken {
		return nil
	}
	r.s.BytesIn += int64(len(b))
	err = r.feedClient(b)
	if err != nil {
		r.endLocked(EndLineTooLong, err)
		r.closeWanted = EndLineTooLong
	}
	return err
}

func (r *recorder) feedClient(b []byte) error {
	for len(b) > 0 {
		if r.awaiting != nil {
			if len(r.queue)+len(b) > maxQueued {
				r.note("client sent too much before the server's go-ahead; some bytes not parsed")
				return nil
			}
			r.queue = append(r.queue, b...)
			return nil
		}
		if r.cmode == cRaw {
			n := int64(len(b))
			if n > r.cremain {
				n = r.cremain
			}
			switch r.rawKind {
			case rawMessage:
				if r.cmsg != nil {
					r.cmsg.write(b[:n])
				}
			}
			r.cremain -= n
			b = b[n:]
			if r.cremain == 0 {
				r.rawDone()
			}
			continue
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if r.cmode == cData {
				r.dataPartial(b)
				return nil
			}
			if len(r.cline)+len(b) > r.maxLine {
				return errLineTooLong
			}
			r.cline = append(r.cline, b...)
			return nil
		}
		line := b[:i+1]
		if len(r.cline) > 0 {
			r.cline = append(r.cline, line...)
			line = r.cline
		}
		b = b[i+1:]
		if r.cmode != cData && len(line) > r.maxLine {
			return errLineTooLong
		}
		r.clientLine(line)
		r.cline = r.cline[:0]
	}
	return nil
}

// dataPartial hashes part of a long body line so memory stays bounded.
func (r *recorder) dataPartial(b []byte) {
	r.cline = append(r.cline, b...)
	if len(r.cline) < 1024 {
		return
	}
	p := r.cline
	if !r.cmid && len(p) > 0 && p[0] == '.' {
		p = p[1:] // RFC 5321 4.5.2 dot-stuffing
	}
	if r.cmsg != nil {
		r.cmsg.write(p)
	}
	r.cmid = true
	r.cline = r.cline[:0]
}

func (r *recorder) rawDone() {
	r.cmode = cLine
	switch r.s.Protocol {
	case ProtoSMTP: // end of a BDAT chunk
		if r.bdatLast {
			r.finishClientMessage()
		}
	case ProtoIMAP:
		// The command goes on after the literal (r.cont is still set);
		// an APPEND literal is the whole message.
		if r.rawKind == rawMessage {
			r.finishClientMessage()
		}
	}
}

func (r *recorder) finishClientMessage() {
	if r.cmsg == nil {
		return
	}
	if r.s.Protocol == ProtoSMTP {
		r.cmsg.from, r.cmsg.to = r.mailFrom, append([]string(nil), r.rcpts...)
	}
	r.s.Messages = append(r.s.Messages, r.cmsg.evidence(true))
	r.cmsg = nil
}

func trimEOL(b []byte) string {
	return strings.TrimRight(string(b), "\r\n")
}

func (r *recorder) clientLine(line []byte) {
	switch r.cmode {
	case cData:
		if !r.cmid && (string(line) == ".\r\n" || string(line) == ".\n") {
			r.finishClientMessage()
			r.cmode = cLine
			return
		}
		p := line
		if !r.cmid && len(p) > 0 && p[0] == '.' {
			p = p[1:]
		}
		if r.cmsg != nil {
			r.cmsg.write(p)
		}
		r.cmid = false
		return
	case cAuthCont:
		r.authContinuation(trimEOL(line))
		return
	}
	text := trimEOL(line)
	switch r.s.Protocol {
	case ProtoSMTP:
		r.smtpCommand(text)
	case ProtoPOP3:
		r.pop3Command(text)
	case ProtoIMAP:
		r.imapLine(text)
	}
}

// record appends a command and returns its pending state.
func (r *recorder) record(verb, line string, kind cmdKind) *pendingCmd {
	p := &pendingCmd{idx: -1, verb: verb, kind: kind}
	if len(r.s.Commands) < maxCommands {
		if len(line) > maxLineRecord {
			line = line[:maxLineRecord] + "..."
		}
		r.s.Commands = append(r.s.Commands, Command{Time: time.Now().UTC(), Verb: verb, Line: line})
		p.idx = len(r.s.Commands) - 1
	} else {
		r.s.CommandsDropped++
	}
	if kind != kNoReply && len(r.pending) < maxCommands {
		r.pending = append(r.pending, p)
	}
	return p
}

func splitVerb(text string) (verb, rest string) {
	verb, rest, _ = strings.Cut(text, " ")
	return strings.ToUpper(verb), rest
}

// saslPlainUser extracts the authorization or authentication identity from
// an RFC 4616 PLAIN response ("authzid NUL authcid NUL passwd").
func saslPlainUser(b64 string) string {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return ""
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 {
		return ""
	}
	if parts[1] != "" {
		return parts[1]
	}
	return parts[0]
}

func b64String(s string) string {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return string(raw)
}

// startAuth handles "AUTH mech [initial-response]" for SMTP and POP3 and
// "tag AUTHENTICATE mech [ir]" for IMAP; prefix is what precedes mech.
func (r *recorder) startAuth(verb, prefix, args string) *pendingCmd {
	mech, ir, hasIR := strings.Cut(strings.TrimSpace(args), " ")
	mech = strings.ToUpper(mech)
	line := prefix + mech
	if hasIR {
		line += " " + redacted
	}
	p := r.record(verb, line, kAuth)
	if hasIR && ir != "=" {
		switch mech {
		case "PLAIN":
			p.user = saslPlainUser(ir)
		case "LOGIN":
			p.user = b64String(ir)
		}
	}
	r.awaiting = p
	return p
}

// authContinuation is one client line of a SASL exchange: never recorded
// verbatim; it may name the user (PLAIN, or LOGIN's first step).
func (r *recorder) authContinuation(text string) {
	p := r.firstPending(kAuth)
	if p != nil && text != "*" {
		cmd := ""
		if p.idx >= 0 {
			cmd = r.s.Commands[p.idx].Line
		}
		switch {
		case strings.Contains(cmd, "PLAIN"):
			p.user = saslPlainUser(text)
		case strings.Contains(cmd, "LOGIN") && p.user == "":
			p.user = b64String(text)
		}
	}
	r.awaiting = p
}

func (r *recorder) firstPending(kind cmdKind) *pendingCmd {
	for _, p := range r.pending {
		if p.kind == kind {
			return p
		}
	}
	return nil
}

func (r *recorder) smtpCommand(text string) {
	verb, args := splitVerb(text)
	switch verb {
	case "AUTH":
		r.startAuth(verb, "AUTH ", args)
	case "DATA":
		r.awaiting = r.record(verb, text, kData)
	case "BDAT":
		r.record(verb, text, kOther)
		f := strings.Fields(args)
		n, err := strconv.ParseInt(firstOr(f, ""), 10, 64)
		if err != nil || n < 0 {
			return
		}
		if r.cmsg == nil {
			r.cmsg = newCapture(ToServer, "BDAT")
		}
		r.bdatLast = len(f) > 1 && strings.EqualFold(f[1], "LAST")
		r.cmode, r.cremain, r.rawKind = cRaw, n, rawMessage
		if n == 0 {
			r.rawDone()
		}
	case "STARTTLS":
		r.awaiting = r.record(verb, text, kStartTLS)
	case "MAIL":
		r.mailFrom = addrArg(args)
		r.rcpts = nil
		r.record(verb, text, kOther)
	case "RCPT":
		if len(r.rcpts) < 100 {
			r.rcpts = append(r.rcpts, addrArg(args))
		}
		r.record(verb, text, kOther)
	case "RSET", "HELO", "EHLO":
		r.mailFrom, r.rcpts = "", nil
		r.record(verb, text, kOther)
	case "QUIT":
		r.record(verb, text, kQuit)
	default:
		r.record(verb, text, kOther)
	}
}

func firstOr(f []string, def string) string {
	if len(f) == 0 {
		return def
	}
	return f[0]
}

// addrArg extracts the path from "FROM:<a@b> SIZE=1" or "TO:<a@b>".
func addrArg(args string) string {
	_, after, ok := strings.Cut(args, ":")
	if !ok {
		return ""
	}
	after = strings.TrimSpace(after)
	if strings.HasPrefix(after, "<") {
		if end := strings.IndexByte(after, '>'); end > 0 {
			return after[1:end]
		}
	}
	return firstOr(strings.Fields(after), "")
}

func (r *recorder) pop3Command(text string) {
	verb, args := splitVerb(text)
	switch verb {
	case "USER":
		r.popUser = strings.TrimSpace(args)
		r.record(verb, text, kOther)
	case "PASS":
		p := r.record(verb, "PASS "+redacted, kPass)
		p.user = r.popUser
	case "APOP":
		name, _, _ := strings.Cut(args, " ")
		p := r.record(verb, "APOP "+name+" "+redacted, kPass)
		p.user = name
	case "AUTH":
		if strings.TrimSpace(args) == "" {
			r.record(verb, text, kMultiline) // list of mechanisms
			return
		}
		r.startAuth(verb, "AUTH ", args)
	case "STLS":
		r.awaiting = r.record(verb, text, kStartTLS)
	case "RETR":
		r.record(verb, text, kRetr)
	case "TOP", "CAPA":
		r.record(verb, text, kMultiline)
	case "LIST", "UIDL":
		if strings.TrimSpace(args) == "" {
			r.record(verb, text, kMultiline)
		} else {
			r.record(verb, text, kOther)
		}
	case "QUIT":
		r.record(verb, text, kQuit)
	default:
		r.record(verb, text, kOther)
	}
}

// imapLiteral reports a literal announced at the end of a line: "{n}" or
// "{n+}" (RFC 7888 non-synchronising).
func imapLiteral(text string) (n int64, sync bool, ok bool) {
	if !strings.HasSuffix(text, "}") {
		return 0, false, false
	}
	open := strings.LastIndexByte(text, '{')
	if open < 0 {
		return 0, false, false
	}
	num := text[open+1 : len(text)-1]
	sync = true
	if strings.HasSuffix(num, "+") || strings.HasSuffix(num, "-") {
		num, sync = num[:len(num)-1], false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, false, false
	}
	return n, sync, true
}

func (r *recorder) imapLine(text string) {
	if p := r.cont; p != nil {
		// The rest of a command after a literal.
		r.cont = nil
		if p.idx >= 0 {
			shown := text
			if p.kind == kPass || p.kind == kAuth {
				// After a literal in LOGIN, whatever follows is a
				// credential or the literal marker of one.
				shown = ""
				if strings.TrimSpace(text) != "" {
					shown = " " + redacted
				}
			}
			c := &r.s.Commands[p.idx]
			if len(c.Line) < maxLineRecord {
				c.Line += shown
			}
		}
		r.imapMaybeLiteral(p, text)
		return
	}
	tag, rest, _ := strings.Cut(text, " ")
	verb, args := splitVerb(rest)
	if verb == "UID" {
		sub, a := splitVerb(args)
		verb, args = "UID "+sub, a
	}
	if tag == "" || verb == "" {
		// DONE (ends IDLE) or a stray line.
		r.record(strings.ToUpper(tag), text, kNoReply)
		return
	}
	var p *pendingCmd
	switch verb {
	case "LOGIN":
		user, _ := imapFirstArg(args)
		shown := tag + " LOGIN " + user + " " + redacted
		if strings.HasPrefix(strings.TrimSpace(args), "{") {
			shown = tag + " LOGIN " + redacted
		}
		p = r.record(verb, shown, kPass)
		if !strings.HasPrefix(user, "{") {
			p.user = unquote(user)
		}
	case "AUTHENTICATE":
		p = r.startAuth(verb, tag+" AUTHENTICATE ", args)
	case "STARTTLS":
		p = r.record(verb, text, kStartTLS)
		r.awaiting = p
	case "LOGOUT":
		p = r.record(verb, text, kQuit)
	default:
		p = r.record(verb, text, kOther)
	}
	p.tag = tag
	r.imapMaybeLiteral(p, text)
}

// imapMaybeLiteral switches to raw mode when a command line announces a
// literal, holding the client stream for "+" if it is synchronising.
func (r *recorder) imapMaybeLiteral(p *pendingCmd, text string) {
	n, sync, ok := imapLiteral(text)
	if !ok {
		return
	}
	r.cont = p
	r.cmode, r.cremain, r.rawKind = cRaw, n, rawDiscard
	switch {
	case p.verb == "APPEND":
		r.rawKind = rawMessage
		r.cmsg = newCapture(ToServer, "APPEND")
	case p.kind == kPass || p.kind == kAuth:
		r.rawKind = rawSecret
	}
	if sync {
		p.literalGate = true
		r.awaiting = p
	}
	if n == 0 {
		r.rawDone()
	}
}

// imapFirstArg returns the first argument (atom, quoted string or literal
// marker) and the rest.
func imapFirstArg(args string) (string, string) {
	args = strings.TrimSpace(args)
	if strings.HasPrefix(args, `"`) {
		for i := 1; i < len(args); i++ {
			switch args[i] {
			case '\\':
				i++
			case '"':
				return args[:i+1], args[i+1:]
			}
		}
		return args, ""
	}
	a, rest, _ := strings.Cut(args, " ")
	return a, rest
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
		s = strings.ReplaceAll(s, `\"`, `"`)
		s = strings.ReplaceAll(s, `\\`, `\`)
	}
	return s
}

// server feeds bytes the server sent.
// shortWrite corrects the record of a reply that was recorded whole but
// only partly sent.
func (r *recorder) shortWrite(sent, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished || r.broken {
		return
	}
	r.s.BytesOut -= int64(total - sent)
	r.note("server reply cut short: " + strconv.Itoa(sent) + " of " + strconv.Itoa(total) + " bytes sent")
}

func (r *recorder) server(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.recoverParser(nil)
	if r.finished || r.broken {
		return
	}
	r.s.BytesOut += int64(len(b))
	for len(b) > 0 {
		if r.smode == sRaw {
			n := int64(len(b))
			if n > r.sremain {
				n = r.sremain
			}
			if r.smsg != nil {
				r.smsg.write(b[:n])
			}
			r.sremain -= n
			b = b[n:]
			if r.sremain == 0 {
				r.smode = sLine
				if r.smsg != nil {
					r.s.Messages = append(r.s.Messages, r.smsg.evidence(true))
					r.smsg = nil
				}
			}
			continue
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(r.sline)+len(b) > 64<<10 && r.smode == sLine {
				r.sline = r.sline[:0] // a runaway server line: not ours to judge
				return
			}
			r.sline = append(r.sline, b...)
			if r.smode == sMultiline && len(r.sline) > 1024 {
				r.multilinePartial()
			}
			return
		}
		line := b[:i+1]
		if len(r.sline) > 0 {
			r.sline = append(r.sline, line...)
			line = r.sline
		}
		b = b[i+1:]
		r.serverLine(line)
		r.sline = r.sline[:0]
	}
}

func (r *recorder) multilinePartial() {
	p := r.sline
	if r.smsg != nil {
		if !r.smid && len(p) > 0 && p[0] == '.' {
			p = p[1:]
		}
		r.smsg.write(p)
	}
	r.smid = true
	r.sline = r.sline[:0]
}

func (r *recorder) serverLine(line []byte) {
	if r.smode == sMultiline {
		if !r.smid && (string(line) == ".\r\n" || string(line) == ".\n") {
			r.smode = sLine
			if r.smsg != nil {
				r.s.Messages = append(r.s.Messages, r.smsg.evidence(true))
				r.smsg = nil
			}
			return
		}
		p := line
		if !r.smid && len(p) > 0 && p[0] == '.' {
			p = p[1:]
		}
		if r.smsg != nil {
			r.smsg.write(p)
		}
		r.smid = false
		return
	}
	text := trimEOL(line)
	if r.s.Greeting == "" && len(r.s.Commands) == 0 {
		r.s.Greeting = truncate(text, maxLineRecord)
		return
	}
	switch r.s.Protocol {
	case ProtoSMTP:
		r.smtpReply(text)
	case ProtoPOP3:
		r.pop3Reply(text)
	case ProtoIMAP:
		r.imapReply(text)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// complete gives p its final reply and applies what the reply means.
func (r *recorder) complete(p *pendingCmd, text string, ok bool) {
	for i, q := range r.pending {
		if q == p {
			r.pending = append(r.pending[:i], r.pending[i+1:]...)
			break
		}
	}
	if p.idx >= 0 {
		r.s.Commands[p.idx].Reply = truncate(text, maxLineRecord)
	}
	if r.awaiting == p {
		r.awaiting = nil
	}
	switch p.kind {
	case kAuth, kPass:
		if r.cmode == cAuthCont {
			r.cmode = cLine
		}
		if ok {
			r.s.User = p.user
		} else if !strings.HasPrefix(text, "+") {
			r.s.AuthFailures++
			if r.maxFail > 0 && r.s.AuthFailures >= r.maxFail {
				r.endLocked(EndAuthFailures, nil)
				r.closeWanted = EndAuthFailures
			}
		}
	case kStartTLS:
		if ok {
			r.startTLS = true
			return // takeStartTLS drops anything queued
		}
	case kQuit:
		r.quit = true
	case kData:
		if r.cmode == cData { // the client never sent the body
			r.cmode = cLine
		}
	}
	if p.literalGate {
		// The server refused a synchronising literal: the client will
		// not send it (RFC 3501 7.5), so back to commands.
		p.literalGate = false
		r.cont = nil
		r.cmode = cLine
		r.cmsg = nil
	}
	r.flushQueue()
}

// flushQueue parses client bytes held while a reply was awaited.
func (r *recorder) flushQueue() {
	if r.awaiting != nil || len(r.queue) == 0 {
		return
	}
	q := r.queue
	r.queue = nil
	if err := r.feedClient(q); err != nil {
		r.endLocked(EndLineTooLong, err)
		r.closeWanted = EndLineTooLong
	}
}

func (r *recorder) smtpReply(text string) {
	if len(text) < 3 {
		return
	}
	if len(text) > 3 && text[3] == '-' {
		return // continuation of a multi-line reply
	}
	if len(r.pending) == 0 {
		return
	}
	p := r.pending[0]
	code := text[:3]
	switch {
	case p.kind == kAuth && code == "334":
		r.cmode = cAuthCont
		r.awaiting = nil
		r.flushQueue()
		return
	case p.kind == kData && code == "354":
		r.cmode, r.cmid = cData, false
		r.cmsg = newCapture(ToServer, "DATA")
		r.awaiting = nil
		r.flushQueue()
		return
	}
	ok := text[0] == '2'
	if p.kind == kStartTLS {
		ok = code == "220"
	}
	r.complete(p, text, ok)
}

func (r *recorder) pop3Reply(text string) {
	if len(r.pending) == 0 {
		return
	}
	p := r.pending[0]
	if p.kind == kAuth && (text == "+" || strings.HasPrefix(text, "+ ")) {
		r.cmode = cAuthCont
		r.awaiting = nil
		r.flushQueue()
		return
	}
	ok := strings.HasPrefix(text, "+OK")
	if ok && (p.kind == kMultiline || p.kind == kRetr) {
		r.smode = sMultiline
		r.smid = false
		if p.kind == kRetr {
			r.smsg = newCapture(FromServer, "RETR")
		}
	}
	r.complete(p, text, ok)
}

func (r *recorder) imapReply(text string) {
	if strings.HasPrefix(text, "+") {
		// Continuation request: the go-ahead for a literal or a SASL step.
		for _, p := range r.pending {
			if p.literalGate {
				p.literalGate = false
				r.awaiting = nil
				r.flushQueue()
				return
			}
		}
		if p := r.firstPending(kAuth); p != nil {
			r.cmode = cAuthCont
			r.awaiting = nil
			r.flushQueue()
		}
		return
	}
	tag, rest, _ := strings.Cut(text, " ")
	if tag == "*" {
		if n, _, ok := imapLiteral(text); ok {
			r.smode, r.sremain = sRaw, n
			up := strings.ToUpper(rest)
			if strings.Contains(up, "BODY[] {") || strings.Contains(up, "RFC822 {") || strings.Contains(up, "BINARY[] {") {
				r.smsg = newCapture(FromServer, "FETCH")
			}
			if n == 0 {
				r.smode = sLine
				r.smsg = nil
			}
		}
		return
	}
	status, _ := splitVerb(rest)
	for _, p := range r.pending {
		if p.tag == tag {
			r.complete(p, text, status == "OK")
			return
		}
	}
}
