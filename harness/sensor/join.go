package sensor

import (
	"net/netip"
	"slices"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
)

// Peer is a server's view of one connection it accepted — a fake mail
// server's session. The harness adapts its session type to it.
type Peer interface {
	AcceptTime() time.Time
	LocalAddr() netip.AddrPort  // the server side: the client's destination
	RemoteAddr() netip.AddrPort // the client side: its source address and port
}

// Join windows. Audit stamps events with the kernel's coarse clock (one
// jiffy, up to 10 ms behind) at syscall entry, the server with Go's clock
// after accept returns, so an accept may appear a few ms before its connect.
const (
	joinSlack    = 20 * time.Millisecond
	joinMaxDelay = 10 * time.Second
)

// Join marks the connection attempts the servers saw as established and
// fills in their source address, and returns the peers it matched to no
// attempt (evidence the sensor missed a connection, or one from outside the
// recorded process tree).
//
// A non-blocking connect returns EINPROGRESS whether or not the peer will
// accept, so the kernel record alone cannot say. The rule: peers are taken
// in accept order, and each is matched to the earliest not yet matched
// attempt with the same destination (address and port, IPv4-mapped IPv6
// unmapped) that did not fail outright (result "" or EINPROGRESS), was made
// no later than the accept (allowing joinSlack for clock granularity) and
// no more than joinMaxDelay before it. The kernel's accept queue is FIFO,
// so for concurrent clients to one listener the earliest attempt is the one
// accepted first.
func Join(conns []*ecs.Connect, peers []Peer) (unmatched []Peer) {
	order := slices.Clone(conns)
	slices.SortStableFunc(order, func(a, b *ecs.Connect) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		switch {
		case a.Serial < b.Serial:
			return -1
		case a.Serial > b.Serial:
			return 1
		}
		return 0
	})
	ps := slices.Clone(peers)
	slices.SortStableFunc(ps, func(a, b Peer) int { return a.AcceptTime().Compare(b.AcceptTime()) })
	used := make([]bool, len(order))
	for _, p := range ps {
		local := unmap(p.LocalAddr())
		at := p.AcceptTime()
		match := -1
		for i, c := range order {
			if used[i] || c == nil || unmap(c.Dest) != local {
				continue
			}
			if c.Result != "" && c.Result != "EINPROGRESS" {
				continue
			}
			if c.Time.After(at.Add(joinSlack)) || c.Time.Before(at.Add(-joinMaxDelay)) {
				continue
			}
			match = i
			break
		}
		if match < 0 {
			unmatched = append(unmatched, p)
			continue
		}
		used[match] = true
		c := order[match]
		c.Established = true
		c.Source = unmap(p.RemoteAddr())
		if c.Transport == "" {
			c.Transport = ecs.TCP // our fake servers accept TCP only
		}
	}
	return unmatched
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
