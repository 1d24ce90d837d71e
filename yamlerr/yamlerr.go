// Package yamlerr positions the syntax errors of go.yaml.in/yaml/v3.
//
// yaml.v3 reports a syntax error as "yaml: line N: msg" with no column, and
// N is often not where the problem is: for parser errors it prints the
// 0-based line of the enclosing construct (an unclosed '{' on line 6 is
// "line 5"), and at times no line at all (decode.go, parser.fail). The
// parser's marks are not exported, so Locate asks a second, independent
// YAML parser (github.com/goccy/go-yaml) where the same input fails, and
// for an unclosed flow collection finds the opening bracket itself.
package yamlerr

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	goccy "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"
)

// lineRe matches yaml.v3's syntax error text.
var lineRe = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// Locate returns the 1-based line and column of the syntax error err that
// yaml.v3 returned for data, and its message without the "yaml: line N:"
// prefix. The position always lies inside data (1:1 for empty data).
func Locate(data []byte, err error) (line, col int, msg string) {
	msg = err.Error()
	v3line := 0
	if m := lineRe.FindStringSubmatch(msg); m != nil {
		v3line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	lines := strings.SplitAfter(string(data), "\n")
	clamp := func(l, c int) (int, int) {
		l = max(1, min(l, len(lines)))
		text := strings.TrimRight(lines[l-1], "\r\n")
		return l, max(1, min(c, len([]rune(text))+1))
	}
	if strings.HasPrefix(msg, "did not find expected ',' or '}'") || strings.HasPrefix(msg, "did not find expected ',' or ']'") {
		if l, c, ok := unclosedFlow(lines); ok {
			l, c = clamp(l, c)
			return l, c, msg + " (this " + string(lines[l-1][byteCol(lines[l-1], c)]) + " is not closed)"
		}
	}
	gl, gc, ok := goccyPos(data)
	// A scanner error's line is right (the scanner's own mark, made
	// 1-based); only its column is missing.
	if v3line > 0 && !parserError(msg) {
		switch {
		case strings.HasPrefix(msg, "mapping values are not allowed"):
			gc = lastColon(lines, v3line)
		case strings.HasPrefix(msg, "found a tab character"):
			gc = 1 + max(0, strings.IndexRune(lines[max(1, min(v3line, len(lines)))-1], '\t'))
		case !ok || gl != v3line:
			gc = firstNonSpace(lines, v3line)
		}
		l, c := clamp(v3line, gc)
		return l, c, msg
	}
	if ok {
		l, c := clamp(gl, gc)
		return l, c, msg
	}
	if v3line == 0 {
		v3line = 1
	}
	l, c := clamp(v3line, firstNonSpace(lines, v3line))
	return l, c, msg
}

// goccyPos is where goccy/go-yaml's parser fails on data, if it does. A
// panic in it (hostile input) means no answer, not a crash.
func goccyPos(data []byte) (line, col int, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_, err := parser.ParseBytes(data, 0)
	var se *goccy.SyntaxError
	if errors.As(err, &se) && se.Token != nil && se.Token.Position != nil {
		return se.Token.Position.Line, se.Token.Position.Column, true
	}
	return 0, 0, false
}

// parserError reports whether msg is one of yaml.v3's parser errors
// (parserc.go), whose line is the enclosing construct's, 0-based; the
// others are the scanner's (scannerc.go).
func parserError(msg string) bool {
	for _, p := range []string{"did not find expected <document start>", "did not find expected node content",
		"did not find expected key", "did not find expected '-' indicator", "did not find expected ',' or",
		"found duplicate %YAML directive", "found incompatible YAML document", "found undefined tag handle",
		"found duplicate %TAG directive"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// lastColon is the column of the last ':' on line l that ends a mapping
// key (followed by a space or the line's end), outside quotes: the value
// indicator the scanner refused ("b: x: y", or "  c: d" under a plain
// scalar).
func lastColon(lines []string, l int) int {
	if l < 1 || l > len(lines) {
		return 1
	}
	rs := []rune(strings.TrimRight(lines[l-1], "\r\n"))
	col := 0
	var quote rune
	for i, r := range rs {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '#' && (i == 0 || rs[i-1] == ' '):
			return max(col, 1)
		case r == ':' && (i+1 == len(rs) || rs[i+1] == ' ' || rs[i+1] == '\t'):
			col = i + 1
		}
	}
	if col == 0 {
		return firstNonSpace(lines, l)
	}
	return col
}

func firstNonSpace(lines []string, l int) int {
	if l < 1 || l > len(lines) {
		return 1
	}
	for i, r := range []rune(lines[l-1]) {
		if r != ' ' && r != '\t' {
			return i + 1
		}
	}
	return 1
}

// byteCol is the byte offset in line of 1-based rune column c.
func byteCol(line string, c int) int {
	i := 0
	for off := range line {
		if i == c-1 {
			return off
		}
		i++
	}
	return max(0, len(line)-1)
}

type opener struct {
	line, col int
	ch        rune
}

// unclosedFlow scans for the flow collection ('{' or '[') that is never
// closed or is closed by the wrong bracket, and returns where it opens:
// the innermost one open when a mismatched bracket or the end of input is
// reached. It follows what decides bracket meaning in YAML: a flow
// collection starts only where a node starts (line start, after "- ",
// after ": " or inside another flow collection); quotes and comments hide
// brackets; block scalars (| and >) are skipped.
func unclosedFlow(lines []string) (line, col int, ok bool) {
	var stack []opener
	blockIndent := -1 // inside a block scalar: lines indented more than this
	for li, raw := range lines {
		text := strings.TrimRight(raw, "\r\n")
		rs := []rune(text)
		indent := 0
		for indent < len(rs) && rs[indent] == ' ' {
			indent++
		}
		if blockIndent >= 0 {
			if strings.TrimSpace(text) == "" || indent > blockIndent {
				continue
			}
			blockIndent = -1
		}
		nodeStart := len(stack) == 0 // in block context: only where a node may begin
		var quote rune
		for i := 0; i < len(rs); i++ {
			r := rs[i]
			if quote != 0 {
				switch {
				case quote == '"' && r == '\\':
					i++
				case quote == '\'' && r == '\'' && i+1 < len(rs) && rs[i+1] == '\'':
					i++
				case r == quote:
					quote = 0
				}
				continue
			}
			if r == '#' && (i == 0 || rs[i-1] == ' ' || rs[i-1] == '\t') {
				break
			}
			if len(stack) == 0 {
				switch {
				case r == ' ' || r == '\t':
					continue
				case (r == '|' || r == '>') && nodeStart:
					blockIndent = indent
				case (r == '{' || r == '[') && nodeStart:
					stack = append(stack, opener{li + 1, i + 1, r})
				case (r == '"' || r == '\'') && nodeStart:
					quote = r
				case r == '-' && (i+1 == len(rs) || rs[i+1] == ' '):
					continue // "- " starts a node next
				case r == ':' && (i+1 == len(rs) || rs[i+1] == ' '):
					nodeStart = true
					continue
				case r == '?' && (i+1 == len(rs) || rs[i+1] == ' '):
					continue
				}
				if r != '|' && r != '>' {
					nodeStart = false
				}
				continue
			}
			switch r {
			case '"', '\'':
				quote = r
			case '{', '[':
				stack = append(stack, opener{li + 1, i + 1, r})
			case '}', ']':
				top := stack[len(stack)-1]
				if (top.ch == '{') != (r == '}') {
					return top.line, top.col, true
				}
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					nodeStart = false
				}
			}
		}
	}
	if len(stack) > 0 {
		top := stack[len(stack)-1]
		return top.line, top.col, true
	}
	return 0, 0, false
}
