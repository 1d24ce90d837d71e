package ecs

import (
	"fmt"
	"testing"
)

func TestGapMatchesField(t *testing.T) {
	tests := []struct {
		gap, field string
		want       bool
	}{
		{"process.exit_code", "process.exit_code", true},
		{"process.exit_code", "process.exit_code.x", false},
		{"process.hash.*", "process.hash.sha256", true},
		{"process.hash.*", "process.hashes", false},
		{"*.tty.*", "process.entry_leader.tty.char_device.major", true},
		{"*.tty.*", "process.tty", false},
		{"process.group_leader.*", "process.group_leader.entity_id", true},
	}
	for _, tt := range tests {
		if got := (Gap{Field: tt.gap}).MatchesField(tt.field); got != tt.want {
			t.Errorf("Gap{%q}.MatchesField(%q) = %v, want %v", tt.gap, tt.field, got, tt.want)
		}
	}
}

// Every value gap Missing names is a value the profile really renders from
// that observation (and only from it): the gap list and the renderers agree.
func TestMissingMatchesRendered(t *testing.T) {
	from := map[string]Observes{"Fork": ObservesFork, "Exit": ObservesExit, "Accept": ObservesAccept, "Close": ObservesClose}
	for _, p := range Profiles {
		rendered := map[Observes]map[string]bool{}
		r := fixtureRenderer(p)
		for _, f := range fixtures {
			o, ok := from[fmt.Sprintf("%T", f.obs)[4:]]
			if !ok {
				continue
			}
			d, err := r.Render(f.obs)
			if err != nil {
				continue
			}
			if rendered[o] == nil {
				rendered[o] = map[string]bool{}
			}
			for _, path := range []string{"event.action", "event.code", "network.direction"} {
				if v, ok := d.Lookup(path); ok {
					rendered[o][path+"="+fmt.Sprint(v)] = true
				}
			}
		}
		for _, o := range []Observes{ObservesFork, ObservesExit, ObservesAccept, ObservesClose} {
			for _, g := range Missing(p, o) {
				if g.Value == "" || g.Field == "winlog.event_id" {
					continue
				}
				if !rendered[o][g.Field+"="+g.Value] {
					t.Errorf("%s: Missing(%s) names %s, which no %s observation renders (rendered: %v)", p, o, g, o, rendered[o])
				}
			}
		}
	}
}
