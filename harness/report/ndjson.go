package report

import (
	"encoding/json"
	"io"

	"github.com/purpleharness/purpleharness/harness"
)

// Telemetry writes every document the sensor rendered during the run, one
// JSON object per line: the input `validate query --events` takes.
func Telemetry(w io.Writer, r *harness.Result) error {
	enc := json.NewEncoder(w)
	for _, d := range r.Documents {
		if err := enc.Encode(d); err != nil {
			return err
		}
	}
	return nil
}

// Transcripts writes the mail servers' session evidence, one session per line.
func Transcripts(w io.Writer, r *harness.Result) error {
	enc := json.NewEncoder(w)
	for _, s := range r.Evidence {
		if err := enc.Encode(s); err != nil {
			return err
		}
	}
	return nil
}
