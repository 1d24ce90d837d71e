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
type SourceStore struct {
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	size int64
	err  error // the first write error: later events keep their JSON in memory
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

// Close releases the file.
func (s *SourceStore) Close() error { return s.f.Close() }

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
	e := storedEvent{s: s, off: s.size, n: len(raw)}
	s.size += int64(len(raw))
	return e, true
}

func (s *SourceStore) read(off int64, n int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("source store: %w", err)
	}
	raw := make([]byte, n)
	if _, err := s.f.ReadAt(raw, off); err != nil {
		return nil, fmt.Errorf("source store: %w", err)
	}
	return raw, nil
}

// storedEvent is an event whose JSON is in a SourceStore.
type storedEvent struct {
	s   *SourceStore
	off int64
	n   int
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
func (e storedEvent) Raw() ([]byte, error) { return e.s.read(e.off, e.n) }
