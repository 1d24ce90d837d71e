// Package fakemail runs the fake mail servers the atomics talk to: SMTP
// (RFC 5321, with STARTTLS per RFC 3207 and AUTH per RFC 4954) through
// github.com/emersion/go-smtp, IMAP (RFC 3501) through
// github.com/emersion/go-imap/v2's imapserver, and POP3 (RFC 1939) through
// package fakemail/pop3. All three serve one [Store], so a message sent over
// SMTP to a user appears in that user's POP3 and IMAP mailboxes, as it would
// for a real C2 loop over mail (MITRE ATT&CK T1071.003).
//
// The servers' side of the story is evidence: every accepted TCP connection
// becomes a [Session] record, built from a tap on the connection (see
// tap.go), not from log calls in the handlers. The tap sees plaintext even
// under TLS because it terminates TLS itself and re-encrypts towards the
// protocol library over an in-memory pipe; see [Servers] for the handle.
//
// Servers bind 127.0.0.1 on the canonical ports unless configured otherwise.
package fakemail
