package fakemail

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// imapDelim is the hierarchy delimiter of mailbox names (RFC 3501 5.1.1).
const imapDelim = '/'

// imapSession is one IMAP connection's view of the Store. imapserver owns
// the wire; this type owns nothing but the selection. Mailbox changes made
// by anyone (SMTP delivery, POP3 DELE, another IMAP session) reach the
// session through the mailbox's imapserver.MailboxTracker, so sequence
// numbers stay consistent per RFC 3501 section 7.4.1.
type imapSession struct {
	store    *Store
	logger   *log.Logger
	account  *account
	selected *mailbox
	readOnly bool
	tracker  *imapserver.SessionTracker
}

var (
	_ imapserver.Session            = (*imapSession)(nil)
	_ imapserver.SessionAppendLimit = (*imapSession)(nil)
	_ imapserver.SessionMove        = (*imapSession)(nil)
	_ imapserver.SessionNamespace   = (*imapSession)(nil)
)

// internalError is the reply for a handler panic: the client gets a
// protocol error, the operator a log line, the server keeps running.
var internalError = &imap.Error{Type: imap.StatusResponseTypeNo,
	Code: imap.ResponseCodeServerBug, Text: "internal server error"}

// overQuota is the reply when Limits.MaxStoreBytes is reached (RFC 9208
// section 4.3 OVERQUOTA).
var overQuota = &imap.Error{Type: imap.StatusResponseTypeNo, Code: "OVERQUOTA",
	Text: "mail store full"}

// guard turns a panic in a handler into internalError and a log line.
func (s *imapSession) guard(err *error) {
	if v := recover(); v != nil {
		s.logger.Printf("fakemail: imap: panic in handler: %v\n%s", v, debug.Stack())
		*err = internalError
	}
}

func (s *imapSession) Close() error {
	s.unselect()
	return nil
}

func (s *imapSession) AppendLimit() uint32 {
	if s.store.maxMessage > int64(^uint32(0)) {
		return ^uint32(0)
	}
	return uint32(s.store.maxMessage)
}

func (s *imapSession) Login(username, password string) (err error) {
	defer s.guard(&err)
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	a, err := s.store.authLocked(username, password)
	if err != nil {
		return imapserver.ErrAuthFailed
	}
	s.account = a
	return nil
}

func noMailbox(name string) error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent,
		Text: fmt.Sprintf("no such mailbox %q", name)}
}

func (s *imapSession) mailboxLocked(name string) (*mailbox, error) {
	mb, err := s.account.mailbox(name)
	if err != nil {
		return nil, noMailbox(name)
	}
	return mb, nil
}

var (
	systemFlags    = []imap.Flag{imap.FlagAnswered, imap.FlagDeleted, imap.FlagDraft, imap.FlagFlagged, imap.FlagSeen}
	permanentFlags = append(append([]imap.Flag{}, systemFlags...), imap.FlagWildcard)
)

func (s *imapSession) Select(name string, options *imap.SelectOptions) (_ *imap.SelectData, err error) {
	defer s.guard(&err)
	s.unselect()
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	mb, err := s.mailboxLocked(name)
	if err != nil {
		return nil, err
	}
	s.selected = mb
	s.readOnly = options != nil && options.ReadOnly
	s.tracker = mb.tracker.NewSession()
	data := &imap.SelectData{
		Flags:          systemFlags,
		PermanentFlags: permanentFlags,
		NumMessages:    uint32(len(mb.msgs)),
		UIDNext:        mb.uidNext,
		UIDValidity:    s.store.uidValidity,
	}
	for i, m := range mb.msgs {
		if _, seen := m.flags[imap.FlagSeen]; !seen {
			data.FirstUnseenSeqNum = uint32(i + 1)
			break
		}
	}
	return data, nil
}

func (s *imapSession) unselect() {
	if s.tracker != nil {
		s.tracker.Close()
	}
	s.tracker, s.selected, s.readOnly = nil, nil, false
}

func (s *imapSession) Unselect() error {
	s.unselect()
	return nil
}

// maxMailboxes bounds the mailboxes of one account, INBOX included.
const maxMailboxes = 1000

func (s *imapSession) Create(name string, _ *imap.CreateOptions) (err error) {
	defer s.guard(&err)
	name = strings.TrimSuffix(name, string(imapDelim))
	if name == "" || strings.ContainsAny(name, "*%\r\n") {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Text: "invalid mailbox name"}
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	if _, err := s.account.mailbox(name); err == nil {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlreadyExists,
			Text: "mailbox already exists"}
	}
	// An empty mailbox costs memory but no store bytes, so MaxStoreBytes
	// does not bound a client looping on CREATE: this does (RFC 5530 LIMIT).
	if len(s.account.mailboxes) >= maxMailboxes {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit,
			Text: fmt.Sprintf("at most %d mailboxes per account", maxMailboxes)}
	}
	s.account.mailboxes[canonicalMailbox(name)] = newMailbox(canonicalMailbox(name), &s.store.used)
	return nil
}

func (s *imapSession) Delete(name string) (err error) {
	defer s.guard(&err)
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	mb, err := s.mailboxLocked(name)
	if err != nil {
		return err
	}
	if mb.name == Inbox { // RFC 3501 6.3.4
		return &imap.Error{Type: imap.StatusResponseTypeNo, Text: "INBOX cannot be deleted"}
	}
	delete(s.account.mailboxes, mb.name)
	// Its messages no longer count against Limits.MaxStoreBytes. A session
	// that still has it selected keeps a detached copy: expunging there
	// must not subtract them a second time.
	for _, m := range mb.msgs {
		*mb.used -= int64(len(m.body))
	}
	mb.used = new(int64)
	return nil
}

func (s *imapSession) Rename(name, newName string, _ *imap.RenameOptions) (err error) {
	defer s.guard(&err)
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	mb, err := s.mailboxLocked(name)
	if err != nil {
		return err
	}
	if mb.name == Inbox {
		// RFC 3501 6.3.5 makes renaming INBOX move its messages; the fake
		// server keeps INBOX fixed because SMTP and POP3 depend on it.
		return &imap.Error{Type: imap.StatusResponseTypeNo, Text: "INBOX cannot be renamed here"}
	}
	if _, err := s.account.mailbox(newName); err == nil || newName == "" {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlreadyExists,
			Text: "target mailbox exists or is invalid"}
	}
	delete(s.account.mailboxes, mb.name)
	mb.name = canonicalMailbox(newName)
	s.account.mailboxes[mb.name] = mb
	return nil
}

func (s *imapSession) setSubscribed(name string, sub bool) (err error) {
	defer s.guard(&err)
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	mb, err := s.mailboxLocked(name)
	if err != nil {
		return err
	}
	mb.subscribed = sub
	return nil
}

func (s *imapSession) Subscribe(name string) error   { return s.setSubscribed(name, true) }
func (s *imapSession) Unsubscribe(name string) error { return s.setSubscribed(name, false) }

func (s *imapSession) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) (err error) {
	defer s.guard(&err)
	if len(patterns) == 1 && patterns[0] == "" {
		// RFC 3501 6.3.8: an empty pattern asks for the delimiter.
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: imapDelim})
	}
	s.store.mu.Lock()
	var out []*imap.ListData
	for _, mb := range s.account.mailboxes {
		if options != nil && options.SelectSubscribed && !mb.subscribed {
			continue
		}
		for _, p := range patterns {
			if imapserver.MatchList(mb.name, imapDelim, ref, p) {
				d := &imap.ListData{Delim: imapDelim, Mailbox: mb.name}
				if mb.subscribed && options != nil && options.ReturnSubscribed {
					d.Attrs = append(d.Attrs, imap.MailboxAttrSubscribed)
				}
				out = append(out, d)
				break
			}
		}
	}
	s.store.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Mailbox < out[j].Mailbox })
	for _, d := range out {
		if err := w.WriteList(d); err != nil {
			return err
		}
	}
	return nil
}

func (s *imapSession) Status(name string, options *imap.StatusOptions) (_ *imap.StatusData, err error) {
	defer s.guard(&err)
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	mb, err := s.mailboxLocked(name)
	if err != nil {
		return nil, err
	}
	data := &imap.StatusData{Mailbox: mb.name}
	n := uint32(len(mb.msgs))
	var unseen, deleted uint32
	var size int64
	for _, m := range mb.msgs {
		if _, ok := m.flags[imap.FlagSeen]; !ok {
			unseen++
		}
		if _, ok := m.flags[imap.FlagDeleted]; ok {
			deleted++
		}
		size += int64(len(m.body))
	}
	if options.NumMessages {
		data.NumMessages = &n
	}
	if options.UIDNext {
		data.UIDNext = mb.uidNext
	}
	if options.UIDValidity {
		data.UIDValidity = s.store.uidValidity
	}
	if options.NumUnseen {
		data.NumUnseen = &unseen
	}
	if options.NumDeleted {
		data.NumDeleted = &deleted
	}
	if options.Size {
		data.Size = &size
	}
	return data, nil
}

func (s *imapSession) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (_ *imap.AppendData, err error) {
	defer s.guard(&err)
	if r.Size() > s.store.maxMessage {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig,
			Text: "message too big"}
	}
	body, err := io.ReadAll(io.LimitReader(r, s.store.maxMessage+1))
	if err != nil {
		return nil, err
	}
	date := time.Now()
	if options != nil && !options.Time.IsZero() {
		date = options.Time
	}
	var flags []imap.Flag
	if options != nil {
		flags = options.Flags
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	mb, err := s.mailboxLocked(name)
	if err != nil {
		// RFC 3501 6.3.11: TRYCREATE tells the client to CREATE first.
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate,
			Text: fmt.Sprintf("no such mailbox %q", name)}
	}
	if !s.store.roomLocked(len(body)) {
		return nil, overQuota
	}
	m := mb.add(body, date, flags)
	return &imap.AppendData{UID: m.uid, UIDValidity: s.store.uidValidity}, nil
}

func (s *imapSession) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if s.tracker == nil {
		return nil
	}
	return s.tracker.Poll(w, allowExpunge)
}

func (s *imapSession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if s.tracker == nil {
		<-stop
		return nil
	}
	// imapserver reports pending changes only after a command, and the
	// tracker's own Idle wakes only for changes queued once it listens: a
	// change queued before that (mail delivered between the last command
	// and IDLE, or between a poll and the listening) would go unannounced
	// until the next one. RFC 2177 IDLE is how a client waits for exactly
	// that mail, so the session listens on the mailbox first, then sends
	// what is pending, and polls again on every wake-up.
	changed, cancel := s.selected.changed.watch()
	defer cancel()
	for {
		if err := s.tracker.Poll(w, true); err != nil {
			return err
		}
		select {
		case <-changed:
		case <-stop:
			return nil
		}
	}
}

func (s *imapSession) Expunge(_ *imapserver.ExpungeWriter, uids *imap.UIDSet) (err error) {
	defer s.guard(&err)
	if s.readOnly {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: "READ-ONLY", Text: "mailbox is read-only"}
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	// The tracker queues the EXPUNGE responses for every session, this one
	// included; imapserver polls right after the command and sends them.
	s.selected.expunge(func(m *storedMessage) bool {
		_, del := m.flags[imap.FlagDeleted]
		return del && (uids == nil || uids.Contains(m.uid))
	}, nil, nil)
	return nil
}

// visible is a message as this session numbers it.
type visible struct {
	seq uint32 // the client's sequence number
	msg *storedMessage
}

// visibleLocked lists the selected mailbox's messages the client knows
// about, with the client's sequence numbers, in order.
func (s *imapSession) visibleLocked() []visible {
	out := make([]visible, 0, len(s.selected.msgs))
	for i, m := range s.selected.msgs {
		if seq := s.tracker.EncodeSeqNum(uint32(i + 1)); seq != 0 {
			out = append(out, visible{seq, m})
		}
	}
	return out
}

// matchNumSet selects the visible messages in set.
func matchNumSet(vis []visible, set imap.NumSet) []visible {
	var maxSeq uint32
	var maxUID imap.UID
	if len(vis) > 0 {
		maxSeq, maxUID = vis[len(vis)-1].seq, vis[len(vis)-1].msg.uid
	}
	var out []visible
	for _, v := range vis {
		if inNumSet(set, v.seq, v.msg.uid, maxSeq, maxUID) {
			out = append(out, v)
		}
	}
	return out
}

// inNumSet reports whether the message numbered seq with uid is in set,
// reading "*" as the largest number in use (RFC 3501 6.4.8, 9 seq-number).
func inNumSet(set imap.NumSet, seq uint32, uid imap.UID, maxSeq uint32, maxUID imap.UID) bool {
	switch set := set.(type) {
	case imap.SeqSet:
		for _, r := range set {
			lo, hi := orMax(r.Start, maxSeq), orMax(r.Stop, maxSeq)
			if lo > hi {
				lo, hi = hi, lo
			}
			if seq >= lo && seq <= hi {
				return true
			}
		}
	case imap.UIDSet:
		for _, r := range set {
			lo, hi := orMax(r.Start, maxUID), orMax(r.Stop, maxUID)
			if lo > hi {
				lo, hi = hi, lo
			}
			if uid >= lo && uid <= hi {
				return true
			}
		}
	}
	return false
}

func orMax[T ~uint32](n, max T) T {
	if n == 0 {
		return max
	}
	return n
}

// snapshot is what Fetch writes, copied under the store lock so the network
// writes happen without it.
type snapshot struct {
	seq   uint32
	uid   imap.UID
	date  time.Time
	flags []imap.Flag
	body  []byte
}

func (s *imapSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) (err error) {
	defer s.guard(&err)
	markSeen := false
	for _, bs := range options.BodySection {
		markSeen = markSeen || !bs.Peek
	}
	for _, bs := range options.BinarySection {
		markSeen = markSeen || !bs.Peek
	}
	markSeen = markSeen && !s.readOnly

	s.store.mu.Lock()
	var snaps []snapshot
	for _, v := range matchNumSet(s.visibleLocked(), numSet) {
		if markSeen { // RFC 3501 6.4.5: BODY[] sets \Seen
			if _, seen := v.msg.flags[imap.FlagSeen]; !seen {
				v.msg.flags[imap.FlagSeen] = struct{}{}
				s.queueFlagsLocked(v.msg)
			}
		}
		snaps = append(snaps, snapshot{v.seq, v.msg.uid, v.msg.date, v.msg.flagList(), v.msg.body})
	}
	s.store.mu.Unlock()

	for _, m := range snaps {
		if err := writeFetch(w.CreateMessage(m.seq), m, options); err != nil {
			return err
		}
	}
	return nil
}

// queueFlagsLocked tells the other sessions a message's flags changed.
func (s *imapSession) queueFlagsLocked(m *storedMessage) {
	for i, x := range s.selected.msgs {
		if x == m {
			s.selected.tracker.QueueMessageFlags(uint32(i+1), m.uid, m.flagList(), s.tracker)
			s.selected.changed.notify()
			return
		}
	}
}

func writeFetch(rw *imapserver.FetchResponseWriter, m snapshot, options *imap.FetchOptions) error {
	if options.UID {
		rw.WriteUID(m.uid)
	}
	if options.Flags {
		rw.WriteFlags(m.flags)
	}
	if options.InternalDate {
		rw.WriteInternalDate(m.date)
	}
	if options.RFC822Size {
		rw.WriteRFC822Size(int64(len(m.body)))
	}
	if options.Envelope {
		h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(m.body)))
		rw.WriteEnvelope(imapserver.ExtractEnvelope(h))
	}
	if options.BodyStructure != nil {
		rw.WriteBodyStructure(imapserver.ExtractBodyStructure(bytes.NewReader(m.body)))
	}
	for _, bs := range options.BodySection {
		data := imapserver.ExtractBodySection(bytes.NewReader(m.body), bs)
		wc := rw.WriteBodySection(bs, int64(len(data)))
		if _, err := wc.Write(data); err != nil {
			return err
		}
		if err := wc.Close(); err != nil {
			return err
		}
	}
	for _, bs := range options.BinarySection {
		data := imapserver.ExtractBinarySection(bytes.NewReader(m.body), bs)
		wc := rw.WriteBinarySection(bs, int64(len(data)))
		if _, err := wc.Write(data); err != nil {
			return err
		}
		if err := wc.Close(); err != nil {
			return err
		}
	}
	for _, bss := range options.BinarySectionSize {
		rw.WriteBinarySectionSize(bss, imapserver.ExtractBinarySectionSize(bytes.NewReader(m.body), bss))
	}
	return rw.Close()
}

func (s *imapSession) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, _ *imap.StoreOptions) (err error) {
	defer s.guard(&err)
	if s.readOnly {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: "READ-ONLY", Text: "mailbox is read-only"}
	}
	_, byUID := numSet.(imap.UIDSet)
	s.store.mu.Lock()
	var snaps []snapshot
	for _, v := range matchNumSet(s.visibleLocked(), numSet) {
		switch flags.Op {
		case imap.StoreFlagsSet:
			v.msg.flags = make(map[imap.Flag]struct{})
			fallthrough
		case imap.StoreFlagsAdd:
			for _, f := range flags.Flags {
				v.msg.flags[canonicalFlag(f)] = struct{}{}
			}
		case imap.StoreFlagsDel:
			for _, f := range flags.Flags {
				delete(v.msg.flags, canonicalFlag(f))
			}
		}
		s.queueFlagsLocked(v.msg)
		snaps = append(snaps, snapshot{seq: v.seq, uid: v.msg.uid, flags: v.msg.flagList()})
	}
	s.store.mu.Unlock()
	if flags.Silent {
		return nil
	}
	for _, m := range snaps {
		rw := w.CreateMessage(m.seq)
		if byUID {
			rw.WriteUID(m.uid)
		}
		rw.WriteFlags(m.flags)
		if err := rw.Close(); err != nil {
			return err
		}
	}
	return nil
}

func (s *imapSession) Copy(numSet imap.NumSet, dest string) (_ *imap.CopyData, err error) {
	defer s.guard(&err)
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	to, err := s.account.mailbox(dest)
	if err != nil {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate,
			Text: fmt.Sprintf("no such mailbox %q", dest)}
	}
	data := &imap.CopyData{UIDValidity: s.store.uidValidity}
	sel := matchNumSet(s.visibleLocked(), numSet)
	size := 0
	for _, v := range sel {
		size += len(v.msg.body)
	}
	if !s.store.roomLocked(size) {
		return nil, overQuota
	}
	for _, v := range sel {
		c := to.add(v.msg.body, v.msg.date, v.msg.flagList())
		data.SourceUIDs.AddNum(v.msg.uid)
		data.DestUIDs.AddNum(c.uid)
	}
	return data, nil
}

// Namespace reports one personal namespace (RFC 2342).
func (s *imapSession) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Delim: imapDelim}}}, nil
}

// Move is COPY then EXPUNGE of the sources, atomically under the store
// lock (RFC 6851). The EXPUNGE responses reach this session through the
// tracker, which imapserver polls before the tagged OK.
func (s *imapSession) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) (err error) {
	defer s.guard(&err)
	if s.readOnly {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: "READ-ONLY", Text: "mailbox is read-only"}
	}
	s.store.mu.Lock()
	to, err := s.account.mailbox(dest)
	if err != nil {
		s.store.mu.Unlock()
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate,
			Text: fmt.Sprintf("no such mailbox %q", dest)}
	}
	if to == s.selected {
		s.store.mu.Unlock()
		return &imap.Error{Type: imap.StatusResponseTypeNo, Text: "cannot move into the same mailbox"}
	}
	data := &imap.CopyData{UIDValidity: s.store.uidValidity}
	moved := map[*storedMessage]bool{}
	for _, v := range matchNumSet(s.visibleLocked(), numSet) {
		c := to.add(v.msg.body, v.msg.date, v.msg.flagList())
		data.SourceUIDs.AddNum(v.msg.uid)
		data.DestUIDs.AddNum(c.uid)
		moved[v.msg] = true
	}
	s.selected.expunge(func(m *storedMessage) bool { return moved[m] }, nil, nil)
	s.store.mu.Unlock()
	return w.WriteCopyData(data)
}

func (s *imapSession) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (_ *imap.SearchData, err error) {
	defer s.guard(&err)
	s.store.mu.Lock()
	vis := s.visibleLocked()
	s.store.mu.Unlock()
	var maxSeq uint32
	var maxUID imap.UID
	if len(vis) > 0 {
		maxSeq, maxUID = vis[len(vis)-1].seq, vis[len(vis)-1].msg.uid
	}
	data := &imap.SearchData{}
	byUID := kind == imapserver.NumKindUID
	var seqs imap.SeqSet
	var uids imap.UIDSet
	for _, v := range vis {
		s.store.mu.Lock()
		flags := v.msg.flagList()
		s.store.mu.Unlock()
		c := searchCandidate{seq: v.seq, uid: v.msg.uid, date: v.msg.date, flags: flags,
			body: v.msg.body, maxSeq: maxSeq, maxUID: maxUID}
		if !c.match(criteria) {
			continue
		}
		n := v.seq
		if byUID {
			n = uint32(v.msg.uid)
		}
		if data.Min == 0 || n < data.Min {
			data.Min = n
		}
		if n > data.Max {
			data.Max = n
		}
		data.Count++
		seqs.AddNum(v.seq)
		uids.AddNum(v.msg.uid)
	}
	if byUID {
		data.All = uids
	} else {
		data.All = seqs
	}
	return data, nil
}

// searchCandidate evaluates RFC 3501 6.4.4 SEARCH keys against one message.
type searchCandidate struct {
	seq    uint32
	uid    imap.UID
	date   time.Time
	flags  []imap.Flag
	body   []byte
	maxSeq uint32
	maxUID imap.UID

	header textproto.Header
	parsed bool
	text   []byte // body after the header
}

func (c *searchCandidate) parse() {
	if c.parsed {
		return
	}
	c.parsed = true
	br := bufio.NewReader(bytes.NewReader(c.body))
	c.header, _ = textproto.ReadHeader(br)
	c.text, _ = io.ReadAll(br)
}

func dateOnly(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func containsFold(haystack []byte, needle string) bool {
	return bytes.Contains(bytes.ToLower(haystack), bytes.ToLower([]byte(needle)))
}

func (c *searchCandidate) hasFlag(f imap.Flag) bool {
	f = canonicalFlag(f)
	for _, x := range c.flags {
		if x == f {
			return true
		}
	}
	return false
}

func (c *searchCandidate) match(k *imap.SearchCriteria) bool {
	for _, set := range k.SeqNum {
		if !inNumSet(set, c.seq, c.uid, c.maxSeq, c.maxUID) {
			return false
		}
	}
	for _, set := range k.UID {
		if !inNumSet(set, c.seq, c.uid, c.maxSeq, c.maxUID) {
			return false
		}
	}
	if !k.Since.IsZero() && dateOnly(c.date).Before(dateOnly(k.Since)) {
		return false
	}
	if !k.Before.IsZero() && !dateOnly(c.date).Before(dateOnly(k.Before)) {
		return false
	}
	if !k.SentSince.IsZero() || !k.SentBefore.IsZero() {
		c.parse()
		mh := mail.Header{Header: gomessage.Header{Header: c.header}}
		sent, err := mh.Date()
		if err != nil {
			return false
		}
		if !k.SentSince.IsZero() && dateOnly(sent).Before(dateOnly(k.SentSince)) {
			return false
		}
		if !k.SentBefore.IsZero() && !dateOnly(sent).Before(dateOnly(k.SentBefore)) {
			return false
		}
	}
	for _, h := range k.Header {
		c.parse()
		found := false
		for _, v := range c.header.Values(h.Key) {
			if h.Value == "" || containsFold([]byte(v), h.Value) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for _, b := range k.Body {
		c.parse()
		if !containsFold(c.text, b) {
			return false
		}
	}
	for _, t := range k.Text {
		if !containsFold(c.body, t) {
			return false
		}
	}
	for _, f := range k.Flag {
		if !c.hasFlag(f) {
			return false
		}
	}
	for _, f := range k.NotFlag {
		if c.hasFlag(f) {
			return false
		}
	}
	if k.Larger > 0 && int64(len(c.body)) <= k.Larger {
		return false
	}
	if k.Smaller > 0 && int64(len(c.body)) >= k.Smaller {
		return false
	}
	for i := range k.Not {
		if c.match(&k.Not[i]) {
			return false
		}
	}
	for i := range k.Or {
		if !c.match(&k.Or[i][0]) && !c.match(&k.Or[i][1]) {
			return false
		}
	}
	return true
}
