package ecs

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"sync"
)

// SourceStore keeps the JSON of the events a search keeps to return as
// hits (their Slim stand-ins) in a temporary file instead of memory: what
// stays in memory is an offset. The file is removed as soon as it is
// created, so nothing is left behind even when the process is killed.
// An event read from a regular file added with AddInput is not copied:
// its offset is in that file.
type SourceStore struct {
	mu     sync.Mutex
	f      *os.File
	w      *bufio.Writer
	size   int64
	err    error   // the first write error: later events keep their JSON in memory
	inputs []input // AddInput's files, numbered from 1
	// open is the input file read last (number opened), kept open for
	// the next read: one descriptor however many files were added.
	open   *os.File
	opened int
}

// input is a file added with AddInput: its path, and what it was then,
// so that a file replaced since is not read as if it were the same.
type input struct {
	path string
	fi   os.FileInfo
}

// NewSourceStore creates the store's file in dir ("" for os.TempDir()).
func NewSourceStore(dir string) (*SourceStore, error) {
	f, err := os.CreateTemp(dir, "purpleharness-sources-*")
	if err != nil {
		return nil, fmt.Errorf("source store: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("source store: %w", err)
	}
	return &SourceStore{f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

// Close releases the store's file and the input files.
func (s *SourceStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open != nil {
		s.open.Close()
		s.open, s.opened = nil, 0
	}
	return s.f.Close()
}

// AddInput names path, a regular file of events, as one their JSON is
// read back from in place, and returns its number for
// Projection.ReadsFrom. A file that is not a regular one (a pipe, a
// device) cannot be read again: it is refused. The file is opened when an
// event is read back, and must then still be the same file.
func (s *SourceStore) AddInput(path string) (int, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("source store: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("source store: %s is not a regular file", path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inputs = append(s.inputs, input{path, fi})
	return len(s.inputs), nil
}

// inputFile opens input file n, or gives the one open if it is n. The
// caller holds s.mu.
func (s *SourceStore) inputFile(n int) (*os.File, error) {
	if n == s.opened {
		return s.open, nil
	}
	in := s.inputs[n-1]
	f, err := os.Open(in.path)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !os.SameFile(fi, in.fi) || fi.Size() < in.fi.Size() {
		f.Close()
		return nil, fmt.Errorf("%s changed while it was searched", in.path)
	}
	if s.open != nil {
		s.open.Close()
	}
	s.open, s.opened = f, n
	return f, nil
}

// put stores raw and returns where, or false after a write error.
func (s *SourceStore) put(raw []byte) (storedEvent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || len(raw) > math.MaxInt32 {
		return storedEvent{}, false
	}
	if _, err := s.w.Write(raw); err != nil {
		s.err = err
		return storedEvent{}, false
	}
	e := storedEvent{s: s, off: s.size, n: int32(len(raw))} // file 0: the store's own
	s.size += int64(len(raw))
	return e, true
}

// read reads n bytes at off of file (0: the store's own, else an input).
func (s *SourceStore) read(file int, off int64, n int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.f
	switch {
	case file == 0:
		if err := s.w.Flush(); err != nil {
			return nil, fmt.Errorf("source store: %w", err)
		}
	case file > len(s.inputs) || file < 0:
		return nil, fmt.Errorf("source store: no input file %d", file)
	default:
		var err error
		if f, err = s.inputFile(file); err != nil {
			return nil, fmt.Errorf("source store: %w", err)
		}
	}
	raw := make([]byte, n)
	if _, err := f.ReadAt(raw, off); err != nil {
		return nil, fmt.Errorf("source store: %w", err)
	}
	return raw, nil
}

// storedEvent is an event whose JSON is in a SourceStore: in its own file
// (file 0) or in an input file.
type storedEvent struct {
	s    *SourceStore
	off  int64
	file int32 // an event is at most maxEventLine long: both fit
	n    int32
}

func (e storedEvent) Lookup(path string) (any, bool) { return e.Source().Lookup(path) }

// Source is the event read back and decoded; nil if it cannot be read
// (Raw gives the error).
func (e storedEvent) Source() Document {
	raw, err := e.Raw()
	if err != nil {
		return nil
	}
	return rawEvent(raw).Source()
}

// Raw is the event's JSON, read back.
func (e storedEvent) Raw() ([]byte, error) { return e.s.read(int(e.file), e.off, int(e.n)) }
