package eql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/jsondoc"
)

// searchWithRunner is Search, also giving the runner that answered.
func searchWithRunner(t *testing.T, req Request, docs []jsondoc.Document, opts ...Option) (*Response, *runner) {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	src := []Source{{Index: "s", Events: Events(sliceSeq(docs))}}
	req, prog, err := prepare(req, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(context.Background(), prog, req, cfg, src)
	resp, err := r.run()
	if err != nil {
		t.Fatal(err)
	}
	return resp, r
}

// shardStream is a shuffled stream of events over a few hosts and
// processes, with timestamp and tiebreaker ties, missing and optional
// keys, and stage keys fanned out over several values. multi puts a two-valued host.name in one event; combos one event
// whose predicate cannot be evaluated (too many combinations of values).
func shardStream(t *testing.T, seed uint64, n int, multi, combos bool) []jsondoc.Document {
	rnd := rand.New(rand.NewPCG(seed, 7))
	var docs []jsondoc.Document
	for i := range n {
		host := fmt.Sprintf("%q", fmt.Sprintf("h%d", rnd.IntN(5)))
		switch rnd.IntN(20) {
		case 0:
			host = "null"
		case 1:
			host = `["h1"]`
		}
		action := []string{"a", "b", "stop"}[rnd.IntN(3)]
		cat := []string{"process", "network"}[rnd.IntN(2)]
		if multi && i == n/2 {
			// matched by some stage of every query: it is held
			host, action, cat = `["h1","h2"]`, "a", "network"
		}
		x := ""
		switch rnd.IntN(8) {
		case 0:
		case 1:
			x = `,"x":[0,1,2]` // a stage key fanned out
		default:
			x = fmt.Sprintf(`,"x":%d`, rnd.IntN(3))
		}
		extra := ""
		if combos && i == n/3 {
			vals := make([]string, 300)
			for j := range vals {
				vals[j] = fmt.Sprint(j)
			}
			l := "[" + strings.Join(vals, ",") + "]"
			extra = `,"l1":` + l + `,"l2":` + l
		}
		src := fmt.Sprintf(`{"@timestamp":%d,"seq":%d,"host":{"name":%s},"process":{"entity_id":"p%d"},"event":{"category":%q,"action":%q}%s%s}`,
			1_700_000_000_000+rnd.IntN(400)*1000, rnd.IntN(50), host, rnd.IntN(4), cat, action, x, extra)
		d, err := jsondoc.Decode([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	return docs
}

// TestShardedMatchesOneMatcher: a sequence search matched in parts on
// several cores answers exactly as one matcher over the whole stream (the
// reference, HoldAll), whatever the window (head or tail, size, pipes),
// the tiebreaker, until, stage keys and optional keys, held in memory or
// spilled and merged back; and it does run in parts unless an event's keys
// are multi-valued.
func TestShardedMatchesOneMatcher(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	queries := []string{
		`sequence by host.name [process where true] [network where true]`,
		`sequence by host.name, process.entity_id with maxspan=30s [any where event.action == "a"] with runs=2 [network where true]`,
		`sequence by host.name [process where true] by x [network where true] by x until [any where event.action == "stop"] by x`,
		`sequence by ?host.name [any where event.action != "stop"] [any where true] | head 5`,
		`sequence by host.name, process.entity_id [any where true] [any where event.action == "b"] | tail 4`,
		`sequence by host.name [any where add(l1, l2) == -1 or event.action == "a"] [any where true]`,
	}
	streams := []struct {
		name          string
		multi, combos bool
	}{{"plain", false, false}, {"multi-valued key", true, false}, {"failing predicate", false, true}}
	partial := 0
	for _, st := range streams {
		docs := shardStream(t, 11, 600, st.multi, st.combos)
		for qi, q := range queries {
			for _, pos := range []string{"head", "tail"} {
				for _, size := range []int{3, 1000} {
					for _, tb := range []string{"", "seq"} {
						req := Request{Query: q, ResultPosition: pos, Size: size, TiebreakerField: tb}
						for _, shards := range []int{2, 3, 8} {
							for _, spilled := range []bool{false, true} {
								name := fmt.Sprintf("%s/q%d/%s/size%d/tb=%q/%d/spilled=%v", st.name, qi, pos, size, tb, shards, spilled)
								var opts []Option
								if spilled {
									// a few events per run: the merge feeds the parts
									opts = append(opts, WithSpill(Spill{Dir: t.TempDir(), Budget: 4 << 10, Encode: func(f Fields) ([]byte, error) { return json.Marshal(f) },
										Decode: func(raw []byte) (Fields, error) { return jsondoc.Decode(raw) }}))
								}
								maxShards = shards
								got, r := searchWithRunner(t, req, docs, opts...)
								maxShards = 8
								ref, _ := searchWithRunner(t, req, docs, HoldAll())
								got.Took, ref.Took = 0, 0
								gb, _ := json.Marshal(got)
								rb, _ := json.Marshal(ref)
								if !bytes.Equal(gb, rb) {
									t.Fatalf("%s: matched in parts:\n%.600s\none matcher:\n%.600s", name, gb, rb)
								}
								// A failure one matcher meets sends the search back
								// to one matcher; a part may also meet one that a
								// full head window would have stopped before.
								wantParts := min(shards, 4)
								switch {
								case st.multi, ref.IsPartial:
									wantParts = 1
								case st.combos && qi == 5 && r.parts == 1:
									wantParts = 1
								}
								if r.parts != wantParts {
									t.Errorf("%s: matched in %d parts, want %d", name, r.parts, wantParts)
								}
								if ref.IsPartial {
									partial++
								}
							}
						}
					}
				}
			}
		}
	}
	if partial == 0 {
		t.Error("no search met the predicate that cannot be evaluated")
	}
}

// TestShardedCancelled: a search cancelled while its parts match (in
// memory or fed by the merge of a spilled sort) stops with the context's
// error, every part's goroutine ended.
func TestShardedCancelled(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	docs := shardStream(t, 5, 600, false, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the collect checks every 4,096 events: these 600 reach the parts
	spill := WithSpill(Spill{Dir: t.TempDir(), Budget: 4 << 10, Encode: func(f Fields) ([]byte, error) { return json.Marshal(f) },
		Decode: func(raw []byte) (Fields, error) { return jsondoc.Decode(raw) }})
	before := runtime.NumGoroutine()
	for _, opts := range [][]Option{nil, {spill}} {
		_, err := Search(ctx, Request{Query: `sequence by host.name [process where true] [network where true]`}, sliceSeq(docs), opts...)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Search(cancelled, %d options) error = %v, want context.Canceled", len(opts), err)
		}
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines after the searches, %d before", after, before)
	}
}

// TestEventOrderTotal: events whose tiebreakers do not compare (numbers,
// NaN, strings and booleans in one field, which Elasticsearch's single
// field type never holds) still sort into one consistent order, so that
// the parts, sorted separately, agree with one matcher: after any sort,
// every event is before every later one.
func TestEventOrderTotal(t *testing.T) {
	tbs := []val{intVal(2), intVal(1), floatVal(1.5), floatVal(math.NaN()), strVal("x"), strVal("a"), boolVal(true), boolVal(false), {k: vObj}}
	rnd := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var evs []*event
		for i := range 12 {
			e := &event{ts: int64(rnd.IntN(2)), hasTS: true, ord: int64(i)}
			if rnd.IntN(6) > 0 {
				tb := tbs[rnd.IntN(len(tbs))]
				e.tb = &tb
			}
			evs = append(evs, e)
		}
		rnd.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
		slices.SortFunc(evs, (*event).cmp)
		for i := range evs {
			for j := i + 1; j < len(evs); j++ {
				if evs[i].cmp(evs[j]) >= 0 || evs[j].cmp(evs[i]) <= 0 {
					t.Fatalf("round %d: event %d (ts %d, tb %v, ord %d) sorted before event %d (ts %d, tb %v, ord %d) but not ordered before it",
						round, i, evs[i].ts, evs[i].tb, evs[i].ord, j, evs[j].ts, evs[j].tb, evs[j].ord)
				}
			}
		}
	}
}

// TestJoinKeysOfCompletingEvent: a sequence reports the join-key values of
// the event that completed it (its state keeps only the key's id); values
// with one id render alike, so the response is the one the values of its
// first event give: 1 and 1.0 are the key 1.
func TestJoinKeysOfCompletingEvent(t *testing.T) {
	run := func(second string) string {
		var docs []jsondoc.Document
		for _, src := range []string{
			`{"@timestamp":1,"pid":1,"a":1}`,
			`{"@timestamp":2,"pid":` + second + `,"a":2}`,
		} {
			d, err := jsondoc.Decode([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, d)
		}
		resp, err := Search(context.Background(), Request{Query: `sequence by pid [any where a == 1] [any where a == 2]`}, sliceSeq(docs))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Hits.Sequences) != 1 {
			t.Fatalf("pid %s: %d sequences, want 1", second, len(resp.Hits.Sequences))
		}
		b, _ := json.Marshal(resp.Hits.Sequences[0].JoinKeys)
		return string(b)
	}
	if got, want := run("1.0"), run("1"); got != want || got != "[1]" {
		t.Errorf("join_keys %s with 1.0 completing, %s with 1; want [1]", got, want)
	}
}
