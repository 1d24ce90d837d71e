package harness

import (
	"context"
	"errors"
	"fmt"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/harness/sensor"
	"github.com/purpleharness/purpleharness/harness/sensor/ebpf"
	"github.com/purpleharness/purpleharness/prereq"
)

// KernelSensor is a running kernel sensor: the eBPF sensor or the audit
// sensor. Both hand over the same sensor.Observation values, so what is
// rendered from them does not depend on which one ran.
type KernelSensor interface {
	// Name says which sensor runs: "eBPF" or "kernel audit".
	Name() string
	Sync(ctx context.Context) error
	Drain() []sensor.Observation
	// Lost is every event the capture lost so far.
	Lost() uint64
	// Summary is the one-line account of what was captured and lost.
	Summary() string
	// Notes are facts a report must state: degraded features, what the
	// sensor cannot see, why auto chose it.
	Notes() []string
	Close() error
}

// SensorChoice is --sensor: which kernel sensor to run.
type SensorChoice string

const (
	SensorAuto  SensorChoice = "auto"  // eBPF when it loads, else audit
	SensorEBPF  SensorChoice = "ebpf"  // eBPF or fail
	SensorAudit SensorChoice = "audit" // the audit sensor
)

// ParseSensorChoice reads a --sensor value.
func ParseSensorChoice(s string) (SensorChoice, error) {
	switch c := SensorChoice(s); c {
	case SensorAuto, SensorEBPF, SensorAudit:
		return c, nil
	}
	return "", fmt.Errorf("--sensor %q: want auto, ebpf or audit", s)
}

// auditBlind is what the audit sensor cannot observe, stated in every
// report made from it.
const auditBlind = "the audit sensor does not observe forks without exec, process ends, accepted connections, socket closes, or a connect's local address unless one of our servers accepted it"

// StartKernelSensor starts the sensor choice names. With SensorAuto an
// eBPF sensor that cannot load on this machine (an error with a
// prereq cause) gives way to the audit sensor, and Notes says why.
func StartKernelSensor(ctx context.Context, choice SensorChoice, cfg sensor.Config) (KernelSensor, error) {
	var notes []string
	if choice == SensorAuto || choice == SensorEBPF {
		s, err := ebpf.Start(ctx, ebpf.Config{
			AllProcesses: cfg.AllProcesses, Roots: cfg.Roots,
			KeepInfra: cfg.KeepInfra, InfraPIDs: cfg.InfraPIDs,
			MaxObservations: cfg.MaxObservations,
		})
		if err == nil {
			return ebpfSensor{s}, nil
		}
		if _, env := prereq.As(err); choice == SensorEBPF || !env {
			return nil, err
		}
		notes = append(notes, fmt.Sprintf("eBPF sensor unavailable (%v): the audit sensor runs instead", err))
	}
	if choice != SensorAudit && choice != SensorAuto && choice != SensorEBPF {
		return nil, fmt.Errorf("unknown sensor %q", choice)
	}
	s, err := sensor.Start(ctx, cfg)
	if err != nil {
		if errors.Is(err, sensor.ErrNotRoot) {
			return nil, prereq.New(prereq.Root, err)
		}
		if errors.Is(err, sensor.ErrNoAudit) {
			return nil, prereq.New(prereq.Audit, err)
		}
		return nil, err
	}
	return &auditSensor{s: s, notes: append(notes, auditBlind)}, nil
}

type ebpfSensor struct{ s *ebpf.Sensor }

func (e ebpfSensor) Name() string                   { return "eBPF" }
func (e ebpfSensor) Sync(ctx context.Context) error { return e.s.Sync(ctx) }
func (e ebpfSensor) Drain() []sensor.Observation    { return e.s.Drain() }
func (e ebpfSensor) Lost() uint64                   { return e.s.Stats().Lost() }
func (e ebpfSensor) Summary() string                { return e.s.Stats().String() }
func (e ebpfSensor) Notes() []string                { return nil }

// Unobserved: the eBPF sensor observes all of ecs.Observes.
func (e ebpfSensor) Unobserved() []ecs.Observes { return nil }
func (e ebpfSensor) Close() error               { return e.s.Close() }
func (e ebpfSensor) Track(pid int)              { e.s.Track(pid) }
func (e ebpfSensor) AddInfra(pid int)           { e.s.AddInfra(pid) }

type auditSensor struct {
	s     *sensor.Sensor
	notes []string
}

func (a *auditSensor) Name() string                   { return "kernel audit" }
func (a *auditSensor) Sync(ctx context.Context) error { return a.s.Sync(ctx) }
func (a *auditSensor) Drain() []sensor.Observation    { return a.s.Drain() }
func (a *auditSensor) Lost() uint64                   { return a.s.Stats().Lost() }
func (a *auditSensor) Summary() string                { return a.s.Stats().String() }
func (a *auditSensor) Close() error                   { return a.s.Close() }
func (a *auditSensor) Track(pid int)                  { a.s.Track(pid) }
func (a *auditSensor) AddInfra(pid int)               { a.s.AddInfra(pid) }

// Unobserved is what audit records cannot show (auditBlind), and the
// process leaders the audit tracker does not link.
func (a *auditSensor) Unobserved() []ecs.Observes {
	return []ecs.Observes{ecs.ObservesFork, ecs.ObservesExit, ecs.ObservesAccept, ecs.ObservesClose,
		ecs.ObservesConnectSource, ecs.ObservesLeaders, ecs.ObservesEntryLeader}
}

var (
	_ GapReporter = (*auditSensor)(nil)
	_ GapReporter = ebpfSensor{}
)

func (a *auditSensor) Notes() []string {
	st := a.s.Stats()
	out := append([]string(nil), a.notes...)
	if st.Multicast {
		out = append(out, "read from the audit multicast group")
	}
	return append(out, st.Warnings...)
}
