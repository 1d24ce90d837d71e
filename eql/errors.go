package eql

import (
	"fmt"
	"strings"
)

// Error is a query error with its position in the query text. Line and Col
// are 1-based (Col counts bytes, as Elasticsearch's does for ASCII queries);
// Offset is the 0-based byte offset. Messages follow Elasticsearch's wording
// so that a rule author sees the same complaint from both engines.
type Error struct {
	Line, Col int
	Offset    int
	Msg       string
	// Query is the source text the error refers to, for Caret.
	Query string
}

// Error renders "line:col: msg", the form the CLI prints.
func (e *Error) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

// Caret renders the message, the offending source line and a caret under
// the column, for humans:
//
//	1:19: Unknown column [proces.name]
//	process where proces.name == "x"
//	              ^
func (e *Error) Caret() string {
	var b strings.Builder
	b.WriteString(e.Error())
	lines := strings.Split(e.Query, "\n")
	if e.Line >= 1 && e.Line <= len(lines) {
		line := strings.TrimRight(lines[e.Line-1], "\r")
		b.WriteString("\n")
		b.WriteString(line)
		b.WriteString("\n")
		pad := e.Col - 1
		if pad > len(line) {
			pad = len(line)
		}
		for i := 0; i < pad; i++ {
			if line[i] == '\t' {
				b.WriteByte('\t')
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString("^")
	}
	return b.String()
}

// Pos is a position in the query text.
type Pos struct {
	Offset    int
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

func errAt(src string, p Pos, format string, args ...any) *Error {
	return &Error{Line: p.Line, Col: p.Col, Offset: p.Offset, Msg: fmt.Sprintf(format, args...), Query: src}
}

// posAt is the position of byte offset off in src.
func posAt(src string, off int) Pos {
	off = min(max(off, 0), len(src))
	line := 1 + strings.Count(src[:off], "\n")
	col := off - (strings.LastIndexByte(src[:off], '\n') + 1) + 1
	return Pos{Offset: off, Line: line, Col: col}
}
