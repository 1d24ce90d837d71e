package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"time"

	"github.com/purpleharness/purpleharness/fakemail"
	"github.com/purpleharness/purpleharness/fakemail/container"
)

var serveMailCommand = command{
	name:    "serve-mail",
	summary: "run the fake SMTP/POP3/IMAP servers in the foreground, recording evidence",
	run:     runServeMail,
}

// runServeMail implements
//
//	validate serve-mail [--config F] [--listen ADDR] [--evidence FILE|-] [--container] [--ephemeral] [--ready FILE]
//
// It prints each listening address, serves until SIGINT/SIGTERM, then
// shuts down (removing the container in --container mode) and exits 0.
// Bad configuration exits 2; a port that cannot be bound or no Docker
// exits 3.
func runServeMail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve-mail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML file with users, seed messages, ports and limits (default: login c2, password atomic-red)")
	listen := fs.String("listen", "", "address to bind instead of 127.0.0.1 (e.g. 0.0.0.0: only if you mean it)")
	evidence := fs.String("evidence", "", "write each session as NDJSON to FILE, or - for stdout")
	inContainer := fs.Bool("container", false, "run the servers in a Docker container (FROM scratch, host network) instead of in this process")
	ephemeral := fs.Bool("ephemeral", false, "bind free ports instead of the canonical 25/587/465/110/995/143/993")
	ready := fs.String("ready", "", "once listening, write the addresses as a JSON object to FILE")
	listeners := fs.String("listeners", "", "serve the listening sockets handed over on the Unix socket SOCK (the harness's network namespace) instead of binding")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: validate serve-mail [--config FILE] [--listen ADDR] [--evidence FILE|-] [--container] [--ephemeral]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError(err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usageError(fmt.Errorf("serve-mail: unexpected argument %q", fs.Arg(0)))
	}
	if _, _, err := net.SplitHostPort(*listen); *listen != "" && err == nil {
		return usageError(fmt.Errorf("serve-mail: --listen takes an address without a port (%q); set ports in --config", *listen))
	}
	// Addresses go where the evidence does not.
	info := stdout
	if *evidence == "-" {
		info = stderr
	}

	var handle interface {
		fakemail.Handle
		Addrs() map[fakemail.Service]string
	}
	if *inContainer {
		// The container writes evidence to its own file; it is copied to
		// --evidence at shutdown.
		s, err := container.Start(ctx, container.Options{ConfigFile: *configPath, Listen: *listen,
			Ephemeral: *ephemeral, Log: stderr})
		if err != nil {
			var cerr *fakemail.ConfigError
			if errors.As(err, &cerr) {
				return usageError(err)
			}
			return envError(fmt.Errorf("serve-mail: %w", err))
		}
		fmt.Fprintf(info, "container %.12s (host network)\n", s.ContainerID())
		handle = s
	} else {
		cfg := fakemail.DefaultConfig()
		if *configPath != "" {
			var err error
			if cfg, err = fakemail.LoadConfig(*configPath); err != nil {
				return usageError(err)
			}
		}
		if *listen != "" {
			cfg.Host = *listen
		}
		if *ephemeral {
			cfg.Ports = fakemail.EphemeralPorts()
		}
		if *listeners != "" {
			ls, err := container.ReceiveListeners(*listeners)
			if err != nil {
				return envError(fmt.Errorf("serve-mail: %w", err))
			}
			container.ListenHandedOver(&cfg, ls)
		}
		if *evidence != "" {
			w := stdout
			if *evidence != "-" {
				f, err := os.OpenFile(*evidence, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
				if err != nil {
					return envError(fmt.Errorf("serve-mail: %w", err))
				}
				defer f.Close()
				w = f
			}
			nd := fakemail.NewNDJSONWriter(w)
			cfg.OnSession = func(s fakemail.Session) {
				if err := nd.Write(s); err != nil {
					fmt.Fprintf(stderr, "serve-mail: evidence: %v\n", err)
				}
			}
		}
		s, err := fakemail.Start(ctx, cfg)
		if err != nil {
			return envError(fmt.Errorf("serve-mail: %w", err))
		}
		handle = s
	}

	addrs := handle.Addrs()
	services := make([]fakemail.Service, 0, len(addrs))
	for svc := range addrs {
		services = append(services, svc)
	}
	sort.Slice(services, func(i, j int) bool { return services[i].Port() < services[j].Port() })
	for _, svc := range services {
		fmt.Fprintf(info, "%-10s listening on %s\n", svc, addrs[svc])
	}
	if *ready != "" {
		data, _ := json.Marshal(addrs)
		if err := os.WriteFile(*ready, data, 0o644); err != nil {
			fmt.Fprintf(stderr, "serve-mail: %v\n", err)
		}
	}

	<-ctx.Done()
	fmt.Fprintln(info, "shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := handle.Shutdown(sctx)
	if *inContainer && *evidence != "" {
		if werr := writeEvidence(*evidence, stdout, handle.Evidence()); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return envError(fmt.Errorf("serve-mail: shutdown: %w", err))
	}
	return nil
}

// writeEvidence writes the container's sessions where --evidence asked.
func writeEvidence(path string, stdout io.Writer, sessions []fakemail.Session) error {
	w := stdout
	if path != "-" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	nd := fakemail.NewNDJSONWriter(w)
	for _, s := range sessions {
		if err := nd.Write(s); err != nil {
			return err
		}
	}
	return nil
}
