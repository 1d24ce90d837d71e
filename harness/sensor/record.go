package sensor

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/elastic/go-libaudit/v2/auparse"
)

// Record is one audit record as the kernel sent it over netlink: the message
// type from the netlink header and the text payload, which starts with the
// header "audit(SECONDS.MILLIS:SERIAL): " followed by key=value fields.
// Records sharing a serial belong to one event.
type Record struct {
	Type auparse.AuditMessageType
	Text string
}

// Limits on hostile or corrupt input. The kernel never sends more than
// AuditMessageMaxLength (8970) bytes in one record, but records read from a
// file have no such bound.
const (
	maxRecordLen = 1 << 16 // bytes per record text
	maxArgs      = 4096    // argv entries kept per exec
	maxArgBytes  = 1 << 20 // total argv bytes kept per exec
)

// ParseError is a record that could not be understood. Line and Col are
// 1-based; Line is 0 for records that came from netlink rather than a file.
type ParseError struct {
	Line, Col int
	Msg       string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s (%d:%d)", e.Msg, e.Line, e.Col)
	}
	return fmt.Sprintf("%s (col %d)", e.Msg, e.Col)
}

// ParseLogLine reads one record in audit.log form,
//
//	type=SYSCALL msg=audit(1764199000.123:4567): arch=c000003e syscall=42 ...
//
// which is how captured records are stored under testdata. line is the
// 1-based line number used in errors.
func ParseLogLine(s string, line int) (Record, error) {
	const typePrefix = "type="
	if !strings.HasPrefix(s, typePrefix) {
		return Record{}, &ParseError{line, 1, `record must start with "type="`}
	}
	rest := s[len(typePrefix):]
	sp := strings.IndexByte(rest, ' ')
	if sp <= 0 {
		return Record{}, &ParseError{line, len(typePrefix) + 1, "record type without message"}
	}
	name := rest[:sp]
	var typ auparse.AuditMessageType
	if strings.HasPrefix(name, "UNKNOWN[") && strings.HasSuffix(name, "]") {
		n, err := strconv.ParseUint(name[len("UNKNOWN["):len(name)-1], 10, 16)
		if err != nil {
			return Record{}, &ParseError{line, len(typePrefix) + 1, fmt.Sprintf("bad record type %q", name)}
		}
		typ = auparse.AuditMessageType(n)
	} else if err := typ.UnmarshalText([]byte(name)); err != nil {
		return Record{}, &ParseError{line, len(typePrefix) + 1, fmt.Sprintf("unknown record type %q", name)}
	}
	msg := rest[sp+1:]
	const msgPrefix = "msg="
	if !strings.HasPrefix(msg, msgPrefix) {
		return Record{}, &ParseError{line, len(typePrefix) + sp + 2, `expected "msg=" after the record type`}
	}
	r := Record{Type: typ, Text: msg[len(msgPrefix):]}
	if _, _, _, err := r.header(); err != nil {
		if pe, ok := err.(*ParseError); ok {
			pe.Line = line
			pe.Col += len(typePrefix) + sp + 1 + len(msgPrefix)
		}
		return Record{}, err
	}
	return r, nil
}

// LogLine renders r in audit.log form; ParseLogLine reads it back.
func (r Record) LogLine() string {
	name := r.Type.String()
	if strings.HasPrefix(name, "UNKNOWN") || name == "" {
		name = fmt.Sprintf("UNKNOWN[%d]", uint16(r.Type))
	}
	return "type=" + name + " msg=" + r.Text
}

// header parses "audit(SECONDS.MILLIS:SERIAL): " and returns the time, the
// serial and the offset of the first field.
func (r Record) header() (time.Time, uint64, int, error) {
	s := r.Text
	if len(s) > maxRecordLen {
		return time.Time{}, 0, 0, &ParseError{0, maxRecordLen, fmt.Sprintf("record longer than %d bytes", maxRecordLen)}
	}
	const open = "audit("
	if !strings.HasPrefix(s, open) {
		return time.Time{}, 0, 0, &ParseError{0, 1, `record text must start with "audit("`}
	}
	end := strings.IndexByte(s, ')')
	if end < 0 {
		return time.Time{}, 0, 0, &ParseError{0, len(open) + 1, `unterminated "audit(" header`}
	}
	stamp := s[len(open):end]
	colon := strings.IndexByte(stamp, ':')
	if colon < 0 {
		return time.Time{}, 0, 0, &ParseError{0, len(open) + 1, `header lacks ":SERIAL"`}
	}
	secs, millis, ok := strings.Cut(stamp[:colon], ".")
	sec, err1 := strconv.ParseInt(secs, 10, 64)
	var ms int64
	var err2 error
	if ok {
		if len(millis) == 0 || len(millis) > 9 {
			err2 = strconv.ErrSyntax
		} else {
			ms, err2 = strconv.ParseInt(millis, 10, 64)
			// The kernel prints three digits; scale others to nanoseconds.
			for i := len(millis); i < 9; i++ {
				ms *= 10
			}
		}
	}
	if err1 != nil || err2 != nil || sec < 0 || sec > 1<<40 {
		return time.Time{}, 0, 0, &ParseError{0, len(open) + 1, fmt.Sprintf("bad timestamp %q", stamp[:colon])}
	}
	serial, err := strconv.ParseUint(stamp[colon+1:], 10, 64)
	if err != nil {
		return time.Time{}, 0, 0, &ParseError{0, len(open) + colon + 2, fmt.Sprintf("bad serial %q", stamp[colon+1:])}
	}
	off := end + 1
	if strings.HasPrefix(s[off:], ":") {
		off++
	}
	for off < len(s) && s[off] == ' ' {
		off++
	}
	return time.Unix(sec, ms).UTC(), serial, off, nil
}

// field is one key=value pair of a record, the value raw (quotes and hex
// encoding intact; see untrusted).
type field struct{ key, val string }

// fieldList is a record's fields in order. Records have a few dozen
// fields, so a linear scan beats building a map for every record (the
// sensor parses hundreds of thousands per burst).
type fieldList []field

// get returns the first value of key, as auditd's parser does for a key
// seen twice, or "".
func (f fieldList) get(key string) string {
	for _, e := range f {
		if e.key == key {
			return e.val
		}
	}
	return ""
}

// fields splits the key=value part of a record.
func fields(s string) fieldList {
	out := make(fieldList, 0, strings.Count(s, "="))
	for i := 0; i < len(s); {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			break
		}
		key := s[i : i+eq]
		if sp := strings.LastIndexByte(key, ' '); sp >= 0 {
			// A bare word without "=" before this key: skip it.
			key = key[sp+1:]
		}
		i += eq + 1
		var val string
		switch {
		case i < len(s) && (s[i] == '"' || s[i] == '\''):
			q := s[i]
			end := strings.IndexByte(s[i+1:], q)
			if end < 0 {
				val, i = s[i:], len(s)
			} else {
				val, i = s[i:i+end+2], i+end+2
			}
		default:
			end := strings.IndexByte(s[i:], ' ')
			if end < 0 {
				val, i = s[i:], len(s)
			} else {
				val, i = s[i:i+end], i+end
			}
		}
		if key != "" {
			out = append(out, field{key, val})
		}
	}
	return out
}

// untrusted decodes a value the kernel logged with audit_log_untrustedstring:
// "quoted" when it is plain printable text, upper-case hex otherwise, and
// (null) when absent. The kernel hex-encodes NUL-separated lists (proctitle)
// too; NULs become spaces, as auditd's interpretation does.
func untrusted(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	if v == "(null)" || v == "(none)" {
		return ""
	}
	if b, ok := decodeHex(v); ok {
		return strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ")
	}
	return v
}

// proctitle decodes the PROCTITLE record: the process's argv area, at most
// 128 bytes, NUL-separated (hex) or a single quoted word.
func proctitle(v string) []string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return []string{v[1 : len(v)-1]}
	}
	b, ok := decodeHex(v)
	if !ok {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// decodeHex decodes an upper-case hex string; lower-case or odd-length input
// is not something the kernel's hex encoder produces, so it is not hex.
func decodeHex(v string) ([]byte, bool) {
	if len(v) == 0 || len(v)%2 != 0 {
		return nil, false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return nil, false
		}
	}
	b, err := hex.DecodeString(v)
	return b, err == nil
}

// sockaddr decodes the SOCKADDR record's saddr (a struct sockaddr in hex).
func sockaddr(v string) (family int, ap netip.AddrPort, ok bool) {
	b, isHex := decodeHex(v)
	if !isHex || len(b) < 2 {
		return 0, netip.AddrPort{}, false
	}
	family = int(binary.LittleEndian.Uint16(b)) // sa_family is host order (x86 and arm64: LE)
	switch family {
	case 2: // AF_INET: family, port (BE), addr[4]
		if len(b) < 8 {
			return family, netip.AddrPort{}, false
		}
		addr := netip.AddrFrom4([4]byte(b[4:8]))
		return family, netip.AddrPortFrom(addr, binary.BigEndian.Uint16(b[2:4])), true
	case 10: // AF_INET6: family, port (BE), flowinfo[4], addr[16], scope id
		if len(b) < 24 {
			return family, netip.AddrPort{}, false
		}
		addr := netip.AddrFrom16([16]byte(b[8:24]))
		return family, netip.AddrPortFrom(addr, binary.BigEndian.Uint16(b[2:4])), true
	}
	return family, netip.AddrPort{}, false
}

// rawEvent is the records of one audit event (one serial) decoded into the
// values the sensor uses. It knows nothing about process trees.
type rawEvent struct {
	Time   time.Time
	Serial uint64

	// From the SYSCALL record.
	HasSyscall       bool
	Arch, Syscall    string
	Exit             int64
	Success          bool
	A                [4]uint64
	PID, PPID        int
	UID, EUID        int
	GID, EGID        int
	AUID, Session    uint32
	TTY, Comm, Exe   string
	Key              string
	Family           int            // SOCKADDR sa_family, 0 if none
	Dest             netip.AddrPort // SOCKADDR address for AF_INET/AF_INET6
	Args             []string       // EXECVE argv
	argParts         map[int]*argParts
	argBytes         int
	CWD              string
	Proctitle        []string // PROCTITLE argv (truncated by the kernel at 128 bytes)
	UserMsg          string   // text of an AUDIT_USER message (the Sync marker)
	HasUserMsg       bool
	UnknownRecords   int
	MalformedRecords int
}

// argParts collects an argument the kernel split over several a<N>[i]
// fields because it was too long for one record.
type argParts struct {
	parts map[int]string
}

// parseEvent decodes the records of one event. Records it does not need are
// counted, not rejected: an event is only unusable without a valid header.
func parseEvent(recs []Record) (*rawEvent, error) {
	if len(recs) == 0 {
		return nil, &ParseError{0, 1, "empty event"}
	}
	ev := &rawEvent{}
	for i, r := range recs {
		t, serial, off, err := r.header()
		if err != nil {
			return nil, err
		}
		if i == 0 {
			ev.Time, ev.Serial = t, serial
		} else if serial != ev.Serial {
			return nil, &ParseError{0, 1, fmt.Sprintf("record %d has serial %d, event has %d", i, serial, ev.Serial)}
		}
		f := fields(r.Text[off:])
		switch r.Type {
		case auparse.AUDIT_SYSCALL:
			if ev.HasSyscall {
				ev.MalformedRecords++
				continue
			}
			ev.parseSyscall(f)
		case auparse.AUDIT_SOCKADDR:
			if fam, ap, ok := sockaddr(f.get("saddr")); ok || fam != 0 {
				ev.Family, ev.Dest = fam, ap
			} else {
				ev.MalformedRecords++
			}
		case auparse.AUDIT_EXECVE:
			ev.addExecve(f)
		case auparse.AUDIT_CWD:
			ev.CWD = untrusted(f.get("cwd"))
		case auparse.AUDIT_PROCTITLE:
			ev.Proctitle = proctitle(f.get("proctitle"))
		case auparse.AUDIT_USER:
			ev.HasUserMsg = true
			ev.PID = atoi(f.get("pid"))
			ev.UserMsg = untrusted(f.get("msg"))
		case auparse.AUDIT_EOE, auparse.AUDIT_PATH:
			// EOE ends the event; PATH records describe the exec'd
			// file and interpreter, which exe= already names.
		default:
			ev.UnknownRecords++
		}
	}
	ev.finishArgs()
	return ev, nil
}

// argKeys names the SYSCALL record's first four syscall arguments.
var argKeys = [4]string{"a0", "a1", "a2", "a3"}

func (ev *rawEvent) parseSyscall(f fieldList) {
	ev.HasSyscall = true
	if a, err := strconv.ParseUint(f.get("arch"), 16, 32); err == nil {
		ev.Arch = auparse.AuditArch(a).String()
	}
	n, err := strconv.Atoi(f.get("syscall"))
	if err == nil {
		if name, ok := auparse.AuditSyscalls[ev.Arch][n]; ok {
			ev.Syscall = name
		} else {
			ev.Syscall = strconv.Itoa(n)
		}
	}
	ev.Success = f.get("success") == "yes"
	ev.Exit, _ = strconv.ParseInt(f.get("exit"), 10, 64)
	for i := range ev.A {
		ev.A[i], _ = strconv.ParseUint(f.get(argKeys[i]), 16, 64)
	}
	ev.PID, ev.PPID = atoi(f.get("pid")), atoi(f.get("ppid"))
	ev.UID, ev.EUID = atoi(f.get("uid")), atoi(f.get("euid"))
	ev.GID, ev.EGID = atoi(f.get("gid")), atoi(f.get("egid"))
	ev.AUID, ev.Session = auditID(f.get("auid")), auditID(f.get("ses"))
	ev.TTY = f.get("tty")
	ev.Comm = untrusted(f.get("comm"))
	ev.Exe = untrusted(f.get("exe"))
	// Several keys arrive joined by AUDIT_KEY_SEPARATOR (0x01); the
	// first is the shared "purpleharness", the rest name the instance.
	ev.Key, _, _ = strings.Cut(untrusted(f.get("key")), "\x01")
}

// addExecve collects argv from an EXECVE record. Short arguments are
// a<N>="..." (or hex); long ones are split into a<N>_len=L a<N>[0]=... a<N>[1]=...
// possibly across several EXECVE records of the same event.
func (ev *rawEvent) addExecve(f fieldList) {
	seen := map[string]bool{}
	for _, e := range f {
		k, v := e.key, e.val
		if seen[k] {
			continue // first value wins, as for every other field
		}
		seen[k] = true
		if len(k) < 2 || k[0] != 'a' || k[1] < '0' || k[1] > '9' {
			continue
		}
		num := k[1:]
		part := -1
		if br := strings.IndexByte(num, '['); br >= 0 && strings.HasSuffix(num, "]") {
			p, err := strconv.Atoi(num[br+1 : len(num)-1])
			if err != nil || p < 0 || p > maxArgBytes {
				continue
			}
			part, num = p, num[:br]
		} else if strings.HasSuffix(num, "_len") {
			continue
		}
		idx, err := strconv.Atoi(num)
		if err != nil || idx < 0 || idx >= maxArgs {
			continue
		}
		s := untrusted(v)
		if ev.argBytes+len(s) > maxArgBytes {
			continue
		}
		ev.argBytes += len(s)
		if ev.argParts == nil {
			ev.argParts = map[int]*argParts{}
		}
		ap := ev.argParts[idx]
		if ap == nil {
			ap = &argParts{parts: map[int]string{}}
			ev.argParts[idx] = ap
		}
		if part < 0 {
			part = 0
		}
		ap.parts[part] = s
	}
}

func (ev *rawEvent) finishArgs() {
	if len(ev.argParts) == 0 {
		return
	}
	n := 0
	for idx := range ev.argParts {
		if idx+1 > n {
			n = idx + 1
		}
	}
	ev.Args = make([]string, n)
	for idx, ap := range ev.argParts {
		var b strings.Builder
		for p := 0; p < len(ap.parts); p++ {
			s, ok := ap.parts[p]
			if !ok {
				break
			}
			b.WriteString(s)
		}
		ev.Args[idx] = b.String()
	}
	ev.argParts = nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// auditID parses auid/ses, where 4294967295 (or "unset") means unset.
func auditID(s string) uint32 {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return ^uint32(0)
	}
	return uint32(n)
}

// errnoName names a negative syscall return ("ECONNREFUSED"); "" for >= 0.
func errnoName(exit int64) string {
	if exit >= 0 {
		return ""
	}
	if name, ok := auparse.AuditErrnoToName[int(-exit)]; ok {
		return name
	}
	return "E" + strconv.FormatInt(-exit, 10)
}
