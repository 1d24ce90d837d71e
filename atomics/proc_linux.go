package atomics

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// setSession starts cmd as the leader of a new session (and so of a new
// process group) so that everything it spawns can be found and killed
// together, and so that a terminal's Ctrl-C reaches only us: we then kill
// the tree ourselves and still run cleanup. Pdeathsig kills the shell if we
// die without getting the chance.
func setSession(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
}

// maxKillRounds bounds killSession's scans: a process may fork between a
// scan and the kill, so we look again until nothing is left.
const maxKillRounds = 20

// killSession SIGKILLs every live process in session sid or process group
// sid and returns their PIDs. While the leader is alive (not yet reaped),
// pass alive: then descendants that moved to a session of their own
// (setsid) are found through parent links and killed too. Once the leader
// has been reaped its PID may be reused, so only session and group
// membership count: the kernel does not hand out a PID that still names a
// session or group. Processes that left the session and were re-parented
// to init are out of reach.
func killSession(sid int, alive bool) []int {
	if sid <= 1 {
		return nil // never "everything in session 0" (kernel threads) or init's
	}
	var killed []int
	seen := map[int]bool{}
	self := os.Getpid()
	for round := 0; round < maxKillRounds; round++ {
		procs := scanProcs()
		victims := map[int]bool{}
		for pid, st := range procs {
			if st.sid == sid || st.pgrp == sid {
				victims[pid] = true
			}
		}
		if !alive {
			delete(victims, sid) // a reused PID, not our leader
		} else if _, ok := procs[sid]; ok {
			victims[sid] = true
			// Descendants that left the session, by parent links: they
			// must be found before their parents die and they are
			// re-parented.
			for changed := true; changed; {
				changed = false
				for pid, st := range procs {
					if !victims[pid] && victims[st.ppid] {
						victims[pid] = true
						changed = true
					}
				}
			}
		}
		delete(victims, self)
		if len(victims) == 0 {
			break
		}
		// Stop first so nobody forks or re-parents between the kills.
		for pid := range victims {
			syscall.Kill(pid, syscall.SIGSTOP) //nolint:errcheck // may be gone
		}
		for pid := range victims {
			if syscall.Kill(pid, syscall.SIGKILL) == nil && !seen[pid] && pid != sid {
				seen[pid] = true
				killed = append(killed, pid)
			}
		}
	}
	sort.Ints(killed)
	return killed
}

type procStat struct{ ppid, pgrp, sid int }

// scanProcs reads /proc/*/stat for live (non-zombie) processes.
func scanProcs() map[int]procStat {
	out := map[int]procStat{}
	matches, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session ...; comm may hold spaces
		// and parentheses, so split after the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 4 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		pid, err1 := strconv.Atoi(strings.TrimSpace(s[:strings.IndexByte(s, ' ')]))
		ppid, err2 := strconv.Atoi(f[1])
		pgrp, err3 := strconv.Atoi(f[2])
		sid, err4 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			continue
		}
		out[pid] = procStat{ppid, pgrp, sid}
	}
	return out
}

func exitSignal(st *os.ProcessState) string {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal().String()
	}
	return ""
}
