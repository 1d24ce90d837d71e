package elastic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/elastic/go-elasticsearch/v8"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tces "github.com/testcontainers/testcontainers-go/modules/elasticsearch"
)

// ryukImage is the reaper testcontainers starts next to every container
// unless told not to. Where it is not present locally (air-gapped CI, this
// project's build machine) starting it would need a pull, so we disable it:
// Client.Close terminates our container itself, also on Ctrl-C, because
// cmd/validate cancels the context and runs deferred cleanup.
const ryukImage = "testcontainers/ryuk:0.14.0"

var ryukOnce, setupOnce sync.Once

// setup prepares testcontainers before its first use (it reads its
// configuration once):
//   - its own logging is silenced (it prints a banner on every Docker
//     connection) so that validate's output stays ours; set
//     PURPLEHARNESS_ES_DEBUG=1 to see it;
//   - where the Docker daemon runs in our own network namespace although
//     /.dockerenv says we are in a container (Docker in Docker, as on this
//     project's machines), published ports are on 127.0.0.1, not on a
//     gateway testcontainers would otherwise look for: the host is
//     overridden unless TESTCONTAINERS_HOST_OVERRIDE is already set.
func setup() {
	setupOnce.Do(func() {
		if os.Getenv("PURPLEHARNESS_ES_DEBUG") == "" {
			tclog.SetDefault(tclog.NewNoopLogger())
		}
		if _, set := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); set {
			return
		}
		if _, err := os.Stat("/.dockerenv"); err != nil {
			return
		}
		if _, err := net.InterfaceByName("docker0"); err == nil {
			os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
		}
	})
}

// ImagePresent reports whether image is present in the local Docker
// image store. It never pulls. An error means Docker itself is unreachable.
func ImagePresent(ctx context.Context, image string) (bool, error) {
	setup()
	dc, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return false, fmt.Errorf("docker: %w", err)
	}
	defer dc.Close()
	if _, err := dc.ImageInspect(ctx, image); err != nil {
		if cerrdefs.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("docker: inspect image %s: %w", image, err)
	}
	return true, nil
}

// noClusterError explains ErrNoCluster with the image and both remedies.
func noClusterError(image string, cause error) error {
	why := fmt.Sprintf("image %s is not present locally", image)
	if cause != nil {
		why = fmt.Sprintf("cannot check for image %s (%v)", image, cause)
	}
	return fmt.Errorf("%w: %s; either run `docker pull %s` (or choose a present image with --es-image / %s), or point to an existing cluster with --es-url URL (%s)",
		ErrNoCluster, why, image, EnvImage, EnvURL)
}

// CanStart reports whether Open would start a container: no URL, and the
// image is present. It is what --backend auto decides by.
func CanStart(ctx context.Context, o Options) bool {
	ok, err := ImagePresent(ctx, o.image())
	return err == nil && ok
}

// startContainer starts a single-node cluster from o.Image, which must be
// present locally. Security stays as the image ships it (8.x: TLS with the
// container's own CA, user elastic) unless o.Security is false.
func startContainer(ctx context.Context, o Options) (*Client, error) {
	image := o.image()
	ok, err := ImagePresent(ctx, image)
	if err != nil || !ok {
		return nil, noClusterError(image, err)
	}
	ryukOnce.Do(func() {
		if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") != "" {
			return
		}
		if present, err := ImagePresent(ctx, ryukImage); err == nil && !present {
			os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		}
	})

	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithEnv(map[string]string{
			// A test cluster: modest heap, no disk watermarks, no ML.
			"ES_JAVA_OPTS":                    "-Xms1g -Xmx1g",
			"xpack.ml.enabled":                "false",
			"ingest.geoip.downloader.enabled": "false",
		}),
		testcontainers.WithLabels(map[string]string{"org.purpleharness": "elasticsearch"}),
	}
	if !o.Security {
		opts = append(opts, testcontainers.WithEnv(map[string]string{"xpack.security.enabled": "false"}))
	}
	ctr, err := tces.Run(ctx, image, opts...)
	stop := func(ctx context.Context) error {
		if ctr == nil {
			return nil
		}
		// Terminate on a fresh context: the caller's may be the one a
		// Ctrl-C just cancelled.
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return testcontainers.TerminateContainer(ctr, testcontainers.StopContext(tctx))
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start Elasticsearch container %s: %w", image, err), stop(ctx))
	}
	cfg := elasticsearch.Config{
		Addresses: []string{ctr.Settings.Address},
		Username:  ctr.Settings.Username,
		Password:  ctr.Settings.Password,
		CACert:    ctr.Settings.CACert,
	}
	c, err := connect(ctx, cfg)
	if err != nil {
		return nil, errors.Join(err, stop(ctx))
	}
	c.stop = stop
	c.source = fmt.Sprintf("Elasticsearch %s in container %s at %s", c.version, image, c.url)
	return c, nil
}
