package sensor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"
	"golang.org/x/sys/unix"
)

// reader is the netlink socket events arrive on. go-libaudit's client does
// not expose its descriptor, and the reading socket needs two things it
// cannot set: a large kernel receive buffer (multicast delivery is best
// effort: a full buffer drops records, reported as ENOBUFS) and a receive
// timeout so the read loop notices Close. It implements go-libaudit's
// NetlinkSendReceiver so libaudit.AuditClient can register it as the audit
// daemon (SetPID binds the kernel's unicast stream to the sending socket).
type reader struct {
	fd  int
	pid uint32 // netlink port id
	seq atomic.Uint32
	buf []byte
}

const readerBufBytes = 64 << 20 // SO_RCVBUFFORCE: survive bursts while user space catches up

func newReader(multicast bool) (*reader, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return nil, err
	}
	var groups uint32
	if multicast {
		groups = 1 // AUDIT_NLGRP_READLOG
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind audit netlink socket: %w", err)
	}
	// Best effort: without CAP_NET_ADMIN this falls back to rmem_max.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, readerBufBytes); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, readerBufBytes)
	}
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	nl, ok := sa.(*unix.SockaddrNetlink)
	if !ok {
		unix.Close(fd)
		return nil, errors.New("audit socket: unexpected address type")
	}
	return &reader{fd: fd, pid: nl.Pid, buf: make([]byte, 1<<16)}, nil
}

// Send implements libaudit.NetlinkSender.
func (r *reader) Send(msg syscall.NetlinkMessage) (uint32, error) { return r.send(msg, 0) }

// SendNoWait implements libaudit.NetlinkSender.
func (r *reader) SendNoWait(msg syscall.NetlinkMessage) (uint32, error) {
	return r.send(msg, unix.MSG_DONTWAIT)
}

func (r *reader) send(msg syscall.NetlinkMessage, flags int) (uint32, error) {
	if msg.Header.Pid == 0 {
		msg.Header.Pid = r.pid
	}
	msg.Header.Seq = r.seq.Add(1)
	msg.Header.Len = uint32(unix.NLMSG_HDRLEN + len(msg.Data))
	b := make([]byte, msg.Header.Len)
	binary.NativeEndian.PutUint32(b[0:], msg.Header.Len)
	binary.NativeEndian.PutUint16(b[4:], msg.Header.Type)
	binary.NativeEndian.PutUint16(b[6:], msg.Header.Flags)
	binary.NativeEndian.PutUint32(b[8:], msg.Header.Seq)
	binary.NativeEndian.PutUint32(b[12:], msg.Header.Pid)
	copy(b[unix.NLMSG_HDRLEN:], msg.Data)
	return msg.Header.Seq, unix.Sendto(r.fd, b, flags, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

// Receive implements libaudit.NetlinkReceiver (used for SetPID's ack).
func (r *reader) Receive(nonBlocking bool, p libaudit.NetlinkParser) ([]syscall.NetlinkMessage, error) {
	var flags int
	if nonBlocking {
		flags = unix.MSG_DONTWAIT
	}
	n, from, err := unix.Recvfrom(r.fd, r.buf, flags)
	if err != nil {
		return nil, err
	}
	if nl, ok := from.(*unix.SockaddrNetlink); !ok || nl.Pid != 0 {
		return nil, errors.New("message not from the kernel")
	}
	return p(r.buf[:n])
}

// read returns the next message's type and payload (valid until the next
// read). Audit messages come one per datagram and their header length is
// unreliable, so the payload is the rest of the datagram, trailing NULs cut.
func (r *reader) read() (uint16, []byte, error) {
	n, from, err := unix.Recvfrom(r.fd, r.buf, 0)
	if err != nil {
		return 0, nil, err
	}
	if nl, ok := from.(*unix.SockaddrNetlink); !ok || nl.Pid != 0 {
		return 0, nil, nil // not from the kernel: ignore
	}
	if n < unix.NLMSG_HDRLEN {
		return 0, nil, nil
	}
	typ := binary.NativeEndian.Uint16(r.buf[4:])
	data := r.buf[unix.NLMSG_HDRLEN:n]
	for len(data) > 0 && data[len(data)-1] == 0 {
		data = data[:len(data)-1]
	}
	return typ, data, nil
}

// Close implements io.Closer.
func (r *reader) Close() error { return unix.Close(r.fd) }
