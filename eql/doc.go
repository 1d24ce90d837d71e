// Package eql is an embedded engine for Elastic's Event Query Language that
// answers like Elasticsearch 8.x/9.x (x-pack/plugin/eql): same grammar,
// same errors, same null and case semantics, same sequence and sample
// matching, and results in the exact _eql/search response shape, so the
// engine and a real cluster are interchangeable behind one interface.
//
// The pipeline is Parse (lexer and parser, AST with positions), Compile
// (verifier against an optional Mapping: unknown fields, field-to-field
// comparisons, literal types) and Search or Program.Run (evaluator and the
// sequence/sample matchers). Events are read only through Fields.Lookup.
//
// # Semantics worth knowing
//
//   - ==, in, like, regex are case-sensitive; :, in~, like~, regex~ and the
//     ~ functions are not. ":" and like expand * and ?; in~ does not.
//   - regex and regex~ take Lucene's RegExp language (package eql/lucene),
//     as Elasticsearch's regexp query does, anchored on the whole value.
//   - A predicate on a field (comparison, in, :, like, regex) is what
//     Elasticsearch pushes down as Query DSL: an event without the field
//     does not match it, and therefore matches its negation.
//     "not process.name in~ (...)" selects events that have no
//     process.name; "f != x" does too. Inside functions null propagates
//     (script semantics). "f == null" / "f != null" test presence.
//   - An array field matches when any of its values does; join keys fan
//     out over the values (sorted, de-duplicated, nulls dropped).
//   - Sequences: a stage-N hit continues the latest pending stage-(N-1)
//     sequence for its key that ended before it and drops older ones;
//     maxspan is measured from the first event and an equal span matches;
//     until discards the key's pending sequences; "with runs=N" repeats a
//     stage; ![...] stages reject a candidate when a matching event lies in
//     the gap. Events missing a non-optional join key never join.
//   - Ordering: timestamp, then tiebreaker, then input order. Search sorts
//     its input unless Sorted() promises it is already ordered, in which
//     case memory is bounded by open sequences (swept past maxspan).
//
// # Explanations
//
// Query.Stages exposes each stage's category, the top-level "and"
// conjuncts of its condition with source text and position, its join keys,
// runs and missing flag; Cond.Eval evaluates one conjunct against one
// event as True, False or Null. The harness builds its "why did the rule
// not fire" reports from them.
package eql
