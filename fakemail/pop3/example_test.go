package pop3_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/purpleharness/purpleharness/fakemail/pop3"
)

// oneUser is the smallest useful Backend: one account, one message,
// nothing ever deleted.
type oneUser struct{ user, pass, message string }

func (b oneUser) Login(_ context.Context, user, pass string) (pop3.Mailbox, error) {
	if user != b.user || pass != b.pass {
		return nil, pop3.ErrAuthFailed
	}
	return b, nil
}

func (b oneUser) Messages() ([]pop3.MessageInfo, error) {
	return []pop3.MessageInfo{{UID: "tasking-1", Size: int64(len(b.message))}}, nil
}

func (b oneUser) Open(string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(b.message)), nil
}

func (b oneUser) Delete([]string) error { return nil }
func (b oneUser) Close() error          { return nil }

// A server on a loopback port, serving one mailbox to a client that logs in
// with AUTH PLAIN and reads the tasking message.
func ExampleServer() {
	srv := &pop3.Server{
		Backend: oneUser{"c2", "atomic-red", "Subject: tasking\r\n\r\nwhoami\r\n"},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	go srv.Serve(l)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()

	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	// "AGMyAGF0b21pYy1yZWQ=" is base64("\x00c2\x00atomic-red") (RFC 4616).
	fmt.Fprint(conn, "AUTH PLAIN AGMyAGF0b21pYy1yZWQ=\r\nRETR 1\r\nQUIT\r\n")
	r := bufio.NewScanner(conn)
	for r.Scan() {
		fmt.Println(r.Text())
	}
	// Output:
	// +OK localhost POP3 server ready
	// +OK c2's maildrop has 1 message (28 octets)
	// +OK 28 octets
	// Subject: tasking
	//
	// whoami
	// .
	// +OK bye (1 message left)
}
