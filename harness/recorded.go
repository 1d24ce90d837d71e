package harness

import (
	"fmt"
	"os"

	"github.com/purpleharness/purpleharness/ecs"
)

// ReadRecorded reads the telemetry of a recorded scenario, in any shape
// ecs.ReadEvents reads: NDJSON, a JSON array of events, or Elasticsearch
// _search responses, as a user exports events from Kibana or the API.
func ReadRecorded(path string) ([]ecs.Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var docs []ecs.Document
	for d, err := range ecs.ReadEvents(path, f) {
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s: no events", path)
	}
	return docs, nil
}
