package eql

import (
	"encoding/json"

	"github.com/purpleharness/purpleharness/jsondoc"
)

// Fields is how the engine reads an event (see jsondoc.Fields): a decoded
// document (jsondoc.Document: rendered telemetry, exports, the
// conformance data) or any other field source, such as an event projected
// on the fields a search reads. A hit's _source is the event itself when
// it is a jsondoc.Document, else what its Source method returns.
type Fields = jsondoc.Fields

// Sourced is a field source that can give its whole event for a hit's
// _source (see jsondoc.Sourced).
type Sourced = jsondoc.Sourced

// Slimmer is a field source that can stand in for itself with something
// smaller once the engine keeps the event only to return it as a hit (in
// an open sequence or a result): the stand-in need only give the _source.
// A Record projected on a search's fields is one: its stand-in is its
// JSON.
type Slimmer interface {
	Fields
	Slim() Sourced
}

// sourceOf is the _source of a hit on the event f.
func sourceOf(f Fields) jsondoc.Document {
	switch d := f.(type) {
	case jsondoc.Document:
		return d
	case Sourced:
		return d.Source()
	}
	return nil
}

// Request holds the parameters of an _eql/search request. The JSON names are
// Elasticsearch's, so an Elasticsearch backend can send it as the body.
// Zero values mean Elasticsearch's defaults (see Defaults).
type Request struct {
	Query string `json:"query"`
	Size  int    `json:"size,omitempty"`
	// FetchSize is the page size of Elasticsearch's sequence searches
	// (TumblingWindow asks each stage for FetchSize events at a time). It
	// never changes the answer, only the number of round trips; the
	// embedded engine reads every event once, in order, so it has nothing
	// to page: it validates FetchSize as Elasticsearch does (at least 2)
	// and otherwise ignores it.
	FetchSize                   int             `json:"fetch_size,omitempty"`
	ResultPosition              string          `json:"result_position,omitempty"`
	TimestampField              string          `json:"timestamp_field,omitempty"`
	TiebreakerField             string          `json:"tiebreaker_field,omitempty"`
	EventCategoryField          string          `json:"event_category_field,omitempty"`
	MaxSamplesPerKey            int             `json:"max_samples_per_key,omitempty"`
	AllowPartialSearchResults   *bool           `json:"allow_partial_search_results,omitempty"`
	AllowPartialSequenceResults *bool           `json:"allow_partial_sequence_results,omitempty"`
	Filter                      json.RawMessage `json:"filter,omitempty"`
}

// NoHits is the Size that asks for no hits at all (Elasticsearch's
// size=0): a zero Size means "default" (10).
const NoHits = -1

// MarshalJSON renders the request body Elasticsearch expects; a Size of
// NoHits is sent as "size": 0.
func (r Request) MarshalJSON() ([]byte, error) {
	type plain Request
	if r.Size >= 0 {
		return json.Marshal(plain(r))
	}
	p := plain(r)
	p.Size = 0
	body, err := json.Marshal(struct {
		plain
		Size int `json:"size"`
	}{plain: p, Size: 0})
	return body, err
}

// Elasticsearch's request defaults (EqlSearchRequest / RequestDefaults).
const (
	DefaultSize               = 10
	DefaultFetchSize          = 1000
	DefaultResultPosition     = "tail"
	DefaultTimestampField     = "@timestamp"
	DefaultEventCategoryField = "event.category"
	DefaultMaxSamplesPerKey   = 1
)

// WithDefaults returns r with every unset parameter set to Elasticsearch's default.
func (r Request) WithDefaults() Request {
	if r.Size == 0 {
		r.Size = DefaultSize
	}
	if r.FetchSize == 0 {
		r.FetchSize = DefaultFetchSize
	}
	if r.ResultPosition == "" {
		r.ResultPosition = DefaultResultPosition
	}
	if r.TimestampField == "" {
		r.TimestampField = DefaultTimestampField
	}
	if r.EventCategoryField == "" {
		r.EventCategoryField = DefaultEventCategoryField
	}
	if r.MaxSamplesPerKey == 0 {
		r.MaxSamplesPerKey = DefaultMaxSamplesPerKey
	}
	return r
}

// Response is the body of an _eql/search response, as Elasticsearch sends it.
// The embedded engine and the Elasticsearch backend both return this shape.
type Response struct {
	IsPartial bool  `json:"is_partial"`
	IsRunning bool  `json:"is_running"`
	Took      int64 `json:"took"`
	TimedOut  bool  `json:"timed_out"`
	Hits      Hits  `json:"hits"`
	// ShardFailures says why part of the data could not be searched
	// when IsPartial is set (Elasticsearch's shard_failures).
	ShardFailures []ShardFailure `json:"shard_failures,omitempty"`
}

// ShardFailure is one index (Elasticsearch: one shard) that failed.
type ShardFailure struct {
	Index  string        `json:"index,omitempty"`
	Reason FailureReason `json:"reason"`
}

// FailureReason is the type and text of a failure.
type FailureReason struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// Hits holds either events (event queries) or sequences (sequence and sample
// queries), never both.
type Hits struct {
	Total     Total      `json:"total"`
	Events    []Hit      `json:"events,omitempty"`
	Sequences []Sequence `json:"sequences,omitempty"`
}

// MarshalJSON writes the list that applies even when it is empty
// ("events": [] for an event query without hits, as Elasticsearch does);
// a nil list is left out.
func (h Hits) MarshalJSON() ([]byte, error) {
	type plain struct {
		Total     Total       `json:"total"`
		Events    *[]Hit      `json:"events,omitempty"`
		Sequences *[]Sequence `json:"sequences,omitempty"`
	}
	p := plain{Total: h.Total}
	if h.Events != nil {
		p.Events = &h.Events
	}
	if h.Sequences != nil {
		p.Sequences = &h.Sequences
	}
	return json.Marshal(p)
}

// Total counts the hits: events for an event query, sequences otherwise.
type Total struct {
	Value    int    `json:"value"`
	Relation string `json:"relation"`
}

// Hit is one event of a result. A missing-event placeholder (a ![...] stage)
// has Missing set and no source.
type Hit struct {
	Index   string           `json:"_index"`
	ID      string           `json:"_id"`
	Source  jsondoc.Document `json:"_source,omitempty"`
	Missing bool             `json:"missing,omitempty"`
}

// Sequence is one sequence or sample: its join key values (in the order of
// the by clause; null keys as JSON null) and its events in stage order.
type Sequence struct {
	JoinKeys []any `json:"join_keys,omitempty"`
	Events   []Hit `json:"events"`
}
