package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/purpleharness/purpleharness/ecs"
)

// expandEvents turns the --events values into files, in the order given:
// a glob (*.ndjson.gz) is expanded, sorted, and must match something; "-"
// (standard input) may appear once.
func expandEvents(specs []string) ([]string, error) {
	var files []string
	for _, s := range specs {
		if s == "-" {
			files = append(files, s)
			continue
		}
		if !strings.ContainsAny(s, "*?[") {
			// A missing or unreadable file is bad input before any
			// reading starts.
			f, err := os.Open(s)
			if err != nil {
				return nil, err
			}
			f.Close()
			files = append(files, s)
			continue
		}
		m, err := filepath.Glob(s)
		if err != nil {
			return nil, fmt.Errorf("--events %q: %w", s, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("--events %q: no file matches", s)
		}
		slices.Sort(m)
		files = append(files, m...)
	}
	if n := slices.Index(files, "-"); n >= 0 && slices.Index(files[n+1:], "-") >= 0 {
		return nil, errors.New("--events -: standard input can be read once")
	}
	return files, nil
}

// openEventFile opens one events file ("-" is standard input, as stdin
// gives it), decompressing .gz and .zst; read counts the file's bytes as
// they are read (nil: not counted).
func openEventFile(path string, stdin func() io.Reader, read *atomic.Int64) (io.Reader, func(), error) {
	if path == "-" {
		return stdin(), func() {}, nil
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	f := io.Reader(file)
	if read != nil {
		f = countingReader{file, read}
	}
	switch {
	case !compressed(path):
	case strings.HasSuffix(path, ".gz"):
		z, err := gzip.NewReader(f)
		if err != nil {
			file.Close()
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return z, func() { z.Close(); file.Close() }, nil
	case strings.HasSuffix(path, ".zst") || strings.HasSuffix(path, ".zstd"):
		z, err := zstd.NewReader(f)
		if err != nil {
			file.Close()
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return z, func() { z.Close(); file.Close() }, nil
	}
	return f, func() { file.Close() }, nil
}

// compressed tells whether openEventFile decompresses path.
func compressed(path string) bool {
	return strings.HasSuffix(path, ".gz") || strings.HasSuffix(path, ".zst") || strings.HasSuffix(path, ".zstd")
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// inputProgress follows a search's reading of its events: bytes of the
// files read (compressed bytes for a compressed file), events yielded.
type inputProgress struct {
	read, events atomic.Int64
	total        int64 // the files' sizes; 0 when unknown (stdin)
	start        time.Time
}

func newInputProgress(files []string) *inputProgress {
	p := &inputProgress{start: time.Now()}
	for _, f := range files {
		if f == "-" {
			p.total = 0
			break
		}
		if st, err := os.Stat(f); err == nil {
			p.total += st.Size()
		}
	}
	return p
}

// line is the progress line at now: events read, their rate, and with a
// known size how much of it is read and the time left at this pace.
func (p *inputProgress) line(now time.Time) string {
	elapsed := now.Sub(p.start).Seconds()
	n := p.events.Load()
	s := fmt.Sprintf("validate query: %d events read", n)
	if elapsed > 0 {
		s += fmt.Sprintf(", %.0f events/s", float64(n)/elapsed)
	}
	if read := p.read.Load(); p.total > 0 && read > 0 {
		frac := float64(read) / float64(p.total)
		size := fmt.Sprintf("%d MB", p.total>>20)
		if p.total < 1<<20 {
			size = fmt.Sprintf("%d KB", p.total>>10)
		}
		s += fmt.Sprintf(", %.0f%% of %s", 100*min(frac, 1), size)
		if frac < 1 {
			s += fmt.Sprintf(", about %s left", (time.Duration(elapsed/frac*(1-frac)) * time.Second).Round(time.Second))
		}
	}
	return s
}

// show prints the progress line on w every interval until stop is closed,
// then clears it.
func (p *inputProgress) show(w io.Writer, interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	shown := false
	for {
		select {
		case now := <-t.C:
			fmt.Fprintf(w, "\r\033[K%s", p.line(now))
			shown = true
		case <-stop:
			if shown {
				fmt.Fprint(w, "\r\033[K")
			}
			return
		}
	}
}

// eventsOf yields the events of every file in turn, each read as
// ecs.ReadEvents reads one. An unreadable file is an error in the stream.
func eventsOf(files []string, stdin func() io.Reader) iter.Seq2[ecs.Document, error] {
	return eventsWith(files, stdin, func() func([]byte) (ecs.Document, error) { return ecs.Decode }, nil)
}

// eventsWith is eventsOf with each event decoded by a decoder from
// newDecode, NDJSON on every core (ecs.ReadEventsParallel), counted in
// progress when it is not nil.
func eventsWith[T any](files []string, stdin func() io.Reader, newDecode func() func([]byte) (T, error), progress *inputProgress) iter.Seq2[T, error] {
	return eventsAt(files, stdin, nil, func(int) func() func([]byte, int64) (T, error) {
		return func() func([]byte, int64) (T, error) {
			decode := newDecode()
			return func(raw []byte, _ int64) (T, error) { return decode(raw) }
		}
	}, progress)
}

// eventsAt is eventsWith giving each decoder the offset of an event's
// JSON in its file (ecs.ReadEventsAt), and newDecode the file's number in
// sources (SourceStore.AddInput) when the events of the file can be read
// there again: a regular, uncompressed file, with sources given. Else
// newDecode gets 0.
func eventsAt[T any](files []string, stdin func() io.Reader, sources *ecs.SourceStore, newDecode func(input int) func() func([]byte, int64) (T, error), progress *inputProgress) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		for _, f := range files {
			var read *atomic.Int64
			if progress != nil {
				read = &progress.read
			}
			in, closeIn, err := openEventFile(f, stdin, read)
			if err != nil {
				yield(zero, &ecs.ReadError{File: f, Pos: "1", Err: err})
				return
			}
			input := 0
			if sources != nil && !compressed(f) && f != "-" {
				if n, err := sources.AddInput(f); err == nil {
					input = n // else its events are copied (a pipe, say)
				}
			}
			for d, err := range ecs.ReadEventsAt(f, in, newDecode(input), runtime.GOMAXPROCS(0)) {
				if progress != nil && err == nil {
					progress.events.Add(1)
				}
				if !yield(d, err) || err != nil {
					closeIn()
					return
				}
			}
			closeIn()
		}
	}
}

// stdinReplay returns what each read of "-" gets: standard input itself,
// or, when twice is set (the events are read once to map their fields
// dynamically, then searched), its content read whole, once per call.
func stdinReplay(files []string, twice bool) (func() io.Reader, error) {
	if !twice || !slices.Contains(files, "-") {
		return func() io.Reader { return os.Stdin }, nil
	}
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		return nil, err
	}
	return func() io.Reader { return bytes.NewReader(data) }, nil
}
