package sensor

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
)

func TestJoin(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	dst := netip.MustParseAddrPort("127.0.0.1:110")
	conn := func(serial uint64, ms int, dest netip.AddrPort, result string) *ecs.Connect {
		return &ecs.Connect{Serial: serial, Time: at(ms), Dest: dest, Result: result}
	}
	peer := func(ms int, local netip.AddrPort, srcPort uint16) Peer {
		return acceptedConn{at(ms), local, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), srcPort)}
	}
	cases := []struct {
		name      string
		conns     []*ecs.Connect
		peers     []Peer
		want      map[uint64]uint16 // serial -> joined source port
		unmatched int
	}{
		{
			name:  "one attempt, one accept",
			conns: []*ecs.Connect{conn(1, 0, dst, "EINPROGRESS")},
			peers: []Peer{peer(2, dst, 40000)},
			want:  map[uint64]uint16{1: 40000},
		},
		{
			name:  "accept stamped before the coarse audit clock",
			conns: []*ecs.Connect{conn(1, 5, dst, "")},
			peers: []Peer{peer(1, dst, 40000)},
			want:  map[uint64]uint16{1: 40000},
		},
		{
			name:  "FIFO for concurrent clients",
			conns: []*ecs.Connect{conn(2, 1, dst, "EINPROGRESS"), conn(1, 0, dst, "EINPROGRESS")},
			peers: []Peer{peer(4, dst, 40001), peer(3, dst, 40000)},
			want:  map[uint64]uint16{1: 40000, 2: 40001},
		},
		{
			name:      "refused attempt is not joined",
			conns:     []*ecs.Connect{conn(1, 0, dst, "ECONNREFUSED")},
			peers:     []Peer{peer(2, dst, 40000)},
			want:      map[uint64]uint16{},
			unmatched: 1,
		},
		{
			name:      "other port",
			conns:     []*ecs.Connect{conn(1, 0, netip.MustParseAddrPort("127.0.0.1:143"), "EINPROGRESS")},
			peers:     []Peer{peer(2, dst, 40000)},
			want:      map[uint64]uint16{},
			unmatched: 1,
		},
		{
			name:      "attempt after the accept",
			conns:     []*ecs.Connect{conn(1, 500, dst, "EINPROGRESS")},
			peers:     []Peer{peer(2, dst, 40000)},
			want:      map[uint64]uint16{},
			unmatched: 1,
		},
		{
			name:  "IPv4-mapped listener address",
			conns: []*ecs.Connect{conn(1, 0, dst, "EINPROGRESS")},
			peers: []Peer{peer(2, netip.MustParseAddrPort("[::ffff:127.0.0.1]:110"), 40000)},
			want:  map[uint64]uint16{1: 40000},
		},
		{
			name:  "unaccepted attempt long before",
			conns: []*ecs.Connect{conn(1, -60000, dst, "EINPROGRESS"), conn(2, 0, dst, "EINPROGRESS")},
			peers: []Peer{peer(1, dst, 40000)},
			want:  map[uint64]uint16{2: 40000},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			un := Join(tc.conns, tc.peers)
			if len(un) != tc.unmatched {
				t.Errorf("Join: %d unmatched peers, want %d", len(un), tc.unmatched)
			}
			for _, c := range tc.conns {
				port, joined := tc.want[c.Serial]
				if c.Established != joined {
					t.Errorf("serial %d: established = %v, want %v", c.Serial, c.Established, joined)
				}
				if joined && (c.Source.Port() != port || c.Transport != ecs.TCP) {
					t.Errorf("serial %d: source %s transport %q, want port %d tcp", c.Serial, c.Source, c.Transport, port)
				}
				if !joined && c.Source.IsValid() {
					t.Errorf("serial %d: source %s set without a join", c.Serial, c.Source)
				}
			}
		})
	}
}

// ExampleJoin marks connection attempts the fake servers accepted.
func ExampleJoin() {
	t0 := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	attempt := &ecs.Connect{Serial: 7, Time: t0, Dest: netip.MustParseAddrPort("127.0.0.1:110"), Result: "EINPROGRESS"}
	accepted := acceptedConn{t0.Add(time.Millisecond), netip.MustParseAddrPort("127.0.0.1:110"), netip.MustParseAddrPort("127.0.0.1:51514")}
	unmatched := Join([]*ecs.Connect{attempt}, []Peer{accepted})
	fmt.Println(attempt.Established, attempt.Source, len(unmatched))
	// Output: true 127.0.0.1:51514 0
}
