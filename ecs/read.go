package ecs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"sync"
)

// ReadError is a problem in an events file, with its position: a line
// (line:col for bad JSON), "event N" of an array, "response N, hit M" of a
// _search dump.
type ReadError struct {
	File string
	Pos  string // "12" or "12:5" (NDJSON line), "event 3" (array element)
	Err  error
}

func (e *ReadError) Error() string { return fmt.Sprintf("%s:%s: %v", e.File, e.Pos, e.Err) }
func (e *ReadError) Unwrap() error { return e.Err }

// maxEventLine bounds one NDJSON line (one event).
const maxEventLine = 16 << 20

// ReadEvents yields the events of r: a JSON array when its first
// non-blank byte is '[', the hits of Elasticsearch _search responses
// (hits.hits[]._source; several pages of a scroll or PIT one after the
// other) when its first JSON value is one, NDJSON otherwise (blank lines
// skipped). Numbers stay json.Number, as Decode keeps them.
func ReadEvents(file string, r io.Reader) iter.Seq2[Document, error] {
	return ReadEventsWith(file, r, Decode)
}

// ReadEventsWith is ReadEvents with each event's JSON object turned into a
// Document by decode (a Projection's Decode, say). The bytes passed to
// decode are only valid during the call.
func ReadEventsWith[T any](file string, r io.Reader, decode func([]byte) (T, error)) iter.Seq2[T, error] {
	return ReadEventsParallel(file, r, func() func([]byte) (T, error) { return decode }, 1)
}

// ReadEventsParallel is ReadEventsWith decoding NDJSON lines on workers
// goroutines, each with its own decoder from newDecode, in batches whose
// documents are yielded in input order: the same events and the same first
// error as one decoder gives. Arrays and _search dumps are decoded in
// order by one decoder.
func ReadEventsParallel[T any](file string, r io.Reader, newDecode func() func([]byte) (T, error), workers int) iter.Seq2[T, error] {
	return ReadEventsAt(file, r, func() func([]byte, int64) (T, error) {
		decode := newDecode()
		return func(raw []byte, _ int64) (T, error) { return decode(raw) }
	}, workers)
}

// ReadEventsAt is ReadEventsParallel giving each decoder, with an NDJSON
// line's event, the offset of its first byte in r (for reading it again
// from a file); an event of an array or a _search dump gets -1.
func ReadEventsAt[T any](file string, r io.Reader, newDecode func() func(raw []byte, off int64) (T, error), workers int) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		decodeAt := newDecode()
		decode := func(raw []byte) (T, error) { return decodeAt(raw, -1) }
		br := bufio.NewReaderSize(r, 64<<10)
		first, skipped, base, err := peekNonSpace(br)
		if err == io.EOF {
			return
		}
		if err != nil {
			yield(zero, &ReadError{file, "1", err})
			return
		}
		if first == '[' {
			readArray(file, br, decode, yield)
			return
		}
		dec := json.NewDecoder(br)
		var head json.RawMessage
		if err := dec.Decode(&head); err == nil {
			if hits, ok := searchHits(head); ok {
				readSearchDump(file, hits, dec, decode, yield)
				return
			}
		}
		// An event (or bad JSON, reported with its line below): read the
		// stream again from its start, as NDJSON.
		rest := io.MultiReader(bytes.NewReader(head), dec.Buffered(), br)
		if workers > 1 {
			readLinesParallel(file, rest, 1+skipped, base, newDecode, workers, yield)
			return
		}
		sc := bufio.NewScanner(bufio.NewReaderSize(rest, 64<<10))
		sc.Buffer(make([]byte, 64<<10), maxEventLine)
		// the offset of each line: where the split function found it
		at, lineAt := base, base
		sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
			advance, token, err := bufio.ScanLines(data, atEOF)
			if token != nil {
				lineAt = at
			}
			at += int64(advance)
			return advance, token, err
		})
		line := 1 + skipped
		for ; sc.Scan(); line++ {
			raw := sc.Bytes()
			b := bytes.TrimSpace(raw)
			if len(b) == 0 {
				continue
			}
			d, err := decodeAt(b, lineAt+int64(cap(raw)-cap(b)))
			if err != nil {
				yield(zero, lineError(file, line, sc.Bytes(), err))
				return
			}
			if !yield(d, nil) {
				return
			}
		}
		switch err := sc.Err(); {
		case errors.Is(err, bufio.ErrTooLong):
			yield(zero, errLineTooLong(file, line))
		case err != nil:
			yield(zero, &ReadError{file, "?", err})
		}
	}
}

// errLineTooLong reports a line longer than maxEventLine.
func errLineTooLong(file string, line int) *ReadError {
	return &ReadError{file, fmt.Sprint(line), fmt.Errorf("line longer than %d MiB", maxEventLine>>20)}
}

// lineError positions a decoding error of an NDJSON line: the line, and
// for bad JSON the column (counted in the untrimmed line).
func lineError(file string, line int, raw []byte, err error) *ReadError {
	pos := fmt.Sprint(line)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Offset counts bytes of the trimmed line up to and including
		// the bad one.
		lead := len(raw) - len(bytes.TrimLeft(raw, " \t"))
		pos = fmt.Sprintf("%d:%d", line, lead+max(int(se.Offset), 1))
	}
	return &ReadError{file, pos, err}
}

// lineBatch is consecutive whole NDJSON lines, read in one block and
// decoded by one worker.
type lineBatch[T any] struct {
	buf   *[]byte // the lines, each with its newline (the last may lack it)
	first int     // the line number of the first
	off   int64   // the offset of the first in the input
	docs  []T
	err   *ReadError // the first error; docs holds the documents before it
	done  chan struct{}
}

// blockSize is how much of the input one batch holds (a line longer than
// that makes its block longer, up to maxEventLine).
const blockSize = 256 << 10

// blocks recycles the batches' blocks: a decoder does not keep the bytes
// it is given, so a block is free again once its batch is decoded.
var blocks = sync.Pool{New: func() any { b := make([]byte, 0, blockSize); return &b }}

// readLinesParallel reads r in blocks of whole lines, decodes them on
// workers and yields the documents in order.
func readLinesParallel[T any](file string, r io.Reader, firstLine int, base int64, newDecode func() func([]byte, int64) (T, error), workers int, yield func(T, error) bool) {
	var zero T
	stop := make(chan struct{})
	defer close(stop)
	work := make(chan *lineBatch[T], workers)
	order := make(chan *lineBatch[T], 2*workers)
	var readErr *ReadError
	go func() { // the reader: batches in input order
		defer close(work)
		defer close(order)
		send := func(b *lineBatch[T]) bool {
			select {
			case order <- b:
			case <-stop:
				return false
			}
			select {
			case work <- b:
			case <-stop:
				return false
			}
			return true
		}
		line, off := firstLine, base
		var carry []byte // the start of a line the last block cut
		for eof := false; !eof; {
			bp := blocks.Get().(*[]byte)
			buf := append((*bp)[:0], carry...)
			for {
				if len(buf) == cap(buf) {
					if bytes.LastIndexByte(buf, '\n') >= 0 {
						break // whole lines to decode
					}
					if len(buf) >= maxEventLine {
						readErr = errLineTooLong(file, line)
						return
					}
					// one line fills the block
					buf = append(make([]byte, 0, min(2*cap(buf), maxEventLine)), buf...)
				}
				n, err := r.Read(buf[len(buf):cap(buf)])
				buf = buf[:len(buf)+n]
				if err == io.EOF {
					eof = true
					break
				}
				if err != nil {
					readErr = &ReadError{file, "?", err}
					return
				}
			}
			cut := len(buf)
			if !eof {
				cut = bytes.LastIndexByte(buf, '\n') + 1
			}
			carry = append(carry[:0], buf[cut:]...)
			*bp = buf[:cut]
			b := &lineBatch[T]{buf: bp, first: line, off: off, done: make(chan struct{})}
			line += bytes.Count(buf[:cut], []byte{'\n'})
			off += int64(cut)
			if cut > 0 && !send(b) {
				return
			}
		}
	}()
	for range workers {
		go func() {
			decode := newDecode()
			for b := range work {
				line, rest := b.first, *b.buf
				block := cap(rest) // a line's offset in the block: block - cap(line)
				for len(rest) > 0 {
					raw := rest
					if i := bytes.IndexByte(rest, '\n'); i >= 0 {
						raw, rest = rest[:i], rest[i+1:]
					} else {
						rest = nil
					}
					raw = bytes.TrimSuffix(raw, []byte{'\r'}) // as bufio.ScanLines
					if t := bytes.TrimSpace(raw); len(t) > 0 {
						d, err := decode(t, b.off+int64(block-cap(t)))
						if err != nil {
							b.err = lineError(file, line, raw, err)
							break
						}
						b.docs = append(b.docs, d)
					}
					line++
				}
				if cap(*b.buf) == blockSize {
					blocks.Put(b.buf)
				}
				b.buf = nil
				close(b.done)
			}
		}()
	}
	for b := range order {
		select {
		case <-b.done:
		case <-stop:
			return
		}
		for _, d := range b.docs {
			if !yield(d, nil) {
				return
			}
		}
		if b.err != nil {
			yield(zero, b.err)
			return
		}
	}
	// order is closed after the reader's last write to readErr.
	if readErr != nil {
		yield(zero, readErr)
	}
}

// searchHits returns the _source of each hit when v is an Elasticsearch
// _search response (an object whose hits.hits is an array).
func searchHits(v json.RawMessage) ([]json.RawMessage, bool) {
	var resp struct {
		Hits *struct {
			Hits *[]struct {
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if json.Unmarshal(v, &resp) != nil || resp.Hits == nil || resp.Hits.Hits == nil {
		return nil, false
	}
	var out []json.RawMessage
	for _, h := range *resp.Hits.Hits {
		out = append(out, h.Source)
	}
	return out, true
}

// readSearchDump yields the hits of the first response, then of every
// further response in dec (the pages of a scroll or PIT search).
func readSearchDump[T any](file string, hits []json.RawMessage, dec *json.Decoder, decode func([]byte) (T, error), yield func(T, error) bool) {
	var zero T
	for page := 1; ; page++ {
		for i, src := range hits {
			d, err := decode(src)
			if err != nil {
				yield(zero, &ReadError{file, fmt.Sprintf("response %d, hit %d", page, i+1), err})
				return
			}
			if !yield(d, nil) {
				return
			}
		}
		var next json.RawMessage
		if err := dec.Decode(&next); err == io.EOF {
			return
		} else if err != nil {
			yield(zero, &ReadError{file, fmt.Sprintf("response %d", page+1), err})
			return
		}
		var ok bool
		if hits, ok = searchHits(next); !ok {
			yield(zero, &ReadError{file, fmt.Sprintf("response %d", page+1), errors.New("not an Elasticsearch _search response (no hits.hits), after one")})
			return
		}
	}
}

func readArray[T any](file string, r io.Reader, decode func([]byte) (T, error), yield func(T, error) bool) {
	var zero T
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // '['
		yield(zero, &ReadError{file, "1", err})
		return
	}
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		var d T
		err := dec.Decode(&raw)
		if err == nil {
			d, err = decode(raw)
		}
		if err != nil {
			yield(zero, &ReadError{file, fmt.Sprintf("event %d", i), err})
			return
		}
		if !yield(d, nil) {
			return
		}
	}
	if _, err := dec.Token(); err != nil { // ']'
		yield(zero, &ReadError{file, "end", err})
	}
}

// peekNonSpace skips blank space (and a UTF-8 byte order mark) and
// returns the first other byte, unread, how many newlines it skipped and
// how many bytes.
func peekNonSpace(br *bufio.Reader) (first byte, lines int, skipped int64, err error) {
	if bom, err := br.Peek(3); err == nil && string(bom) == "\uFEFF" {
		br.Discard(3)
		skipped = 3
	}
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, lines, skipped, err
		}
		switch b {
		case '\n':
			lines++
			skipped++
			continue
		case ' ', '\t', '\r':
			skipped++
			continue
		}
		return b, lines, skipped, br.UnreadByte()
	}
}
