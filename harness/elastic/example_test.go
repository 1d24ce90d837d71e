package elastic_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
	"github.com/purpleharness/purpleharness/harness"
	"github.com/purpleharness/purpleharness/harness/elastic"
)

// The Elasticsearch engine plugs into the harness's engine seam.
var _ harness.Engine = (*elastic.Engine)(nil)

// Open a cluster (an existing one with URL, else a container of a locally
// present image), index a run's documents into the run's own data streams,
// ask _eql/search over a rule's index patterns, and clean up.
func Example() {
	ctx := context.Background()
	c, err := elastic.Open(ctx, elastic.OptionsFromEnv())
	if errors.Is(err, elastic.ErrNoCluster) {
		fmt.Println(err) // names the image and both remedies
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(ctx)

	b := c.NewBackend("run-20261126")
	defer b.Close(ctx) // deletes this run's data streams and template only

	var docs []ecs.Document // rendered telemetry
	if err := b.Index(ctx, docs); err != nil {
		fmt.Println(err)
		return
	}
	res, err := b.SearchAll(ctx, []string{"logs-endpoint.events.*"}, eql.Request{
		Query: `sequence by process.entity_id [network where destination.port == 25] with runs=3`,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(res.Hits.Sequences), "sequences")
}
