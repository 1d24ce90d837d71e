// Package ecs holds telemetry as Elastic Common Schema documents: the one
// contract between the sensor that produces events, the EQL engine that reads
// them, and Elasticsearch that stores them.
//
// A Document is a decoded JSON object. Renderers build nested objects
// ({"process": {"name": "nc"}}), exported data may use flattened keys
// ({"process.name": "nc"}); Lookup accepts both, as Elasticsearch's field
// resolution does for _source.
//
// A Renderer turns the sensor's typed observations (Exec, Connect) into the
// documents one real data source would have indexed: Elastic Defend (the
// endpoint package), Auditbeat's auditd module, or Sysmon for Linux through
// the sysmon_linux integration. Each profile follows its source's published
// field documentation, pipelines and code, quirks included, and invents no
// value; Mapping gives each profile's Elasticsearch field types. See
// docs/profiles.md.
package ecs

import "github.com/purpleharness/purpleharness/jsondoc"

// Document is one event: a JSON object decoded into Go values (see
// jsondoc.Document, which the EQL engine reads).
type Document = jsondoc.Document

// Decode reads one JSON object into a Document (see jsondoc.Decode).
func Decode(data []byte) (Document, error) { return jsondoc.Decode(data) }
