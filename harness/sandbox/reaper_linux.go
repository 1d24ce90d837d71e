package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Kinds of cleanup items. Callers may add their own (a container, the
// audit rules) with an action registered in ReapMain.
const (
	KindCgroup    = "cgroup"    // Name: cgroup directory; its processes are killed
	KindNetns     = "netns"     // Name: bind-mounted namespace file
	KindDir       = "dir"       // Name: temporary directory
	KindContainer = "container" // Name: container id; Extra: image
	KindAudit     = "audit"     // Name: owner "<pid>-<start>" of audit rules
)

// order is the teardown order: processes first (nothing forks or connects
// while the rest goes), then the servers, the kernel state, names, files.
var order = []string{KindCgroup, KindContainer, KindAudit, KindNetns, KindDir}

func rank(kind string) int {
	for i, k := range order {
		if k == kind {
			return i
		}
	}
	return len(order)
}

// Item is one thing the reaper removes should the run die.
type Item struct {
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Extra string `json:"extra,omitempty"`
}

func (it Item) String() string {
	s := it.Kind + " " + it.Name
	if it.Extra != "" {
		s += " (" + it.Extra + ")"
	}
	return s
}

// envReaper marks the re-executed process as a reaper; fd 3 is its pipe.
const envReaper = "PURPLEHARNESS_REAPER"

// IsReaper reports whether this process was started by StartReaper. The
// program's main must then call ReapMain before doing anything else.
func IsReaper() bool { return os.Getenv(envReaper) == "1" }

// Reaper is the run's side of the reaper process.
type Reaper struct {
	mu   sync.Mutex
	w    *os.File
	cmd  *exec.Cmd
	done chan struct{}
}

// StartReaper re-executes the running program as the reaper. It runs in a
// session of its own (a terminal's Ctrl-C does not reach it) and holds the
// read end of a pipe: when the run dies, however, the kernel closes the
// write end and the reaper removes every item it was told of.
func StartReaper() (*Reaper, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("reaper: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("reaper: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envReaper+"=1")
	cmd.ExtraFiles = []*os.File{r}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("reaper: %w", err)
	}
	r.Close()
	rp := &Reaper{w: w, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(rp.done) }()
	return rp, nil
}

// PID is the reaper's process id.
func (r *Reaper) PID() int { return r.cmd.Process.Pid }

// Add tells the reaper of items to remove should the run die.
func (r *Reaper) Add(items ...Item) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return errors.New("reaper: already done")
	}
	for _, it := range items {
		b, _ := json.Marshal(it)
		if _, err := r.w.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("reaper: %w", err)
		}
	}
	return nil
}

// Done tells the reaper the run cleaned up after itself, and waits for it
// to exit.
func (r *Reaper) Done() {
	if r == nil {
		return
	}
	r.mu.Lock()
	if r.w != nil {
		r.w.Write([]byte("done\n"))
		r.w.Close()
		r.w = nil
	}
	r.mu.Unlock()
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
	}
}

// Action removes one item; a missing item is no error.
type Action func(ctx context.Context, it Item) error

// ReapMain is the reaper process: it reads items from fd 3 until the run
// says it is done (and then exits quietly) or the pipe closes (the run
// died: it removes every item, reporting each to stderr). actions add or
// override the removal of kinds; cgroup, netns and dir are built in. It
// returns the exit code.
func ReapMain(actions map[string]Action) int {
	f := os.NewFile(3, "reaper-pipe")
	if f == nil {
		fmt.Fprintln(os.Stderr, "validate: reaper: no pipe on fd 3")
		return 2
	}
	var items []Item
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "done" {
			return 0
		}
		var it Item
		if err := json.Unmarshal([]byte(line), &it); err == nil {
			items = append(items, it)
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(os.Stderr, "validate: reaper: %v\n", err)
	}
	if len(items) == 0 {
		return 0
	}
	removed, err := Reap(context.Background(), items, actions)
	if len(removed) > 0 {
		fmt.Fprintf(os.Stderr, "validate: the run died; its reaper removed %s\n", strings.Join(removed, ", "))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "validate: reaper: %v\n", err)
		return 1
	}
	return 0
}

// Reap removes items in teardown order and returns their names.
func Reap(ctx context.Context, items []Item, actions map[string]Action) ([]string, error) {
	all := map[string]Action{
		KindCgroup: func(_ context.Context, it Item) error { return RemoveCgroup(it.Name) },
		KindNetns:  func(_ context.Context, it Item) error { return RemoveNetns(it.Name) },
		KindDir:    func(_ context.Context, it Item) error { return os.RemoveAll(it.Name) },
	}
	for k, a := range actions {
		all[k] = a
	}
	sort.SliceStable(items, func(i, j int) bool { return rank(items[i].Kind) < rank(items[j].Kind) })
	var errs []error
	var removed []string
	for _, it := range items {
		a := all[it.Kind]
		if a == nil {
			errs = append(errs, fmt.Errorf("no way to remove %s", it))
			continue
		}
		if err := a(ctx, it); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", it, err))
			continue
		}
		removed = append(removed, it.String())
	}
	return removed, errors.Join(errs...)
}
