package sensor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// procfs reads live processes from /proc. Facts are read once per pid and
// start time, so a busy process is not re-read for every event.
type procfs struct {
	root     string // "/proc"
	bootTime time.Time
	ticks    int64 // USER_HZ; 100 on every Linux ABI Go supports
}

func newProcfs() (*procfs, error) {
	bt, err := bootTime("/proc/stat")
	if err != nil {
		return nil, err
	}
	return &procfs{root: "/proc", bootTime: bt, ticks: 100}, nil
}

// bootTime reads "btime" from /proc/stat.
func bootTime(path string) (time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("%s: bad btime %q", path, v)
			}
			return time.Unix(n, 0).UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s: no btime line", path)
}

// statFields parses /proc/<pid>/stat: comm is in parentheses and may contain
// spaces and ")", so split after the last ")".
func statFields(b []byte) (comm string, ppid int, starttime int64, err error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return "", 0, 0, errors.New("malformed stat")
	}
	comm = string(b[open+1 : end])
	f := strings.Fields(string(b[end+1:]))
	// After comm: state(0) ppid(1) ... starttime is field 22 overall, index 19 here.
	if len(f) < 20 {
		return "", 0, 0, errors.New("short stat")
	}
	ppid, err1 := strconv.Atoi(f[1])
	starttime, err2 := strconv.ParseInt(f[19], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, 0, errors.New("malformed stat numbers")
	}
	return comm, ppid, starttime, nil
}

func (p *procfs) lookup(pid int) (procFacts, bool) {
	dir := p.root + "/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return procFacts{}, false
	}
	comm, ppid, start, err := statFields(stat)
	if err != nil {
		return procFacts{}, false
	}
	f := procFacts{
		PPID:  ppid,
		Comm:  comm,
		Start: p.bootTime.Add(time.Duration(start) * time.Second / time.Duration(p.ticks)),
	}
	f.Executable, _ = os.Readlink(dir + "/exe")
	f.Executable = strings.TrimSuffix(f.Executable, " (deleted)")
	f.WorkingDirectory, _ = os.Readlink(dir + "/cwd")
	if cmd, err := os.ReadFile(dir + "/cmdline"); err == nil && len(cmd) > 0 {
		f.Args = strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")
	}
	if st, err := os.ReadFile(dir + "/status"); err == nil {
		for line := range strings.SplitSeq(string(st), "\n") {
			if v, ok := strings.CutPrefix(line, "Uid:"); ok {
				ids := strings.Fields(v)
				if len(ids) >= 2 {
					f.UID, _ = strconv.Atoi(ids[0])
					f.EUID, _ = strconv.Atoi(ids[1])
				}
			} else if v, ok := strings.CutPrefix(line, "Gid:"); ok {
				ids := strings.Fields(v)
				if len(ids) >= 2 {
					f.GID, _ = strconv.Atoi(ids[0])
					f.EGID, _ = strconv.Atoi(ids[1])
				}
			}
		}
	}
	return f, true
}

// startTicks returns /proc/<pid>/stat starttime, the identity the sensor
// stores in its rule keys to tell a live instance from a reused pid.
func startTicks(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	_, _, st, err := statFields(b)
	return st, err == nil
}

// passwd names uids and gids from /etc/passwd and /etc/group, as Elastic
// Defend and Auditbeat resolve user.name and group.name on the host.
type passwd struct {
	once   sync.Once
	users  map[int]string
	groups map[int]string
}

func (p *passwd) load() {
	p.once.Do(func() {
		p.users = readIDFile("/etc/passwd")
		p.groups = readIDFile("/etc/group")
	})
}

func (p *passwd) user(uid int) string  { p.load(); return p.users[uid] }
func (p *passwd) group(gid int) string { p.load(); return p.groups[gid] }

// readIDFile maps the third field (id) to the first (name) of a
// colon-separated file such as /etc/passwd.
func readIDFile(path string) map[int]string {
	m := map[int]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		return m
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.SplitN(line, ":", 4)
		if len(f) < 3 || strings.HasPrefix(line, "#") {
			continue
		}
		if id, err := strconv.Atoi(f[2]); err == nil {
			if _, dup := m[id]; !dup {
				m[id] = f[0]
			}
		}
	}
	return m
}
