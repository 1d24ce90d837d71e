package atomics

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Rule names what a lint finding is about.
type Rule string

// Lint rules. The first group mirrors upstream's validator
// (atomic_red_team/models.py); the rest catch mistakes it lets through.
const (
	RuleMissingField       Rule = "missing-field"
	RuleUnknownField       Rule = "unknown-field"
	RuleInvalidValue       Rule = "invalid-value"
	RuleTechniqueID        Rule = "technique-id"
	RulePlatform           Rule = "platform"
	RuleExecutor           Rule = "executor"
	RuleArgumentType       Rule = "argument-type"
	RuleArgumentName       Rule = "argument-name"
	RuleArgumentDefault    Rule = "argument-default"
	RuleUndeclared         Rule = "undeclared-argument"
	RuleUnused             Rule = "unused-argument"
	RuleEmptyArguments     Rule = "empty-input-arguments"
	RuleSudo               Rule = "sudo-without-elevation"
	RuleGUID               Rule = "guid"
	RuleDependencyExecutor Rule = "dependency-executor"

	RuleDuplicateKey  Rule = "duplicate-key"
	RuleDuplicateGUID Rule = "duplicate-guid"
	RuleDuplicateName Rule = "duplicate-name"
	RuleFileName      Rule = "file-name"
	RuleSwallowed     Rule = "comment-in-command"
	RuleNewlineJoin   Rule = "newline-join"
)

// Finding is one lint problem.
type Finding struct {
	Pos  Pos    `json:"pos"`
	Rule Rule   `json:"rule"`
	Msg  string `json:"message"`
}

// String renders "file:line:col: msg [rule]".
func (f Finding) String() string { return fmt.Sprintf("%s: %s [%s]", f.Pos, f.Msg, f.Rule) }

var (
	techniqueIDRE  = regexp.MustCompile(`^T\d{4}(\.\d{3})?$`)
	argNameRE      = regexp.MustCompile(`^[\w-]{2,}$`)
	guidRE         = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	placeholderRE  = regexp.MustCompile(`#\{([^{}\n]*)\}`)
	sudoRE         = regexp.MustCompile(`(^|[^\w.-])sudo($|[^\w.-])`)
	hostnameRE     = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?(:\d{1,5})?$`)
	minDisplayName = 5 // upstream: display_name min_length
	minSteps       = 10
)

// Placeholders returns the distinct #{name} placeholders in s, in order.
func Placeholders(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	return out
}

// Lint checks every test of the technique and returns all findings, sorted
// by position. It never stops at the first.
func (t *Technique) Lint() []Finding {
	l := &linter{tech: t, findings: append([]Finding(nil), t.findings...)}
	l.technique()
	sortFindings(l.findings)
	return l.findings
}

// Lint lints every technique and, across them, checks that GUIDs are unique.
func (c *Catalog) Lint() []Finding {
	var out []Finding
	first := map[string]*Test{}
	for _, tech := range c.Techniques {
		out = append(out, tech.Lint()...)
		for _, t := range tech.Tests {
			g := strings.ToLower(t.GUID)
			if g == "" {
				continue
			}
			if prev, ok := first[g]; ok && prev.tech != tech {
				out = append(out, Finding{t.keys["auto_generated_guid"], RuleDuplicateGUID,
					fmt.Sprintf("%s: auto_generated_guid %s is also used by %s (%s)", t.ID(), t.GUID, prev.ID(), prev.Pos)})
				continue
			}
			first[g] = t
		}
	}
	sortFindings(out)
	return out
}

func sortFindings(f []Finding) {
	sort.SliceStable(f, func(i, j int) bool {
		a, b := f[i].Pos, f[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

type linter struct {
	tech     *Technique
	findings []Finding
}

func (l *linter) add(p Pos, rule Rule, format string, args ...any) {
	l.findings = append(l.findings, Finding{p, rule, fmt.Sprintf(format, args...)})
}

func (l *linter) technique() {
	t := l.tech
	if t.AttackTechnique != "" && !techniqueIDRE.MatchString(t.AttackTechnique) {
		l.add(t.keys["attack_technique"], RuleTechniqueID, "attack_technique %q: want T followed by 4 digits and an optional .NNN sub-technique", t.AttackTechnique)
	}
	if base := strings.TrimSuffix(filepath.Base(t.File), filepath.Ext(t.File)); t.AttackTechnique != "" && techniqueIDRE.MatchString(base) && base != t.AttackTechnique {
		l.add(t.keys["attack_technique"], RuleFileName, "attack_technique %q does not match the file name %s", t.AttackTechnique, filepath.Base(t.File))
	}
	if t.DisplayName != "" && len(t.DisplayName) < minDisplayName {
		l.add(t.keys["display_name"], RuleInvalidValue, "display_name %q: want at least %d characters", t.DisplayName, minDisplayName)
	}
	if p, ok := t.keys["atomic_tests"]; ok && len(t.Tests) == 0 {
		l.add(p, RuleMissingField, "atomic_tests is empty")
	}
	names := map[string]*Test{}
	guids := map[string]*Test{}
	for _, test := range t.Tests {
		l.test(test)
		if prev, ok := names[test.Name]; ok && test.Name != "" {
			l.add(test.Pos, RuleDuplicateName, "%s: name %q is also the name of %s", test.ID(), test.Name, prev.ID())
		}
		names[test.Name] = test
		if g := strings.ToLower(test.GUID); g != "" {
			if prev, ok := guids[g]; ok {
				l.add(test.keys["auto_generated_guid"], RuleDuplicateGUID, "%s: auto_generated_guid %s is also used by %s", test.ID(), test.GUID, prev.ID())
			}
			guids[g] = test
		}
	}
}

func (l *linter) test(t *Test) {
	id := t.ID()
	for _, key := range []string{"name", "description", "supported_platforms", "executor"} {
		if _, ok := t.keys[key]; !ok {
			l.add(t.Pos, RuleMissingField, "%s: missing %s", id, key)
		}
	}
	if p, ok := t.keys["name"]; ok && strings.TrimSpace(t.Name) == "" {
		l.add(p, RuleMissingField, "%s: name is empty", id)
	}
	if p, ok := t.keys["description"]; ok && strings.TrimSpace(t.Description) == "" {
		l.add(p, RuleMissingField, "%s: description is empty", id)
	}
	if p, ok := t.keys["supported_platforms"]; ok && len(t.SupportedPlatforms) == 0 {
		l.add(p, RuleMissingField, "%s: supported_platforms is empty", id)
	}
	for i, p := range t.SupportedPlatforms {
		if !p.Valid() {
			l.add(t.platformPos[i], RulePlatform, "%s: unknown platform %q (want one of %s)", id, p, joinQuoted(Platforms))
		}
	}
	switch p, ok := t.keys["auto_generated_guid"]; {
	case !ok || t.GUID == "":
		if !ok {
			p = t.Pos
		}
		l.add(p, RuleGUID, "%s: no auto_generated_guid (generate a random v4 UUID; scenarios refer to tests by it)", id)
	case !guidRE.MatchString(t.GUID):
		l.add(p, RuleGUID, "%s: auto_generated_guid %q is not a UUID (want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", id, t.GUID)
	}
	if p, ok := t.keys["input_arguments"]; ok && len(t.InputArguments) == 0 {
		l.add(p, RuleEmptyArguments, "%s: input_arguments is empty; remove the key or declare arguments", id)
	}
	if p, ok := t.keys["dependency_executor_name"]; ok {
		switch {
		case t.DependencyExecutor == "":
			l.add(p, RuleDependencyExecutor, "%s: dependency_executor_name is empty; name an executor or remove the key", id)
		case !t.DependencyExecutor.Valid():
			l.add(p, RuleDependencyExecutor, "%s: unknown dependency_executor_name %q (want one of %s)", id, t.DependencyExecutor, joinQuoted(ExecutorNames))
		case len(t.Dependencies) == 0:
			l.add(p, RuleDependencyExecutor, "%s: dependency_executor_name is set but there are no dependencies", id)
		}
	}
	for i, d := range t.Dependencies {
		if strings.TrimSpace(d.Description) == "" {
			l.add(d.Pos, RuleMissingField, "%s: dependencies[%d]: missing description", id, i)
		}
		if strings.TrimSpace(d.PrereqCommand) == "" {
			l.add(d.Pos, RuleMissingField, "%s: dependencies[%d]: missing prereq_command", id, i)
		}
	}
	l.executor(t)
	l.arguments(t)
	l.newlineJoin(t)
}

// joinBreakers match a line that a following "; " turns into a syntax
// error: an open loop, conditional, group, pipe, list or continuation, or a
// here-document, which needs its newlines. Each regexp has a cheap gate so
// that most lines never reach the regexp engine.
var joinBreakers = []struct {
	gate func(string) bool
	re   *regexp.Regexp
}{
	{func(l string) bool {
		return strings.HasSuffix(l, "do") || strings.HasSuffix(l, "then") || strings.HasSuffix(l, "else")
	}, regexp.MustCompile(`(^|[\s;&|])(do|then|else)$`)},
	{func(l string) bool { return strings.HasSuffix(l, "{") || strings.HasSuffix(l, "(") }, regexp.MustCompile(`(^|\s)[{(]$`)},
	{func(l string) bool {
		return strings.HasSuffix(l, "|") || strings.HasSuffix(l, "&") || strings.HasSuffix(l, "\\")
	}, regexp.MustCompile(`(\||&&|\\)$`)},
	{func(l string) bool { return strings.HasPrefix(l, "case") }, regexp.MustCompile(`^case\s.*\sin$`)},
	{func(l string) bool { return strings.Contains(l, "<<") }, regexp.MustCompile(`(^|[^<])<<-?\s*['"]?[A-Za-z_]\w*['"]?(\s|$)`)},
}

// newlineJoin reports sh and bash lines that break under
// Invoke-AtomicRedTeam, which runs such commands as `sh -c "..."` with
// every newline not preceded by ";" replaced by "; "
// (Private/Invoke-ExecuteCommand.ps1; atomic-red-team PR #2035 fixed
// atomics broken by it). Upstream atomics must run there, so a test fit to
// contribute keeps each statement on one line.
func (l *linter) newlineJoin(t *Test) {
	e := t.Executor
	if e == nil {
		return
	}
	check := func(exec ExecutorName, field, text string, pos Pos) {
		if exec != Sh && exec != Bash {
			return
		}
		lines := strings.Split(strings.TrimRight(text, "\n \t"), "\n")
		off := 0
		for i, line := range lines {
			trimmed := strings.TrimSpace(line)
			if i < len(lines)-1 && !strings.HasPrefix(trimmed, "#") {
				for _, b := range joinBreakers {
					if b.gate(trimmed) && b.re.MatchString(trimmed) {
						l.add(l.tech.locate(pos, text, off+strings.Index(line, trimmed)), RuleNewlineJoin,
							"%s: %s: line %q breaks when Invoke-AtomicRedTeam joins lines with \"; \"; keep each statement on one line", t.ID(), field, trimmed)
						break
					}
				}
			}
			off += len(line) + 1
		}
	}
	check(e.Name, "command", e.Command, e.commandPos)
	check(e.Name, "cleanup_command", e.CleanupCommand, e.cleanupPos)
	dep := t.DependencyExecutor
	if dep == "" {
		dep = e.Name
	}
	for i, d := range t.Dependencies {
		check(dep, fmt.Sprintf("dependencies[%d].prereq_command", i), d.PrereqCommand, d.prereqPos)
		check(dep, fmt.Sprintf("dependencies[%d].get_prereq_command", i), d.GetPrereqCommand, d.getPrereqPos)
	}
}

func (l *linter) executor(t *Test) {
	id, e := t.ID(), t.Executor
	if e == nil {
		return
	}
	switch {
	case e.Name == "":
		l.add(e.Pos, RuleExecutor, "%s: executor has no name (want one of %s)", id, joinQuoted(ExecutorNames))
	case !e.Name.Valid():
		l.add(e.namePos, RuleExecutor, "%s: unknown executor %q (want one of %s)", id, e.Name, joinQuoted(ExecutorNames))
	case e.Name == Manual:
		if len(strings.TrimSpace(e.Steps)) < minSteps {
			l.add(e.Pos, RuleMissingField, "%s: manual executor needs steps (at least %d characters)", id, minSteps)
		}
	default:
		if strings.TrimSpace(e.Command) == "" {
			l.add(e.Pos, RuleMissingField, "%s: %s executor needs a command", id, e.Name)
		}
	}
	// Upstream's check: on Linux and macOS, sudo in the command or cleanup
	// means the test needs elevation_required: true, so runners can skip it
	// instead of hanging on a password prompt.
	if e.Name != Manual && !e.ElevationRequired && (t.Supports(Linux) || t.Supports(MacOS)) {
		for _, c := range []struct {
			s   string
			pos Pos
		}{{e.Command, e.commandPos}, {e.CleanupCommand, e.cleanupPos}} {
			if !strings.Contains(c.s, "sudo") {
				continue
			}
			if loc := sudoRE.FindStringIndex(c.s); loc != nil {
				word := loc[0] + strings.Index(c.s[loc[0]:loc[1]], "sudo")
				l.add(l.tech.locate(c.pos, c.s, word), RuleSudo, "%s: sudo is used but elevation_required is not true", id)
			}
		}
	}
}

// arguments checks that the #{placeholders} of every command match the
// declared input_arguments, both ways, and that defaults fit their type.
func (l *linter) arguments(t *Test) {
	id := t.ID()
	used := map[string]bool{}
	for _, f := range t.commandFields() {
		reported := map[string]bool{}
		for _, loc := range placeholderRE.FindAllStringSubmatchIndex(f.text, -1) {
			name := f.text[loc[2]:loc[3]]
			used[name] = true
			if t.Argument(name) == nil && !reported[name] {
				reported[name] = true
				l.add(l.tech.locate(f.pos, f.text, loc[0]), RuleUndeclared, "%s: %s uses #{%s}, which input_arguments does not declare", id, f.name, name)
			}
		}
	}
	for _, a := range t.InputArguments {
		if !used[a.Name] {
			l.add(a.Pos, RuleUnused, "%s: input argument %q is declared but no command uses it", id, a.Name)
		}
		if !argNameRE.MatchString(a.Name) {
			l.add(a.Pos, RuleArgumentName, "%s: input argument name %q: want at least 2 letters, digits, _ or -", id, a.Name)
		}
		switch {
		case a.TypeText == "":
			l.add(a.Pos, RuleArgumentType, "%s: input argument %q has no type (want one of %s)", id, a.Name, joinQuoted(ArgTypes))
		case !a.Type.Valid():
			l.add(a.Pos, RuleArgumentType, "%s: input argument %q: unknown type %q (want one of %s, any case)", id, a.Name, a.TypeText, joinQuoted(ArgTypes))
		case a.Default != "":
			if err := a.Type.Check(a.Default); err != nil {
				l.add(a.DefaultPos, RuleArgumentDefault, "%s: input argument %q: default %v", id, a.Name, err)
			}
		}
	}
}

type commandField struct {
	name string
	text string
	pos  Pos
}

// commandFields lists the texts in which #{arguments} are substituted.
func (t *Test) commandFields() []commandField {
	var out []commandField
	if e := t.Executor; e != nil {
		out = append(out,
			commandField{"command", e.Command, e.commandPos},
			commandField{"cleanup_command", e.CleanupCommand, e.cleanupPos},
			commandField{"steps", e.Steps, e.stepsPos})
	}
	for i, d := range t.Dependencies {
		out = append(out,
			commandField{fmt.Sprintf("dependencies[%d].prereq_command", i), d.PrereqCommand, d.prereqPos},
			commandField{fmt.Sprintf("dependencies[%d].get_prereq_command", i), d.GetPrereqCommand, d.getPrereqPos})
	}
	return out
}

// Check reports whether value fits the argument type: integers and floats
// must parse, a url must be a URL, an IP address or a host name. Strings
// and paths take anything.
func (t ArgType) Check(value string) error {
	switch t {
	case Integer:
		if _, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64); err != nil {
			return fmt.Errorf("%q is not an integer", value)
		}
	case Float:
		if _, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err != nil {
			return fmt.Errorf("%q is not a number", value)
		}
	case URL:
		if !validURL(value) {
			return fmt.Errorf("%q is not a URL, IP address or host name", value)
		}
	}
	return nil
}

func validURL(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	if net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")) != nil || hostnameRE.MatchString(s) {
		return true
	}
	if h, _, err := net.SplitHostPort(s); err == nil && net.ParseIP(h) != nil {
		return true
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && (u.Host != "" || u.Opaque != "" || u.Path != "")
}

// locate finds where byte offset off of a scalar's text lies in the source.
// start is the scalar's position; for block scalars (| and >) that is the
// indicator, and the text begins on a later line. It searches the source
// for the same text around off and falls back to start.
func (t *Technique) locate(start Pos, text string, off int) Pos {
	if start.Line < 1 || start.Line > len(t.src) || off < 0 || off > len(text) {
		return start
	}
	// Find the needle: the rest of the line of text at off.
	lineStart := strings.LastIndexByte(text[:off], '\n') + 1
	lineEnd := strings.IndexByte(text[off:], '\n')
	if lineEnd < 0 {
		lineEnd = len(text)
	} else {
		lineEnd += off
	}
	needle := text[off:lineEnd]
	if needle == "" {
		return start
	}
	// Which occurrence of the needle, counting within the text.
	nth := strings.Count(text[:lineStart], needle) + strings.Count(text[lineStart:off], needle)
	for i := start.Line - 1; i < len(t.src); i++ {
		line, base := t.src[i], 0
		if i == start.Line-1 {
			base = min(start.Col-1, len(line))
			line = line[base:]
		}
		for {
			j := strings.Index(line, needle)
			if j < 0 {
				break
			}
			if nth == 0 {
				return Pos{start.File, i + 1, base + j + 1}
			}
			nth--
			base += j + len(needle)
			line = line[j+len(needle):]
		}
	}
	return start
}

func joinQuoted[T ~string](list []T) string {
	parts := make([]string, len(list))
	for i, v := range list {
		parts[i] = string(v)
	}
	return strings.Join(parts, ", ")
}

// blocking are the rules whose findings mean a test cannot run as written:
// no or an unknown executor, an executor without a command, an argument of
// an unknown type, a placeholder no argument declares, an unknown
// dependency executor.
var blocking = []Rule{RuleExecutor, RuleMissingField, RuleArgumentType, RuleUndeclared, RuleDependencyExecutor}

// Problems returns the findings that keep t from running as written, by
// position: the blocking lint findings of t, and each default that does not
// fit its argument's type unless overrides gives that argument a value
// (which Resolve checks). A runner checks these before it starts anything.
func (t *Test) Problems(overrides map[string]string) []Finding {
	l := &linter{tech: t.tech}
	l.executor(t)
	l.arguments(t)
	if p, ok := t.keys["dependency_executor_name"]; ok && t.DependencyExecutor != "" && !t.DependencyExecutor.Valid() {
		l.add(p, RuleDependencyExecutor, "%s: unknown dependency_executor_name %q (want one of %s)", t.ID(), t.DependencyExecutor, joinQuoted(ExecutorNames))
	}
	var out []Finding
	for _, f := range l.findings {
		if slices.Contains(blocking, f.Rule) {
			out = append(out, f)
		}
	}
	for _, a := range t.InputArguments {
		if _, set := overrides[a.Name]; set || a.Default == "" || !a.Type.Valid() {
			continue
		}
		if err := a.Type.Check(a.Default); err != nil {
			out = append(out, Finding{a.DefaultPos, RuleArgumentDefault, fmt.Sprintf("%s: input argument %q: default %v", t.ID(), a.Name, err)})
		}
	}
	sortFindings(out)
	return out
}
