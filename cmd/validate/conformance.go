package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/purpleharness/purpleharness/eql/conformance"
	"github.com/purpleharness/purpleharness/harness/elastic"
)

const conformanceUsage = `usage: validate conformance [flags]

Run Elasticsearch's own EQL specification corpus against a real
Elasticsearch cluster, or against the embedded engine, with the same runner,
and print per-suite pass counts. The corpus folder is Elasticsearch's
x-pack/plugin/eql/qa/common/src/main/resources as a checkout at any 8.x or
9.x tag holds it (data/*.mapping, data/*.data, the .toml query files), or
the earlier layout (test_data.json, mapping-default.json); the shared
eql-conformance copy holds 308 queries.
Exit 0 when every query is answered as the spec says, 1 otherwise, 3 when
there is no cluster or no corpus.

flags:
  --backend NAME     elasticsearch (default) or embedded
  --corpus DIR       corpus folder (default $EQL_CONFORMANCE_DIR, else
                     ../shared/eql-conformance next to the module)
  --seed N           seed of the random fetch_size/result_position (default 1)
  -v                 list every failing query with its difference
` + elasticFlagsUsage

// elasticFlagsUsage documents the flags addElasticFlags registers.
const elasticFlagsUsage = `
Elasticsearch flags (defaults from the PURPLEHARNESS_ES_* variables):
  --es-url URL         an existing cluster; without it a container is started
                       from --es-image if that image is present locally
  --es-api-key KEY     API key (base64 id:key)
  --es-user USER       basic auth user
  --es-password PASS   basic auth password
  --es-ca FILE         PEM CA of the cluster's certificate
  --es-insecure        skip TLS verification
  --es-image IMAGE     container image (default ` + elastic.DefaultImage + `)
  --es-no-security     container: disable security (plain HTTP, no password)
`

var conformanceCommand = command{"conformance", "run the EQL spec corpus against Elasticsearch or the embedded engine", runConformance}

// esFlags are the --es-* flags; options() turns them into elastic.Options.
type esFlags struct {
	o          elastic.Options
	noSecurity bool
}

// addElasticFlags registers the --es-* flags on fs, defaulting to the
// PURPLEHARNESS_ES_* environment. Subcommands that talk to Elasticsearch
// share them (see elasticFlagsUsage).
func addElasticFlags(fs *flag.FlagSet) *esFlags {
	f := &esFlags{o: elastic.OptionsFromEnv()}
	fs.StringVar(&f.o.URL, "es-url", f.o.URL, "existing Elasticsearch cluster URL (else a container from --es-image)")
	fs.StringVar(&f.o.APIKey, "es-api-key", f.o.APIKey, "Elasticsearch API key (base64 id:key)")
	fs.StringVar(&f.o.User, "es-user", f.o.User, "Elasticsearch user")
	fs.StringVar(&f.o.Password, "es-password", f.o.Password, "Elasticsearch password")
	fs.StringVar(&f.o.CAFile, "es-ca", f.o.CAFile, "PEM CA certificate of the cluster")
	fs.BoolVar(&f.o.Insecure, "es-insecure", f.o.Insecure, "skip TLS verification of the cluster")
	fs.StringVar(&f.o.Image, "es-image", f.o.Image, "Elasticsearch image for the container (never pulled; default "+elastic.DefaultImage+")")
	fs.BoolVar(&f.noSecurity, "es-no-security", false, "start the container with security off (plain HTTP, no password)")
	return f
}

func (f *esFlags) options() elastic.Options {
	o := f.o
	o.Security = !f.noSecurity
	return o
}

func runConformance(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate conformance", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	backend := fs.String("backend", "elasticsearch", "")
	corpusDir := fs.String("corpus", "", "")
	seed := fs.Uint64("seed", 1, "")
	verbose := fs.Bool("v", false, "")
	es := addElasticFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, conformanceUsage)
		return nil
	}
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("conformance: unexpected arguments %q", pos)
	}
	if err == nil && *backend != "elasticsearch" && *backend != "embedded" {
		err = fmt.Errorf("conformance: --backend %q: want elasticsearch or embedded", *backend)
	}
	if err != nil {
		fmt.Fprint(stderr, conformanceUsage)
		return usageError(err)
	}

	var b conformance.Backend
	switch *backend {
	case "embedded":
		b = conformance.NewEmbedded()
		fmt.Fprintln(stderr, "backend: embedded EQL engine")
	default:
		c, err := elastic.Open(ctx, es.options())
		if err != nil {
			return envError(err)
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			if err := c.Close(cctx); err != nil {
				fmt.Fprintf(stderr, "validate: stop Elasticsearch: %v\n", err)
			}
		}()
		fmt.Fprintf(stderr, "backend: %s\n", c)
		cb := c.NewConformance(fmt.Sprintf("%d", time.Now().UnixNano()))
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := cb.Close(cctx); err != nil {
				fmt.Fprintf(stderr, "validate: delete conformance indices: %v\n", err)
			}
		}()
		b = cb
	}

	// The corpus is read after the backend is chosen, so that a missing
	// cluster is reported as such wherever the corpus is.
	dir := *corpusDir
	if dir == "" {
		if dir, err = conformance.Dir(); err != nil {
			return envError(err)
		}
	}
	corpus, err := conformance.Load(dir)
	if err != nil {
		return envError(fmt.Errorf("conformance: %w", err))
	}
	if len(corpus.Missing) > 0 {
		fmt.Fprintf(stderr, "corpus: %s lacks %s (their suites are not run)\n", dir, strings.Join(corpus.Missing, ", "))
	}
	res, err := corpus.Run(ctx, b, conformance.Options{Seed: *seed})
	if err != nil {
		return envError(fmt.Errorf("conformance: %w", err))
	}
	total, passed, failed := 0, 0, 0
	for _, r := range res {
		fmt.Fprintf(stdout, "%-16s %3d/%3d passed\n", r.Suite, r.Passed, r.Total)
		total += r.Total
		passed += r.Passed
		failed += len(r.Failures)
		if *verbose {
			for _, f := range r.Failures {
				fmt.Fprintf(stdout, "  FAIL %s (%s): %s\n    query: %s\n", f.Query.Name, f.Query.File, f.Diff, f.Query.Query)
			}
		}
	}
	fmt.Fprintf(stdout, "%-16s %3d/%3d passed\n", "total", passed, total)
	if failed > 0 {
		if !*verbose {
			fmt.Fprintln(stderr, "validate conformance: run with -v to list the failing queries")
		}
		return silentExit(exitFailed)
	}
	return nil
}
