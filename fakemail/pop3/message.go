package pop3

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"
)

// errWrite marks a writeMessage error that came from the connection rather
// than from the message.
var errWrite = errors.New("write to client")

var msgReaderPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// writeMessage sends a message as a multi-line response body (RFC 1939
// section 3): CRLF line endings (a bare LF becomes CRLF), a "." prepended to
// every line that begins with "." (byte-stuffing), and the terminating
// ".\r\n". With lines >= 0 it sends only the header section, the empty line
// and the first lines lines of the body (TOP, RFC 1939 section 7).
//
// Lines longer than the read buffer are streamed in pieces, so memory stays
// bounded whatever the message looks like.
//
// octets counts the message as RFC 1939 section 11 sizes it: CRLF line
// ends, without the stuffed dots and the terminator.
func writeMessage(w *bufio.Writer, r io.Reader, lines int) (octets int64, err error) {
	br := msgReaderPool.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() {
		br.Reset(nil)
		msgReaderPool.Put(br)
	}()

	var (
		atStart   = true // at the start of a line
		pendingCR = false
		inHeaders = true
		body      = 0 // body lines sent
	)
	for {
		if lines >= 0 && !inHeaders && body >= lines && atStart {
			break
		}
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if atStart && chunk[0] == '.' {
				w.WriteByte('.')
			}
			if pendingCR {
				pendingCR = false
				if chunk[0] != '\n' {
					w.WriteByte('\r')
					octets++
				}
			}
			complete := chunk[len(chunk)-1] == '\n'
			if complete {
				text := chunk[:len(chunk)-1]
				if n := len(text); n > 0 && text[n-1] == '\r' {
					text = text[:n-1]
				}
				// The empty line ends the headers; a line that is only a
				// continued piece ("\n" after a long line) is not empty.
				if atStart && len(text) == 0 && inHeaders {
					inHeaders = false
				} else if !inHeaders && lines >= 0 {
					body++
				}
				w.Write(text)
				octets += int64(len(text)) + 2
				if _, err := w.WriteString("\r\n"); err != nil {
					// bufio.Writer errors are sticky: stop reading a
					// message nobody receives.
					return octets, fmt.Errorf("%w: %w", errWrite, err)
				}
				atStart = true
			} else {
				// A piece of a long line, or the last line without LF.
				if chunk[len(chunk)-1] == '\r' {
					chunk = chunk[:len(chunk)-1]
					pendingCR = true
				}
				w.Write(chunk)
				octets += int64(len(chunk))
				atStart = false
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			return octets, fmt.Errorf("read message: %w", err)
		}
	}
	if pendingCR {
		w.WriteByte('\r')
		octets++
	}
	if !atStart {
		w.WriteString("\r\n")
		octets += 2
	}
	if _, err := w.WriteString(".\r\n"); err != nil {
		return octets, fmt.Errorf("%w: %w", errWrite, err)
	}
	return octets, nil
}
