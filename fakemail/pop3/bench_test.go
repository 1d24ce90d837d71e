package pop3

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// staticBackend serves one read-only maildrop to any number of concurrent
// sessions: the benchmark measures the server, not a store's locking.
type staticBackend struct{}

func (staticBackend) Login(_ context.Context, user, pass string) (Mailbox, error) {
	if user != "c2" || pass != "atomic-red" {
		return nil, ErrAuthFailed
	}
	return staticMailbox{}, nil
}

type staticMailbox struct{}

func (staticMailbox) Messages() ([]MessageInfo, error) {
	return []MessageInfo{{UID: "uid-tasking-1", Size: int64(len(tasking))}}, nil
}
func (staticMailbox) Open(string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(tasking)), nil
}
func (staticMailbox) Delete([]string) error { return nil }
func (staticMailbox) Close() error          { return nil }

// benchDialer skips TCP keep-alive, as the server's listener does: sessions
// last milliseconds.
var benchDialer = net.Dialer{KeepAlive: -1}

// benchSession runs connect, USER, PASS, RETR 1, QUIT, one round trip per
// command as a mail client does, and waits for the server to close.
func benchSession(addr string, tlsConfig *tls.Config) error {
	var (
		conn net.Conn
		err  error
	)
	if tlsConfig != nil {
		conn, err = tls.DialWithDialer(&benchDialer, "tcp", addr, tlsConfig)
	} else {
		conn, err = benchDialer.Dial("tcp", addr)
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 1024)
	expect := func(prefix string) error {
		l, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(l, prefix) {
			return fmt.Errorf("got %q, %v; want %s", l, err, prefix)
		}
		return nil
	}
	if err := expect("+OK"); err != nil {
		return err
	}
	for _, cmd := range []string{"USER c2\r\n", "PASS atomic-red\r\n", "RETR 1\r\n"} {
		if _, err := io.WriteString(conn, cmd); err != nil {
			return err
		}
		if err := expect("+OK"); err != nil {
			return err
		}
	}
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("RETR body: %w", err)
		}
		if l == ".\r\n" {
			break
		}
	}
	if _, err := io.WriteString(conn, "QUIT\r\n"); err != nil {
		return err
	}
	if err := expect("+OK"); err != nil {
		return err
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return fmt.Errorf("after QUIT: %v, want EOF", err)
	}
	return nil
}

// BenchmarkSession measures full POP3 sessions per second on loopback,
// client and server in this process:
//
//	go test -run '^$' -bench BenchmarkSession -benchtime 20000x ./fakemail/pop3/
func BenchmarkSession(b *testing.B) {
	for _, bc := range []struct {
		name string
		tls  bool
	}{{"plain", false}, {"pop3s", true}} {
		b.Run(bc.name, func(b *testing.B) {
			srv := &Server{
				Backend:        staticBackend{},
				TLSConfig:      testTLSConfig(b),
				MaxConnections: 10000,
				ErrorLog:       log.New(io.Discard, "", 0),
			}
			l, err := listen("127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { srv.Close() })
			var clientTLS *tls.Config
			if bc.tls {
				clientTLS = &tls.Config{InsecureSkipVerify: true}
				go srv.ServeTLS(l)
			} else {
				go srv.Serve(l)
			}
			addr := l.Addr().String()
			b.ReportAllocs()
			// Sessions are latency-bound (five round trips each), so run
			// more clients than CPUs to keep the server busy.
			b.SetParallelism(4)
			cpu0 := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := benchSession(addr, clientTLS); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
			// On a shared machine wall-clock throughput depends on the
			// neighbours; CPU time per session (client and server, user
			// and system) does not, and bounds what the cores can do.
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/session")
			}
		})
	}
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
