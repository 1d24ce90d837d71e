package ecs

import (
	"bufio"
	"fmt"
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
	err    error      // the first write error: later events keep their JSON in memory
	inputs []*os.File // AddInput's files, numbered from 1
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
	for _, f := range s.inputs {
		f.Close()
	}
	s.inputs = nil
	return s.f.Close()
}

// AddInput opens path, a regular file of events, for reading their JSON
// back in place, and returns its number for Projection.ReadsFrom. A file
// that is not a regular one (a pipe, a device) cannot be read again: it
// is refused.
func (s *SourceStore) AddInput(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("source store: %w", err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return 0, fmt.Errorf("source store: %s is not a regular file", path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inputs = append(s.inputs, f)
	return len(s.inputs), nil
}

// put stores raw and returns where, or false after a write error.
func (s *SourceStore) put(raw []byte) (storedEvent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return storedEvent{}, false
	}
	if _, err := s.w.Write(raw); err != nil {
		s.err = err
		return storedEvent{}, false
	}
	e := storedEvent{s: s, off: s.size, n: len(raw)} // file 0: the store's own
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
	case file > len(s.inputs):
		return nil, fmt.Errorf("source store: no input file %d", file)
	default:
		f = s.inputs[file-1]
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
	file int
	off  int64
	n    int
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
func (e storedEvent) Raw() ([]byte, error) { return e.s.read(e.file, e.off, e.n) }
