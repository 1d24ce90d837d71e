package fakemail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-smtp"

	"github.com/purpleharness/purpleharness/fakemail/pop3"
	"github.com/purpleharness/purpleharness/prereq"
)

// Handle is what the harness needs from running mail servers, in-process
// (*Servers) or in a container (fakemail/container).
type Handle interface {
	// Addr returns the listening address of a service, "" if not started.
	Addr(Service) string
	// Evidence returns the sessions that have ended so far, in end order.
	Evidence() []Session
	// Shutdown stops the servers, ends open sessions (recording them) and
	// releases everything; it returns when done or when ctx ends.
	Shutdown(ctx context.Context) error
}

var _ Handle = (*Servers)(nil)

// Servers are running mail servers. Create them with Start.
type Servers struct {
	store     *Store
	limits    Limits
	tlsConfig *tls.Config
	logger    *log.Logger
	addrs     map[Service]string
	evidence  evidenceLog
	nextID    atomic.Uint64

	mu       sync.Mutex
	conns    map[*tapConn]struct{}
	idle     chan struct{} // closed when conns becomes empty during shutdown
	closing  bool
	closers  []func() error
	serving  sync.WaitGroup
	shutdown sync.Once
}

// Start binds every configured service and serves it until Shutdown. ctx
// bounds the start only. Binding 127.0.0.1's canonical ports below 1024
// needs root or CAP_NET_BIND_SERVICE; tests use EphemeralPorts.
func Start(ctx context.Context, cfg Config) (*Servers, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limits := cfg.Limits.withDefaults()
	cfg.Limits = limits
	if cfg.Domain == "" {
		cfg.Domain = DefaultDomain
	}
	host := cfg.Host
	if host == "" {
		host = DefaultHost
	}
	logger := cfg.ErrorLog
	if logger == nil {
		logger = log.New(os.Stderr, "fakemail: ", log.LstdFlags)
	}
	store, err := NewStore(cfg)
	if err != nil {
		return nil, err
	}
	cert, err := selfSigned(cfg.Domain)
	if err != nil {
		return nil, err
	}
	s := &Servers{
		store:     store,
		limits:    limits,
		tlsConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		logger:    logger,
		addrs:     make(map[Service]string),
		conns:     make(map[*tapConn]struct{}),
	}
	s.evidence.onEnd = cfg.OnSession
	s.evidence.keep = cfg.KeepSessions
	if s.evidence.keep <= 0 {
		s.evidence.keep = 100000
	}
	services := cfg.Services
	if services == nil {
		services = Services
	}
	for _, svc := range services {
		if !svc.valid() {
			s.Shutdown(context.Background())
			return nil, fmt.Errorf("fakemail: unknown service %q", svc)
		}
		port := svc.Port()
		if p, ok := cfg.Ports[svc]; ok {
			port = p
		}
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		listen := cfg.Listen
		if listen == nil {
			var lc net.ListenConfig
			listen = lc.Listen
		}
		l, err := listen(ctx, "tcp", addr)
		if err != nil {
			s.Shutdown(context.Background())
			// A port held by another program is the machine's state (exit 3,
			// a skip in tests); held by one of ours it is a leak, a bug.
			return nil, fmt.Errorf("fakemail: listen %s on %s: %w", svc, addr, prereq.BindError(addr, err))
		}
		s.addrs[svc] = l.Addr().String()
		s.serve(svc, &tapListener{Listener: l, svc: svc, srv: s}, cfg)
	}
	return s, nil
}

// serve starts the protocol library for one service on its tapped listener.
func (s *Servers) serve(svc Service, tl *tapListener, cfg Config) {
	var run func() error
	switch svc.Protocol() {
	case ProtoSMTP:
		srv := smtp.NewServer(&smtpBackend{store: s.store, requireAuth: svc == Submission})
		srv.Domain = cfg.Domain
		srv.MaxMessageBytes = s.limits.MaxMessageBytes
		srv.MaxLineLength = s.limits.MaxLineLength
		srv.MaxRecipients = 100
		srv.ReadTimeout = s.limits.IdleTimeout
		srv.WriteTimeout = s.limits.IdleTimeout
		srv.AllowInsecureAuth = !cfg.RequireTLSForAuth
		srv.TLSConfig = s.tlsConfig
		srv.ErrorLog = s.logger
		var l net.Listener = tl
		if svc.ImplicitTLS() {
			l = tls.NewListener(tl, s.tlsConfig)
		}
		run = func() error { return srv.Serve(l) }
		s.closers = append(s.closers, srv.Close)
	case ProtoIMAP:
		srv := imapserver.New(&imapserver.Options{
			NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
				return &imapSession{store: s.store, logger: s.logger}, nil, nil
			},
			Caps: imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIdle: {}, imap.CapUIDPlus: {},
				imap.CapUnselect: {}, imap.CapMove: {}, imap.CapNamespace: {}},
			Logger:       s.logger,
			TLSConfig:    s.tlsConfig,
			InsecureAuth: !cfg.RequireTLSForAuth,
		})
		var l net.Listener = tl
		if svc.ImplicitTLS() {
			l = tls.NewListener(tl, s.tlsConfig)
		}
		run = func() error { return srv.Serve(l) }
		s.closers = append(s.closers, srv.Close)
	case ProtoPOP3:
		srv := &pop3.Server{
			Backend:         pop3Backend{store: s.store},
			Hostname:        cfg.Domain,
			TLSConfig:       s.tlsConfig,
			RequireTLS:      cfg.RequireTLSForAuth,
			MaxLineLength:   s.limits.MaxLineLength,
			IdleTimeout:     s.limits.IdleTimeout,
			MaxAuthFailures: s.limits.MaxAuthFailures,
			// The tap refuses excess connections first, with evidence;
			// evicted ones may still be ending here when their
			// successors arrive.
			MaxConnections: 2*s.limits.MaxConnections + 1,
			ErrorLog:       s.logger,
		}
		if svc.ImplicitTLS() {
			run = func() error { return srv.ServeTLS(tl) }
		} else {
			run = func() error { return srv.Serve(tl) }
		}
		s.closers = append(s.closers, srv.Close)
	}
	s.closers = append(s.closers, tl.Close)
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		err := run()
		s.mu.Lock()
		closing := s.closing
		s.mu.Unlock()
		if err != nil && !closing {
			s.logger.Printf("%s server stopped: %v", svc, err)
		}
	}()
}

// Addr returns the listening address of svc ("127.0.0.1:25"), or "".
func (s *Servers) Addr(svc Service) string { return s.addrs[svc] }

// Addrs returns the listening address of every started service.
func (s *Servers) Addrs() map[Service]string {
	out := make(map[Service]string, len(s.addrs))
	for k, v := range s.addrs {
		out[k] = v
	}
	return out
}

// Store returns the mail store, to seed or inspect mailboxes.
func (s *Servers) Store() *Store { return s.store }

// Evidence returns the sessions that have ended so far, in end order.
func (s *Servers) Evidence() []Session { return s.evidence.all() }

// Active returns a snapshot of the sessions still open, oldest first:
// their End is zero and Ended empty (unless a limit is ending them).
func (s *Servers) Active() []Session {
	s.mu.Lock()
	conns := make([]*tapConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	out := make([]Session, 0, len(conns))
	for _, c := range conns {
		out = append(out, c.rec.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Dropped returns how many old sessions Evidence no longer holds (see
// Config.KeepSessions).
func (s *Servers) Dropped() int {
	s.evidence.mu.Lock()
	defer s.evidence.mu.Unlock()
	return s.evidence.dropped
}

// Subscribe returns a channel receiving each session as it ends, with room
// for buf sessions (a subscriber that falls behind misses sessions; they
// stay in Evidence), and a function to unsubscribe.
func (s *Servers) Subscribe(buf int) (<-chan Session, func()) {
	return s.evidence.subscribe(buf)
}

func (s *Servers) track(c *tapConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[c] = struct{}{}
	if s.closing {
		go c.shutdown()
	}
}

func (s *Servers) untrack(c *tapConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if len(s.conns) == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

// Shutdown closes the listeners, ends every open session (recorded with
// EndShutdown) and waits until each is recorded, or until ctx ends.
func (s *Servers) Shutdown(ctx context.Context) error {
	var errs []error
	s.shutdown.Do(func() {
		s.mu.Lock()
		s.closing = true
		idle := make(chan struct{})
		if len(s.conns) == 0 {
			close(idle)
		} else {
			s.idle = idle
		}
		conns := make([]*tapConn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			c.rec.end(EndShutdown, nil)
		}
		for _, closeFn := range s.closers {
			if err := closeFn(); err != nil && !errors.Is(err, net.ErrClosed) &&
				!errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, pop3.ErrServerClosed) {
				errs = append(errs, err)
			}
		}
		for _, c := range conns {
			c.shutdown()
		}
		served := make(chan struct{})
		go func() { s.serving.Wait(); close(served) }()
		for _, ch := range []chan struct{}{idle, served} {
			select {
			case <-ch:
			case <-ctx.Done():
				errs = append(errs, fmt.Errorf("fakemail: shutdown: %w", ctx.Err()))
				return
			case <-time.After(10 * time.Second):
				errs = append(errs, errors.New("fakemail: shutdown: sessions still open after 10s"))
				return
			}
		}
	})
	return errors.Join(errs...)
}
