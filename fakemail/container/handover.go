package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/purpleharness/purpleharness/fakemail"
)

// Listener handover: with Options.Listen set, the container has no network
// of its own (NetworkMode "none"). Start opens every service's listener
// with Listen — in the caller's network namespace — and hands the sockets
// to serve-mail over a Unix socket in the shared directory (SCM_RIGHTS).
// A socket belongs to the namespace it was created in for its whole life,
// so the containerised servers accept connections in the caller's
// namespace, as if the container had joined it, without any capability.

const listenersSock = "listeners.sock"

// handoverHeader names the services of the descriptors sent with it, in
// order.
type handoverHeader struct {
	Services []fakemail.Service `json:"services"`
}

// offer is the host side of a handover: listeners waiting to be taken.
type offer struct {
	files []*os.File
	ul    *net.UnixListener
	done  chan error
	addrs map[fakemail.Service]string
}

// offerListeners opens the listeners (on host, canonical ports unless
// ports says otherwise) and offers them, once, on a Unix socket at path.
func offerListeners(ctx context.Context, listen func(context.Context, string, string) (net.Listener, error), host string, ports map[fakemail.Service]int, path string) (_ *offer, err error) {
	o := &offer{addrs: map[fakemail.Service]string{}, done: make(chan error, 1)}
	defer func() {
		if err != nil {
			o.close()
		}
	}()
	if host == "" {
		host = fakemail.DefaultHost
	}
	var hdr handoverHeader
	for _, svc := range fakemail.Services {
		port := svc.Port()
		if p, ok := ports[svc]; ok {
			port = p
		}
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		l, err := listen(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("fakemail: listen %s on %s: %w", svc, addr, err)
		}
		tl, ok := l.(*net.TCPListener)
		if !ok {
			l.Close()
			return nil, fmt.Errorf("container: listener for %s is %T, not TCP", svc, l)
		}
		f, err := tl.File()
		tl.Close() // f holds a duplicate of the socket
		if err != nil {
			return nil, fmt.Errorf("container: %w", err)
		}
		o.files = append(o.files, f)
		hdr.Services = append(hdr.Services, svc)
		o.addrs[svc] = l.Addr().String()
	}
	if o.ul, err = net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"}); err != nil {
		return nil, fmt.Errorf("container: %w", err)
	}
	payload, _ := json.Marshal(hdr)
	fds := make([]int, len(o.files))
	for i, f := range o.files {
		fds[i] = int(f.Fd())
	}
	go func() {
		c, err := o.ul.AcceptUnix()
		if err != nil {
			o.done <- err
			return
		}
		defer c.Close()
		_, _, err = c.WriteMsgUnix(payload, syscall.UnixRights(fds...), nil)
		o.done <- err
	}()
	return o, nil
}

// close drops this side's copies of the sockets and stops offering them.
func (o *offer) close() {
	if o.ul != nil {
		o.ul.Close()
		<-o.done
		o.ul = nil
	}
	for _, f := range o.files {
		f.Close()
	}
	o.files = nil
}

// ReceiveListeners is serve-mail's side of the handover: it connects to
// the Unix socket at path and returns the listeners it is given, by
// service.
func ReceiveListeners(path string) (map[fakemail.Service]net.Listener, error) {
	var c *net.UnixConn
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err = net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("receive listeners: %w", err)
	}
	defer c.Close()
	buf := make([]byte, 4096)
	oob := make([]byte, syscall.CmsgSpace(4*len(fakemail.Services)))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("receive listeners: %w", err)
	}
	var hdr handoverHeader
	if err := json.Unmarshal(buf[:n], &hdr); err != nil {
		return nil, fmt.Errorf("receive listeners: %w", err)
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("receive listeners: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		r, err := syscall.ParseUnixRights(&m)
		if err == nil {
			fds = append(fds, r...)
		}
	}
	if len(fds) != len(hdr.Services) {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		return nil, fmt.Errorf("receive listeners: %d descriptors for %d services", len(fds), len(hdr.Services))
	}
	out := map[fakemail.Service]net.Listener{}
	var errs []error
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), string(hdr.Services[i]))
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[hdr.Services[i]] = l
	}
	if err := errors.Join(errs...); err != nil {
		for _, l := range out {
			l.Close()
		}
		return nil, fmt.Errorf("receive listeners: %w", err)
	}
	return out, nil
}

// ListenHandedOver configures cfg to serve the listeners received with
// ReceiveListeners: each service's port is its listener's, and Listen
// returns the listener for that port.
func ListenHandedOver(cfg *fakemail.Config, ls map[fakemail.Service]net.Listener) {
	byPort := map[string]net.Listener{}
	cfg.Ports = map[fakemail.Service]int{}
	cfg.Services = nil
	for _, svc := range fakemail.Services {
		l, ok := ls[svc]
		if !ok {
			continue
		}
		_, port, _ := net.SplitHostPort(l.Addr().String())
		p, _ := strconv.Atoi(port)
		cfg.Ports[svc] = p
		cfg.Services = append(cfg.Services, svc)
		byPort[port] = l
		host, _, _ := net.SplitHostPort(l.Addr().String())
		cfg.Host = host
	}
	cfg.Listen = func(_ context.Context, _, addr string) (net.Listener, error) {
		_, port, _ := net.SplitHostPort(addr)
		if l, ok := byPort[port]; ok {
			return l, nil
		}
		return nil, fmt.Errorf("no listener handed over for %s", addr)
	}
}
