package fakemail

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// Inbox is the mailbox SMTP delivers to and POP3 serves (RFC 3501 section
// 5.1: the name is case-insensitive).
const Inbox = "INBOX"

// Errors the store returns; the protocol front ends map them to replies.
var (
	ErrAuthFailed     = errors.New("fakemail: invalid credentials")
	ErrNoSuchUser     = errors.New("fakemail: no such user")
	ErrNoSuchMailbox  = errors.New("fakemail: no such mailbox")
	ErrMailboxExists  = errors.New("fakemail: mailbox already exists")
	ErrMessageTooBig  = errors.New("fakemail: message too big")
	ErrNoSuchMessage  = errors.New("fakemail: no such message")
	ErrInvalidMailbox = errors.New("fakemail: invalid mailbox name")
	ErrStoreFull      = errors.New("fakemail: store full (Limits.MaxStoreBytes)")
)

// Store is the one mail store behind SMTP, POP3 and IMAP. It is safe for
// concurrent use; every mailbox change is announced to the IMAP sessions
// that have the mailbox selected, so the three protocols always agree.
type Store struct {
	mu       sync.Mutex
	accounts map[string]*account // by login
	byAddr   map[string]*account // by lower-case address
	// uidValidity is shared by all mailboxes of a run: a fresh store is a
	// fresh run, so clients must not reuse cached UIDs (RFC 3501 2.3.1.1).
	uidValidity uint32
	maxMessage  int64
	maxStore    int64
	used        int64 // bytes in all mailboxes, under mu
}

type account struct {
	login, password, address string
	mailboxes                map[string]*mailbox // by canonical name
}

type mailbox struct {
	name       string
	subscribed bool
	uidNext    imap.UID
	msgs       []*storedMessage
	tracker    *imapserver.MailboxTracker
	changed    notifier // wakes IMAP sessions in IDLE after a tracker update
	used       *int64   // the store's byte count
}

// notifier wakes the IMAP sessions idling on a mailbox. A session
// registers before it polls the tracker, so an update queued at any moment
// is either in that poll or wakes it afterwards: none waits for the next
// change, as one queued between a poll and the tracker's own Idle would.
type notifier struct {
	mu    sync.Mutex
	chans map[chan struct{}]struct{}
}

// watch returns a channel that receives after each notify, and its
// cancellation.
func (n *notifier) watch() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	if n.chans == nil {
		n.chans = map[chan struct{}]struct{}{}
	}
	n.chans[ch] = struct{}{}
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		delete(n.chans, ch)
		n.mu.Unlock()
	}
}

func (n *notifier) notify() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.chans {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

type storedMessage struct {
	uid   imap.UID
	date  time.Time
	body  []byte // as received, CRLF line endings
	flags map[imap.Flag]struct{}
}

// NewStore returns a store holding cfg's users and their seed messages.
func NewStore(cfg Config) (*Store, error) {
	s := &Store{
		accounts:    make(map[string]*account),
		byAddr:      make(map[string]*account),
		uidValidity: uint32(time.Now().Unix()),
		maxMessage:  cfg.Limits.withDefaults().MaxMessageBytes,
		maxStore:    cfg.Limits.withDefaults().MaxStoreBytes,
	}
	for _, u := range cfg.Users {
		if u.Login == "" {
			return nil, fmt.Errorf("fakemail: user with an empty login")
		}
		if _, dup := s.accounts[u.Login]; dup {
			return nil, fmt.Errorf("fakemail: duplicate user %q", u.Login)
		}
		a := &account{login: u.Login, password: u.Password, address: u.Address,
			mailboxes: make(map[string]*mailbox)}
		a.mailboxes[Inbox] = newMailbox(Inbox, &s.used)
		s.accounts[u.Login] = a
		for _, addr := range append([]string{u.Address}, u.Aliases...) {
			if addr != "" {
				s.byAddr[strings.ToLower(addr)] = a
			}
		}
		for _, m := range u.Messages {
			name := m.Mailbox
			if name == "" {
				name = Inbox
			}
			mb, err := a.mailbox(name)
			if errors.Is(err, ErrNoSuchMailbox) {
				mb = newMailbox(canonicalMailbox(name), &s.used)
				a.mailboxes[mb.name] = mb
			}
			mb.add(m.bytes(u), time.Now(), nil)
		}
	}
	return s, nil
}

func newMailbox(name string, used *int64) *mailbox {
	return &mailbox{name: name, uidNext: 1, subscribed: true, used: used,
		tracker: imapserver.NewMailboxTracker(0)}
}

// roomLocked reports whether n more bytes fit in Limits.MaxStoreBytes.
func (s *Store) roomLocked(n int) bool { return s.used+int64(n) <= s.maxStore }

// canonicalMailbox folds "inbox" in any case to INBOX (RFC 3501 5.1).
func canonicalMailbox(name string) string {
	if strings.EqualFold(name, Inbox) {
		return Inbox
	}
	return name
}

func (a *account) mailbox(name string) (*mailbox, error) {
	mb, ok := a.mailboxes[canonicalMailbox(name)]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchMailbox, name)
	}
	return mb, nil
}

// add appends a message and tells the selected IMAP sessions. The store
// lock is held.
func (mb *mailbox) add(body []byte, date time.Time, flags []imap.Flag) *storedMessage {
	m := &storedMessage{uid: mb.uidNext, date: date, body: body, flags: make(map[imap.Flag]struct{})}
	for _, f := range flags {
		m.flags[canonicalFlag(f)] = struct{}{}
	}
	mb.uidNext++
	mb.msgs = append(mb.msgs, m)
	*mb.used += int64(len(body))
	mb.tracker.QueueNumMessages(uint32(len(mb.msgs)))
	mb.changed.notify()
	return m
}

// expunge removes the messages for which del is true, announcing each
// removal with its sequence number at the time (RFC 3501 7.4.1: highest
// first keeps the numbers of the others valid). It returns the sequence
// numbers in the order announced.
func (mb *mailbox) expunge(del func(*storedMessage) bool, w *imapserver.ExpungeWriter, source *imapserver.SessionTracker) []uint32 {
	var seqs []uint32
	for i := len(mb.msgs) - 1; i >= 0; i-- {
		if !del(mb.msgs[i]) {
			continue
		}
		seq := uint32(i + 1)
		*mb.used -= int64(len(mb.msgs[i].body))
		mb.msgs = append(mb.msgs[:i], mb.msgs[i+1:]...)
		seqs = append(seqs, seq)
		mb.tracker.QueueExpunge(seq)
		mb.changed.notify()
	}
	return seqs
}

func canonicalFlag(f imap.Flag) imap.Flag {
	if strings.HasPrefix(string(f), `\`) {
		// System flags are case-insensitive (RFC 3501 2.3.2).
		for _, sys := range []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged,
			imap.FlagDeleted, imap.FlagDraft} {
			if strings.EqualFold(string(f), string(sys)) {
				return sys
			}
		}
	}
	return f
}

func (m *storedMessage) flagList() []imap.Flag {
	l := make([]imap.Flag, 0, len(m.flags))
	for f := range m.flags {
		l = append(l, f)
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l
}

// Authenticate checks a login and password.
func (s *Store) Authenticate(login, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.authLocked(login, password)
	return err
}

func (s *Store) authLocked(login, password string) (*account, error) {
	a, ok := s.accounts[login]
	if !ok {
		// Also accept the address as login, as many clients send it.
		a, ok = s.byAddr[strings.ToLower(login)]
	}
	if !ok || a.password != password {
		return nil, ErrAuthFailed
	}
	return a, nil
}

// HasRecipient reports whether addr is a configured address.
func (s *Store) HasRecipient(addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.byAddr[strings.ToLower(addr)]
	return ok
}

// Deliver stores body in the INBOX of the user owning address rcpt. Bare LF
// line endings are converted to CRLF, the form POP3 and IMAP count sizes in.
func (s *Store) Deliver(rcpt string, body []byte) (imap.UID, error) {
	if int64(len(body)) > s.maxMessage {
		return 0, ErrMessageTooBig
	}
	body = toCRLF(body)
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.byAddr[strings.ToLower(rcpt)]
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrNoSuchUser, rcpt)
	}
	if !s.roomLocked(len(body)) {
		return 0, ErrStoreFull
	}
	m := a.mailboxes[Inbox].add(body, time.Now(), nil)
	return m.uid, nil
}

// Message is a stored message as the harness sees it.
type Message struct {
	Mailbox string
	UID     uint32
	Date    time.Time
	Flags   []string
	Body    []byte
}

// Messages returns a copy of the messages in a user's mailbox.
func (s *Store) Messages(login, mailboxName string) ([]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[login]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchUser, login)
	}
	mb, err := a.mailbox(mailboxName)
	if err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(mb.msgs))
	for _, m := range mb.msgs {
		var flags []string
		for _, f := range m.flagList() {
			flags = append(flags, string(f))
		}
		out = append(out, Message{Mailbox: mb.name, UID: uint32(m.uid), Date: m.date,
			Flags: flags, Body: bytes.Clone(m.body)})
	}
	return out, nil
}

// toCRLF converts bare LF to CRLF.
func toCRLF(b []byte) []byte {
	n := bytes.Count(b, []byte("\n")) - bytes.Count(b, []byte("\r\n"))
	if n <= 0 {
		return b
	}
	out := make([]byte, 0, len(b)+n)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// uidString renders a UID for POP3's UIDL (RFC 1939 section 7: printable,
// stable across sessions). The UID validity is part of it so a new run's
// messages never collide with a previous run's in a client's cache.
func (s *Store) uidString(uid imap.UID) string {
	return strconv.FormatUint(uint64(s.uidValidity), 10) + "." + strconv.FormatUint(uint64(uid), 10)
}
