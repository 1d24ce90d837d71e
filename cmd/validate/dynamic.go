package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/purpleharness/purpleharness/eql"
)

// indexEvents maps the fields of every event of files that m does not
// know, as indexing them into an index created with m would (dynamic
// mapping, dynamic_templates, "dynamic": false/strict/runtime), so that a
// query sees the fields Elasticsearch would have. It reads the events once
// more than the search does (stdin replays standard input).
func indexEvents(m *eql.Mapping, files []string, stdin func() io.Reader) error {
	n := 0
	for d, err := range eventsOf(files, stdin) {
		if err != nil {
			return err
		}
		n++
		if err := m.AddDynamic(d); err != nil {
			// Elasticsearch refuses the document (strict_dynamic_mapping_exception)
			return fmt.Errorf("%s: event %d: %w", strings.Join(files, ", "), n, err)
		}
	}
	return nil
}
