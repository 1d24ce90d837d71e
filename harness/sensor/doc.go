// Package sensor records what the kernel saw while an atomic ran: process
// starts (execve) and connection attempts (connect to AF_INET/AF_INET6), as
// typed ecs observations that package ecs renders into Elastic Defend,
// Auditbeat or Sysmon-for-Linux documents.
//
// It captures on the Linux audit subsystem through
// github.com/elastic/go-libaudit/v2: kernel rules tagged with the
// key "purpleharness" plus a per-instance key, added through a control
// socket while events are read on a second socket — unicast as the audit
// daemon when none runs, the multicast group when auditd (or another
// sensor) holds the unicast stream. Records are grouped by serial, parsed
// (record.go, the raw→observation step) and attributed to process instances
// (tracker.go). Every capture reports its losses: the kernel's lost counter
// and gaps in the audit serials.
//
// Start removes rules left by sensors that died (kill -9) and Close removes
// the sensor's own rules and restores the enabled flag and backlog limit
// once no other sensor runs; see rules.go for how concurrent sensors agree
// on the original state without a shared file.
//
// It also holds what every sensor shares: the Observation type, and the
// decision of a process's entry leader (entry.go), which the eBPF sensor
// (package ebpf) applies.
package sensor
