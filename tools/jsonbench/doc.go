// Package jsonbench measures JSON libraries on the job validate query
// gives its decoder: take from each line of an Elastic Defend NDJSON
// export the few fields a rule reads, with the values encoding/json would
// give, and refuse what encoding/json refuses. It is a module of its own
// so that the libraries it compares are not dependencies of purpleharness.
// See docs/performance.md for the command and the figures.
package jsonbench
