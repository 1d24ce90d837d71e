package fakemail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/emersion/go-imap/v2"

	"github.com/purpleharness/purpleharness/fakemail/pop3"
)

// pop3Backend serves a user's INBOX to package pop3. It is the same INBOX
// SMTP delivers to and IMAP shows, so a POP3 DELE+QUIT is an IMAP EXPUNGE.
type pop3Backend struct{ store *Store }

var _ pop3.Backend = pop3Backend{}

func (b pop3Backend) Login(_ context.Context, username, password string) (pop3.Mailbox, error) {
	b.store.mu.Lock()
	defer b.store.mu.Unlock()
	a, err := b.store.authLocked(username, password)
	if err != nil {
		return nil, pop3.ErrAuthFailed
	}
	mb := a.mailboxes[Inbox]
	// RFC 1939 section 3 fixes the message numbers at login: snapshot the
	// list now; bodies are immutable so holding the pointers is safe.
	snap := make([]*storedMessage, len(mb.msgs))
	copy(snap, mb.msgs)
	return &pop3Mailbox{store: b.store, account: a, msgs: snap}, nil
}

type pop3Mailbox struct {
	store   *Store
	account *account
	msgs    []*storedMessage
}

func (m *pop3Mailbox) Messages() ([]pop3.MessageInfo, error) {
	out := make([]pop3.MessageInfo, len(m.msgs))
	for i, msg := range m.msgs {
		out[i] = pop3.MessageInfo{UID: m.store.uidString(msg.uid), Size: int64(len(msg.body))}
	}
	return out, nil
}

func (m *pop3Mailbox) find(uid string) (*storedMessage, error) {
	for _, msg := range m.msgs {
		if m.store.uidString(msg.uid) == uid {
			return msg, nil
		}
	}
	return nil, fmt.Errorf("%w: uid %q", ErrNoSuchMessage, uid)
}

func (m *pop3Mailbox) Open(uid string) (io.ReadCloser, error) {
	msg, err := m.find(uid)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(msg.body)), nil
}

func (m *pop3Mailbox) Delete(uids []string) error {
	del := make(map[imap.UID]bool, len(uids))
	var errs []error
	for _, u := range uids {
		msg, err := m.find(u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		del[msg.uid] = true
	}
	m.store.mu.Lock()
	defer m.store.mu.Unlock()
	// A message IMAP expunged meanwhile is simply not found again.
	m.account.mailboxes[Inbox].expunge(func(sm *storedMessage) bool { return del[sm.uid] }, nil, nil)
	return errors.Join(errs...)
}

func (m *pop3Mailbox) Close() error { return nil }
