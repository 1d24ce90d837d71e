// Package container runs purpleharness's fake mail servers (package
// fakemail) in a Docker container started with testcontainers-go: an image
// built here, FROM scratch, holding the running validate executable (with
// its ELF interpreter and shared libraries when it is dynamically linked,
// as "go run" builds it), with entrypoint "validate serve-mail". Nothing is
// pulled and nothing is compiled.
//
// # In the caller's network namespace
//
// With Options.Listen the container has no network of its own: the
// listeners are opened by Listen (in the harness's per-run network
// namespace) and handed to serve-mail over a Unix socket (handover.go).
//
// # Why host networking
//
// The point of the fake servers is the telemetry of the client that talks
// to them: the atomic connects to 127.0.0.1:25 and the sensor must see that
// process connect to that port. With Docker's default bridge network and a
// published port, the host side of the connection ends at docker-proxy (a
// userland proxy process that then opens its own connection into the
// container), or in iptables DNAT rules: the server would see docker-proxy
// or the bridge gateway as its peer, and docker-proxy would show up in the
// host's telemetry as a process connecting to mail ports. With
// NetworkMode "host" the container's listening sockets are in the host's
// network namespace: the client connects straight to the server process,
// the evidence shows the client's real address and port, and no
// infrastructure process sits in between. TestHostNetworkNoProxy checks it.
//
// # Evidence
//
// The containerised serve-mail writes session records as NDJSON to a file
// in a host directory bind-mounted into the container, and its listening
// addresses to a ready file there; Servers.Evidence parses the file back
// into fakemail.Session values, the same type the in-process servers give.
package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"

	"github.com/purpleharness/purpleharness/fakemail"
	"github.com/purpleharness/purpleharness/prereq"
)

// ErrNoDocker means no Docker daemon answered: callers skip or exit 3.
var ErrNoDocker = errors.New("container: no Docker daemon reachable")

// Paths inside the container.
const (
	runDir       = "/run/fakemail"
	evidenceFile = "evidence.ndjson"
	readyFile    = "ready.json"
	configFile   = "config.yaml"
)

// Options configure Start.
type Options struct {
	// ConfigFile is a fakemail YAML configuration on the host, copied
	// into the container; "" serves the default account.
	ConfigFile string
	// Listen is the address to bind, 127.0.0.1 unless set (in the host's
	// network namespace: see the package doc).
	Listen string
	// Ephemeral binds free ports instead of the canonical ones.
	Ephemeral bool
	// Binary is the validate executable to put in the image; "" uses the
	// running one. A dynamically linked one brings its interpreter and
	// libraries along.
	Binary string
	// OpenListener, when set, opens the listeners (in the caller's network
	// namespace) and the container runs with no network of its own,
	// serving the sockets handed over to it. Unset: host networking.
	OpenListener func(ctx context.Context, network, addr string) (net.Listener, error)
	// Progress, when set, hears of steps that take a while (the image
	// build).
	Progress func(string)
	// Log receives the build log and the container's stderr; nil drops
	// them.
	Log io.Writer
}

// Servers are mail servers running in a container.
type Servers struct {
	ctr   *testcontainers.DockerContainer
	image string // built for this run; removed with the container
	dir   string
	addrs map[fakemail.Service]string

	mu    sync.Mutex
	final []fakemail.Session
	done  bool
}

var _ fakemail.Handle = (*Servers)(nil)

// configureTestcontainers sets what testcontainers-go needs on this kind
// of host, unless the user chose otherwise: Ryuk (the reaper) is an image
// that would have to be pulled, and /.dockerenv can make testcontainers
// think it runs inside a container and look for the daemon on a gateway.
func configureTestcontainers() {
	for k, v := range map[string]string{
		"TESTCONTAINERS_RYUK_DISABLED": "true",
		"TESTCONTAINERS_HOST_OVERRIDE": "127.0.0.1",
	} {
		if _, set := os.LookupEnv(k); !set {
			os.Setenv(k, v)
		}
	}
}

// dockerClient is testcontainers' Docker client, configured first:
// testcontainers reads its configuration once, at its first use, so every
// entry point of this package configures it before touching it.
func dockerClient(ctx context.Context) (*testcontainers.DockerClient, error) {
	configureTestcontainers()
	return testcontainers.NewDockerClientWithOpts(ctx)
}

// Start builds the image, starts the container with host networking and
// waits until every service listens. On error nothing is left behind.
func Start(ctx context.Context, opts Options) (*Servers, error) {
	return start(ctx, opts)
}

// start is Start with extra testcontainers options after Start's own (tests
// use them to fail a step).
func start(ctx context.Context, opts Options, extra ...testcontainers.ContainerCustomizer) (_ *Servers, err error) {
	configureTestcontainers()
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	var config []byte
	var mailCfg fakemail.Config
	if opts.ConfigFile != "" {
		data, err := os.ReadFile(opts.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("container: %w", err)
		}
		// Check it here, before any build, so the error has the host path.
		if mailCfg, err = fakemail.ParseConfig(opts.ConfigFile, data); err != nil {
			return nil, err
		}
		config = data
	}
	if err := pingDocker(ctx); err != nil {
		return nil, err
	}
	if err := removeOrphans(ctx); err != nil {
		fmt.Fprintf(logw, "fakemail container: removing orphans: %v\n", err)
	}
	if !opts.Ephemeral && opts.OpenListener == nil {
		if err := portsFree(opts.Listen, mailCfg); err != nil {
			return nil, err
		}
	}
	dir, err := ownedTempDir("mail")
	if err != nil {
		return nil, fmt.Errorf("container: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	buildDir := filepath.Join(dir, "build")
	shareDir := filepath.Join(dir, "share")
	for _, d := range []string{buildDir, shareDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, fmt.Errorf("container: %w", err)
		}
	}
	exe := opts.Binary
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("container: %w", err)
		}
	}
	rfs, err := stageRootfs(exe, filepath.Join(buildDir, "rootfs"))
	if err != nil {
		return nil, err
	}
	tag := ownerTag()
	if opts.Progress != nil {
		opts.Progress(fmt.Sprintf("building image %s:%s from %s", imageRepo, tag, rfs))
	}
	dockerfile := "FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [\"/validate\", \"serve-mail\"]\n"
	if err := os.WriteFile(filepath.Join(buildDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return nil, fmt.Errorf("container: %w", err)
	}
	args := []string{"--evidence", runDir + "/" + evidenceFile, "--ready", runDir + "/" + readyFile}
	if config != nil {
		if err := os.WriteFile(filepath.Join(shareDir, configFile), config, 0o644); err != nil {
			return nil, fmt.Errorf("container: %w", err)
		}
		args = append(args, "--config", runDir+"/"+configFile)
	}
	if opts.Listen != "" {
		args = append(args, "--listen", opts.Listen)
	}
	var ports map[fakemail.Service]int
	if opts.Ephemeral {
		args = append(args, "--ephemeral")
		ports = fakemail.EphemeralPorts()
	}
	networkMode := "host"
	if opts.OpenListener != nil {
		if config != nil {
			if cfg, err := fakemail.ParseConfig(opts.ConfigFile, config); err == nil && cfg.Ports != nil {
				ports = cfg.Ports
			}
		}
		o, err := offerListeners(ctx, opts.OpenListener, opts.Listen, ports, filepath.Join(shareDir, listenersSock))
		if err != nil {
			return nil, err
		}
		// Once serve-mail has them (or the start failed), this side's
		// copies go: the sockets live on in the container only.
		defer o.close()
		args = append(args, "--listeners", runDir+"/"+listenersSock)
		networkMode = "none"
	}

	// The image name as soon as it is built: when a later step fails,
	// testcontainers returns no container, and with KeepImage nothing
	// else would remove the image.
	var built string
	onBuilt := testcontainers.ContainerLifecycleHooks{PostBuilds: []testcontainers.ContainerRequestHook{
		func(_ context.Context, req testcontainers.ContainerRequest) error { built = req.Image; return nil },
	}}
	ctr, err := testcontainers.Run(ctx, "", append([]testcontainers.ContainerCustomizer{
		testcontainers.WithLogger(stdlog.New(logw, "testcontainers: ", 0)),
		testcontainers.WithDockerfile(testcontainers.FromDockerfile{
			Context:        buildDir,
			Repo:           imageRepo,
			Tag:            tag,
			BuildLogWriter: logw,
			// Without KeepImage, testcontainers puts its labels and ours on
			// the image too, and Docker's legacy builder (all this machine
			// has) runs one intermediate container per LABEL: ~1 s each,
			// 8 s in all. The labels stay on the container (orphan removal
			// finds them there) and remove() deletes the image itself.
			KeepImage: true,
		}),
		testcontainers.WithCmd(args...),
		testcontainers.WithLabels(ownerLabels(dir)),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.NetworkMode = container.NetworkMode(networkMode)
			hc.Binds = append(hc.Binds, shareDir+":"+runDir)
		}),
		testcontainers.WithAdditionalLifecycleHooks(onBuilt),
	}, extra...)...)
	s := &Servers{ctr: ctr, dir: dir, image: built}
	if err != nil {
		s.remove()
		return nil, fmt.Errorf("container: start: %w", err)
	}
	if err := s.waitReady(ctx, filepath.Join(shareDir, readyFile)); err != nil {
		// serve-mail's own words (e.g. "listen tcp 127.0.0.1:25: bind:
		// address already in use") are the useful part of the error.
		if rc, lerr := ctr.Logs(context.Background()); lerr == nil {
			var logs bytes.Buffer
			io.Copy(io.MultiWriter(logw, &logs), io.LimitReader(rc, 64<<10))
			rc.Close()
			if last := lastLine(logs.String()); last != "" {
				err = fmt.Errorf("%w: %s", err, last)
			}
		}
		s.remove()
		return nil, err
	}
	return s, nil
}

// portsFree fails with a *prereq.Missing when a port the container is to
// bind in the host's network namespace is held by a program that is not
// ours. Inside the container (its own pid namespace) the holder cannot be
// named, so the host looks first. Listeners handed over (OpenListener) are
// opened by the caller, whose bind error says it.
func portsFree(listen string, cfg fakemail.Config) error {
	if listen == "" {
		listen = "127.0.0.1"
	}
	services := cfg.Services
	if services == nil {
		services = fakemail.Services
	}
	for _, svc := range services {
		port := svc.Port()
		if p, ok := cfg.Ports[svc]; ok {
			port = p
		}
		if port == 0 {
			continue
		}
		if err := prereq.PortFree(port); err != nil {
			return fmt.Errorf("container: %s on %s: %w", svc, net.JoinHostPort(listen, strconv.Itoa(port)), err)
		}
	}
	return nil
}

// waitReady waits for the ready file serve-mail writes once it listens.
func (s *Servers) waitReady(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		if data, err := os.ReadFile(path); err == nil && len(data) > 0 {
			var addrs map[fakemail.Service]string
			if err := json.Unmarshal(data, &addrs); err == nil {
				s.addrs = addrs
				return nil
			}
		}
		st, err := s.ctr.State(ctx)
		if err == nil && !st.Running {
			return fmt.Errorf("container: serve-mail exited with code %d before listening", st.ExitCode)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("container: waiting for serve-mail to listen: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Addr returns the listening address of svc, "" if not started.
func (s *Servers) Addr(svc fakemail.Service) string { return s.addrs[svc] }

// Addrs returns every listening address.
func (s *Servers) Addrs() map[fakemail.Service]string {
	out := make(map[fakemail.Service]string, len(s.addrs))
	for k, v := range s.addrs {
		out[k] = v
	}
	return out
}

// Evidence returns the sessions the container has recorded so far, in end
// order; after Shutdown, all of them.
func (s *Servers) Evidence() []fakemail.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return append([]fakemail.Session(nil), s.final...)
	}
	return s.readEvidence()
}

func (s *Servers) readEvidence() []fakemail.Session {
	f, err := os.Open(filepath.Join(s.dir, "share", evidenceFile))
	if err != nil {
		return nil
	}
	defer f.Close()
	// A line being written right now is skipped, not an error.
	sessions, _ := fakemail.ReadNDJSON(f, true)
	return sessions
}

// ContainerID names the container, for logs and for tests.
func (s *Servers) ContainerID() string { return s.ctr.GetContainerID() }

// Shutdown stops serve-mail with SIGTERM (it records the open sessions as
// server-shutdown), keeps the evidence, and removes the container, the
// image and the temporary files.
func (s *Servers) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return nil
	}
	timeout := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	stopErr := s.ctr.Stop(ctx, &timeout)
	s.final = s.readEvidence()
	s.done = true
	return errors.Join(stopErr, s.remove())
}

// remove deletes the container (and its image) and the temporary files.
func (s *Servers) remove() error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if s.ctr != nil {
		if err := s.ctr.Terminate(ctx); err != nil {
			errs = append(errs, fmt.Errorf("container: remove: %w", err))
		}
	}
	if s.image != "" {
		if err := removeImage(ctx, s.image); err != nil {
			errs = append(errs, fmt.Errorf("container: remove image: %w", err))
		}
	}
	if err := os.RemoveAll(s.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// lastLine returns the last non-empty line of s, without a "validate: "
// prefix.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimPrefix(strings.TrimSpace(lines[len(lines)-1]), "validate: ")
}
