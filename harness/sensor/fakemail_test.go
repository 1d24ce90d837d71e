package sensor

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/netip"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/fakemail"
)

// sessionPeer adapts a fake mail server session to Peer, as the harness
// does: the session's start is the accept, its local end the listener.
type sessionPeer struct{ s fakemail.Session }

func (p sessionPeer) AcceptTime() time.Time { return p.s.Start }
func (p sessionPeer) LocalAddr() netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(p.s.Local.IP), uint16(p.s.Local.Port))
}
func (p sessionPeer) RemoteAddr() netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(p.s.Remote.IP), uint16(p.s.Remote.Port))
}

// TestJoinFakemail joins real clients' connection attempts (curl's
// non-blocking connect to POP3, nc's to IMAP) with the sessions our fake
// mail servers recorded: each becomes established with the source port the
// server saw.
func TestJoinFakemail(t *testing.T) {
	curl, nc := lookPath(t, "curl"), lookPath(t, "nc")
	s := startSensor(t, Config{})
	cfg := fakemail.DefaultConfig()
	cfg.Services = []fakemail.Service{fakemail.POP3, fakemail.IMAP}
	cfg.Ports = fakemail.EphemeralPorts()
	cfg.ErrorLog = log.New(io.Discard, "", 0) // nc hangs up abruptly: expected
	srv, err := fakemail.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("fakemail: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	pop3 := netip.MustParseAddrPort(srv.Addr(fakemail.POP3))
	imap := netip.MustParseAddrPort(srv.Addr(fakemail.IMAP))
	u := fakemail.DefaultUser()
	curlPID := run(t, curl, "-s", "--max-time", "3", fmt.Sprintf("pop3://%s:%s@%s/", u.Login, u.Password, pop3))
	ncPID := run(t, nc, "-z", "-w", "2", imap.Addr().String(), fmt.Sprint(imap.Port()))
	syncSensor(t, s)

	// Sessions are recorded when they end; wait for both.
	var peers []Peer
	deadline := time.Now().Add(5 * time.Second)
	for len(peers) < 2 && time.Now().Before(deadline) {
		peers = peers[:0]
		for _, sess := range srv.Evidence() {
			peers = append(peers, sessionPeer{sess})
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(peers) != 2 {
		t.Fatalf("servers recorded %d sessions, want 2", len(peers))
	}
	obs := s.Observations()
	conns := append(connectsTo(obs, curlPID, pop3.Port()), connectsTo(obs, ncPID, imap.Port())...)
	if len(conns) != 2 {
		t.Fatalf("%d connection attempts captured, want curl's and nc's:\n%s", len(conns), dump(obs))
	}
	if un := Join(conns, peers); len(un) != 0 {
		t.Errorf("%d sessions not joined to an attempt", len(un))
	}
	for _, c := range conns {
		var want netip.AddrPort
		for _, p := range peers {
			if p.LocalAddr() == c.Dest {
				want = p.RemoteAddr()
			}
		}
		if !c.Established || c.Source != want || c.Transport != ecs.TCP {
			t.Errorf("%s -> %s: established=%v source=%s transport=%q, want true %s tcp", c.Process.Name(), c.Dest, c.Established, c.Source, c.Transport, want)
		}
	}
}
