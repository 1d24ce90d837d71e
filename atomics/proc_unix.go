//go:build unix && !linux

package atomics

import (
	"os"
	"os/exec"
	"syscall"
)

// setSession puts the executor in a process group of its own, so that a
// timeout or Ctrl-C can kill the group. Without /proc, descendants that
// leave the group are not found; Linux does better (proc_linux.go).
func setSession(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killSession SIGKILLs process group pgid. It cannot list what it killed.
func killSession(pgid int, alive bool) []int {
	if pgid <= 1 {
		return nil
	}
	syscall.Kill(-pgid, syscall.SIGKILL) //nolint:errcheck // the group may be gone
	return nil
}

func exitSignal(st *os.ProcessState) string {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal().String()
	}
	return ""
}
