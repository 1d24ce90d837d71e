package ecs

import (
	"crypto/sha1" //nolint:gosec // Community ID v1 is defined over SHA-1.
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// EndpointEntityID is Elastic Defend's process.entity_id on Linux: the
// standard base64 of "<agent.id>-<pid>-<start>", start being the process
// start time in whole Unix seconds. Real documents decode that way (e.g.
// "...-e229a6f15dff-141190-1717941121" for pid 141190 started at
// 2024-06-09T13:52:01.51Z), so the id is stable for a process instance,
// changes with the pid or the start time, and is opaque to rules. An unknown
// start (zero) renders as 0: stable, but not proof against pid reuse.
func EndpointEntityID(agentID string, p *Process) string {
	var start int64
	if !p.Start.IsZero() {
		start = p.Start.Unix()
	}
	raw := agentID + "-" + strconv.Itoa(p.PID) + "-" + strconv.FormatInt(start, 10)
	return base64.StdEncoding.EncodeToString([]byte(raw))
}

// SysmonProcessGUID is a ProcessGuid shaped like Sysmon for Linux's:
// "{d65774de-8d1e-6175-xxxx-xxxxxxxxxxxx}", where the first group is the
// start of the machine id and the next two hold the low and high 16 bits of
// the process start time in Unix seconds (0x61758d1e in that example). Sysmon
// fills the last 8 bytes from kernel process state we cannot see; we fill
// them from a hash of the pid and the start time in nanoseconds, which keeps
// the GUID unique per process instance.
func SysmonProcessGUID(machineID string, p *Process) string {
	prefix := strings.ToLower(strings.ReplaceAll(machineID, "-", ""))
	for len(prefix) < 8 {
		prefix += "0"
	}
	prefix = prefix[:8]
	var sec uint32
	var nsec int64
	if !p.Start.IsZero() {
		sec = uint32(p.Start.Unix())
		nsec = p.Start.UnixNano()
	}
	var key [16]byte
	binary.BigEndian.PutUint64(key[:8], uint64(p.PID))
	binary.BigEndian.PutUint64(key[8:], uint64(nsec))
	h := sha256.Sum256(key[:])
	return fmt.Sprintf("{%s-%04x-%04x-%x-%x}", prefix, sec&0xffff, sec>>16, h[:2], h[2:8])
}

// endpointEventID is an event.id shaped like Defend's (24 base64
// characters, e.g. "MYfZG5h8j1qej16H+++++CFe"), derived from the host, the
// audit serial and the event kind so that re-rendering is idempotent.
func endpointEventID(hostID string, serial uint64, k Kind) string {
	h := sha256.New()
	h.Write([]byte(hostID))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], serial)
	h.Write(b[:])
	h.Write([]byte(k))
	return base64.StdEncoding.EncodeToString(h.Sum(nil)[:18])
}

// CommunityID computes the Community ID flow hash, version 1, seed 0
// (https://github.com/corelight/community-id-spec), as Elasticsearch's
// community_id ingest processor does for the Sysmon integration. It returns
// "" for a transport it has no IANA number for.
func CommunityID(src, dst netip.AddrPort, transport Transport) string {
	var proto byte
	switch transport {
	case TCP:
		proto = 6
	case UDP:
		proto = 17
	default:
		return ""
	}
	sa, da := src.Addr().Unmap(), dst.Addr().Unmap()
	if sa.Is4() != da.Is4() {
		return ""
	}
	sp, dp := src.Port(), dst.Port()
	// Order the endpoints so both directions of a flow hash alike: the
	// smaller address first, ports breaking ties.
	if c := sa.Compare(da); c > 0 || (c == 0 && sp > dp) {
		sa, da, sp, dp = da, sa, dp, sp
	}
	h := sha1.New()       //nolint:gosec
	h.Write([]byte{0, 0}) // seed
	h.Write(sa.AsSlice())
	h.Write(da.AsSlice())
	h.Write([]byte{proto, 0})
	var ports [4]byte
	binary.BigEndian.PutUint16(ports[:2], sp)
	binary.BigEndian.PutUint16(ports[2:], dp)
	h.Write(ports[:])
	return "1:" + base64.StdEncoding.EncodeToString(h.Sum(nil))
}
