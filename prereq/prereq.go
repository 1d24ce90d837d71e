// Package prereq names what a machine lacks when purpleharness cannot do
// its job there: not root, no kernel audit, no BPF, no Docker daemon, a mail
// port held by somebody else's process, no pwsh, no Elasticsearch cluster,
// no EQL conformance corpus, no Atomic Red Team checkout, no client program.
//
// A *Missing error is returned only where the machine is at fault, never for
// a failure of our own code: "the kernel refused our audit rule" or "the
// certificate did not generate" are bugs and stay plain errors. Tests can
// then skip on exactly the environment and fail on everything else:
//
//	s, err := sensor.Start(ctx, opts)
//	prereq.SkipOrFail(t, err) // skips on *Missing, t.Fatal on any other error
//
//	curl := prereq.LookPath(t, "curl") // skips with "needs curl (tool): ..."
//	prereq.Skip(t, prereq.Root, "the audit sensor needs CAP_AUDIT_CONTROL")
//
// PURPLEHARNESS_REQUIRE lists causes a machine is known to have
// (PURPLEHARNESS_REQUIRE=root,audit,docker,tool): a test that would skip
// for a listed cause fails instead, so a CI that has root never reports a
// green run whose kernel tests all skipped.
package prereq

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
)

// Cause is one thing a machine can lack. Its value is the name used in
// PURPLEHARNESS_REQUIRE and in the "[missing CAUSE]" tag of the message.
type Cause string

const (
	Root          Cause = "root"          // not running as root / no CAP_AUDIT_CONTROL, CAP_NET_BIND_SERVICE
	Audit         Cause = "audit"         // the kernel offers no usable audit (not built in, immutable, another user namespace)
	BPF           Cause = "bpf"           // no BPF: no CAP_BPF/CAP_PERFMON, no BTF, tracepoints not attachable
	Docker        Cause = "docker"        // no Docker daemon answers
	Port          Cause = "port"          // a fixed port is held by a process that is not ours
	Pwsh          Cause = "pwsh"          // PowerShell (pwsh) is not installed
	Elasticsearch Cause = "elasticsearch" // no Elasticsearch cluster given or reachable
	Corpus        Cause = "corpus"        // the EQL conformance corpus is not on disk
	Upstream      Cause = "upstream"      // no Atomic Red Team checkout (ART_ATOMICS_DIR)
	Tool          Cause = "tool"          // a client program the tests drive (curl, nc, auditctl, fetchmail, ...)
	Cgroup        Cause = "cgroup"        // no cgroup v2 hierarchy mounted
)

// Causes lists every cause, in the order the docs give them.
var Causes = []Cause{Root, Audit, BPF, Docker, Port, Pwsh, Elasticsearch, Corpus, Upstream, Tool, Cgroup}

func (c Cause) valid() bool {
	for _, k := range Causes {
		if c == k {
			return true
		}
	}
	return false
}

// Missing is an environment cause with what was observed. Err keeps the
// underlying error, so errors.Is still finds sentinels such as
// sensor.ErrNoAudit or container.ErrNoDocker.
type Missing struct {
	Cause Cause
	Err   error
}

// Error renders the observation followed by the tag "[missing CAUSE]",
// which Parse finds again in the stderr of a child process.
func (m *Missing) Error() string { return fmt.Sprintf("%v [missing %s]", m.Err, m.Cause) }

// Unwrap returns the underlying error.
func (m *Missing) Unwrap() error { return m.Err }

// New wraps err as the environment cause c. Call it only where the machine,
// not our code, is at fault.
func New(c Cause, err error) error {
	if !c.valid() {
		panic(fmt.Sprintf("prereq: unknown cause %q", c))
	}
	return &Missing{Cause: c, Err: err}
}

// Errorf is New(c, fmt.Errorf(format, args...)).
func Errorf(c Cause, format string, args ...any) error {
	return New(c, fmt.Errorf(format, args...))
}

// As reports the environment cause in err's chain, if any.
func As(err error) (*Missing, bool) {
	var m *Missing
	if errors.As(err, &m) {
		return m, true
	}
	return nil, false
}

var tag = regexp.MustCompile(`\[missing ([a-z]+)\]`)

// Parse finds the cause that a child process (validate, a test helper)
// printed in a *Missing message. It reports false when the text carries no
// tag, or one naming no known cause: that child failed for its own reasons.
func Parse(text string) (Cause, bool) {
	m := tag.FindStringSubmatch(text)
	if m == nil || !Cause(m[1]).valid() {
		return "", false
	}
	return Cause(m[1]), true
}

// EnvRequire names the environment variable listing required causes.
const EnvRequire = "PURPLEHARNESS_REQUIRE"

// Required reports whether c is listed in PURPLEHARNESS_REQUIRE. A name
// there that is no cause is an error, so a typo cannot turn a requirement
// off silently.
func Required(c Cause) (bool, error) {
	found := false
	for _, f := range strings.Split(os.Getenv(EnvRequire), ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !Cause(f).valid() {
			return false, fmt.Errorf("%s=%q: unknown cause %q (known: %s)", EnvRequire, os.Getenv(EnvRequire), f, causeList())
		}
		if Cause(f) == c {
			found = true
		}
	}
	return found, nil
}

func causeList() string {
	s := make([]string, len(Causes))
	for i, c := range Causes {
		s[i] = string(c)
	}
	return strings.Join(s, ",")
}

// TB is the part of testing.TB this package uses (testing.TB satisfies
// it), so that importing prereq does not pull package testing into a
// binary.
type TB interface {
	Helper()
	Skip(args ...any)
	Fatal(args ...any)
}

// Skip skips the test for cause c with a one-line reason, or fails it when
// PURPLEHARNESS_REQUIRE lists c.
func Skip(t TB, c Cause, reason string) {
	t.Helper()
	if !c.valid() {
		t.Fatal(fmt.Sprintf("prereq: unknown cause %q", c))
		return
	}
	reason = oneLine(reason)
	req, err := Required(c)
	if err != nil {
		t.Fatal(err.Error())
		return
	}
	if req {
		t.Fatal(fmt.Sprintf("%s=%s requires %s, but: %s", EnvRequire, os.Getenv(EnvRequire), c, reason))
		return
	}
	t.Skip(fmt.Sprintf("needs %s: %s", c, reason))
}

// SkipOrFail does nothing for a nil err, skips (as Skip) when err carries
// an environment cause, and fails the test for any other error: our own
// failures never turn into a skip.
func SkipOrFail(t TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if m, ok := As(err); ok {
		Skip(t, m.Cause, err.Error())
		return
	}
	t.Fatal(err.Error())
}

// SkipOrFailText is SkipOrFail for a child process's output: it skips when
// text carries a "[missing CAUSE]" tag and fails with text otherwise.
func SkipOrFailText(t TB, what, text string) {
	t.Helper()
	if c, ok := Parse(text); ok {
		line := text
		for _, l := range strings.Split(text, "\n") {
			if tag.MatchString(l) {
				line = l
				break
			}
		}
		Skip(t, c, what+": "+line)
		return
	}
	t.Fatal(what + ": " + text)
}

// LookPath returns the path of the program name, or skips the test for
// Tool (fails under PURPLEHARNESS_REQUIRE=tool).
func LookPath(t TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Skip(t, Tool, fmt.Sprintf("%s not installed: %v", name, err))
		return ""
	}
	return p
}

// NeedRoot skips the test for Root unless it runs as root; why says what
// needs it.
func NeedRoot(t TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, Root, why)
	}
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return s
}
