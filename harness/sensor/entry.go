package sensor

import (
	"path"
	"strings"

	"github.com/purpleharness/purpleharness/ecs"
)

// ECS defines process.entry_leader as the first process of a session
// entered from a terminal or remotely (SSH, SSM, ...), or a service started
// directly by init, and entry_meta.type as how it was entered. Which process
// that is, and which type it gets, is decided here the way Elastic's
// open-source session tracking decides it for the same fields:
// elastic/beats x-pack/auditbeat/processors/sessionmd/processdb (db.go,
// evaluateEntryLeader; the type names and the terminal classes come from
// there and from auditbeat/helper/tty). elastic/quark's entry_leader_compute
// makes the same decisions "to keep the same behaviour of other elastic
// products", except that it names init itself the entry leader of a
// service; that contradicts the ECS definition, so it is not followed.
//
// The decision for one process reads only that process and its parent
// (DecideEntry); a process that does not lead an entry of its own takes the
// entry leader of its parent, else of its session leader, else of its
// process group leader, and a session leader none of them can name leads an
// entry of type "unknown" (the caller walks the relatives: it owns them).

// EntryFacts is what deciding a process's entry leader reads of it.
type EntryFacts struct {
	PID, PPID, SID int
	// TTYMajor and TTYMinor are the controlling terminal's device
	// numbers, 0 and 0 when it has none.
	TTYMajor, TTYMinor uint32
	// Executable is the image the process runs now; ParentExecutable its
	// parent's, "" when the parent is unknown.
	Executable, ParentExecutable string
}

// EntryDecision is what a process's own facts say of its entry leader.
type EntryDecision int

const (
	// EntryInherit: the process takes its entry leader from its
	// relatives (parent, session leader, group leader, in that order).
	EntryInherit EntryDecision = iota
	// EntryOwn: the process is its own entry leader, of the type returned.
	EntryOwn
	// EntryNever: init and kernel threads have no entry leader.
	EntryNever
)

// TTYClass is the kind of a terminal device, by its device numbers
// (Documentation/admin-guide/devices.txt: major 4 minors 0-63 are the
// virtual consoles, 64-255 the serial ports; majors 136-143 the Unix98
// pseudo-terminal slaves).
type TTYClass int

// Terminal classes.
const (
	TTYNone    TTYClass = iota // no controlling terminal, or another device
	TTYPts                     // a pseudo-terminal (ssh, terminal emulators)
	TTYConsole                 // a virtual console (tty0..tty63)
	TTYSerial                  // a serial line (ttyS0..)
)

// ClassifyTTY returns the class of the terminal device major:minor.
func ClassifyTTY(major, minor uint32) TTYClass {
	switch {
	case major >= 136 && major <= 143:
		return TTYPts
	case major == 4 && minor <= 63:
		return TTYConsole
	case major == 4 && minor <= 255:
		return TTYSerial
	}
	return TTYNone
}

// containerRuntimes are the executables (by name prefix) whose direct
// children lead a container's entry; they, and a few other helpers of entry
// mechanisms, never lead an entry themselves beyond the terminal cases.
var (
	containerRuntimes   = []string{"containerd-shim", "runc", "conmon"}
	entryInfrastructure = []string{"runc", "containerd-shim", "calico-node", "check-status", "conmon"}
)

// DecideEntry returns what f alone says of the process's entry leader.
func DecideEntry(f EntryFacts) (EntryDecision, ecs.EntryType) {
	if f.PID == 1 || f.PID == 2 || f.PPID == 2 {
		return EntryNever, ""
	}
	if f.PID != f.SID {
		return EntryInherit, ""
	}
	name := baseName(f.Executable)
	tty := ClassifyTTY(f.TTYMajor, f.TTYMinor)
	switch {
	case tty == TTYSerial:
		// The session of a serial line's login: what beats calls a
		// "tty", entry type terminal.
		return EntryOwn, ecs.EntryTerminal
	case tty == TTYConsole && name == "login":
		return EntryOwn, ecs.EntryConsole
	case f.PPID == 1:
		return EntryOwn, ecs.EntryInit
	case hasPrefix(name, entryInfrastructure):
		return EntryInherit, ""
	}
	if f.ParentExecutable == "" {
		return EntryInherit, ""
	}
	parent := baseName(f.ParentExecutable)
	switch {
	case tty == TTYPts && parent == "ssm-session-worker":
		return EntryOwn, ecs.EntrySSM
	case parent == "sshd" && name != "sshd":
		return EntryOwn, ecs.EntrySSHD
	case hasPrefix(parent, containerRuntimes):
		return EntryOwn, ecs.EntryContainer
	}
	return EntryInherit, ""
}

func baseName(p string) string {
	if p == "" {
		return ""
	}
	return path.Base(p)
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
