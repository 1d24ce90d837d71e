package sensor

import (
	"context"
	"errors"
	"fmt"

	"github.com/elastic/go-libaudit/v2"
)

// Reap removes the audit rules of every sensor that is no longer alive, or
// for which dead returns true (a run's reaper names its run, which may
// still be a zombie), and, when no live sensor's rules remain, restores
// the audit state the oldest of them found (enabled flag, backlog limit).
// It returns what it did, by name; finding nothing is no error.
func Reap(ctx context.Context, dead func(pid int, startTick int64) bool) ([]string, error) {
	lock, err := acquireHostLock(ctx)
	if err != nil {
		return nil, err
	}
	defer lock.release()
	ctl, err := libaudit.NewAuditClient(nil)
	if err != nil {
		return nil, fmt.Errorf("audit control socket: %w", err)
	}
	defer ctl.Close()
	existing, err := ctl.GetRules()
	if err != nil {
		return nil, fmt.Errorf("list audit rules: %w", err)
	}
	var remove [][]byte
	var oldest *instance
	owners := map[int]int{}
	others := false
	for _, wf := range existing {
		in, ok := ownedBy(wf)
		if !ok {
			continue
		}
		if in.startedBefore(oldest) {
			cp := in
			oldest = &cp
		}
		if (dead != nil && dead(in.PID, in.StartTick)) || !in.alive() {
			remove = append(remove, wf)
			owners[in.PID]++
			continue
		}
		others = true
	}
	if len(remove) == 0 {
		return nil, nil
	}
	var did []string
	var errs []error
	if !others {
		before, _ := ctl.GetStatus()
		if err := restoreState(ctl, *oldest); err != nil {
			errs = append(errs, err)
		} else if before != nil && before.Enabled != oldest.Enabled {
			did = append(did, fmt.Sprintf("audit enabled flag restored to %d", oldest.Enabled))
		}
	}
	for _, wf := range remove {
		if err := ctl.DeleteRule(wf); err != nil {
			errs = append(errs, fmt.Errorf("remove rule: %w", err))
		}
	}
	for pid, n := range owners {
		did = append([]string{fmt.Sprintf("%d audit rules (key %s) of dead run %d", n, Key, pid)}, did...)
	}
	return did, errors.Join(errs...)
}
