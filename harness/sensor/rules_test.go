package sensor

import (
	"slices"
	"testing"
)

func TestInstanceKey(t *testing.T) {
	in := instance{PID: 4242, StartTick: 123456, N: 2, Enabled: 0, Backlog: 64}
	k := in.key()
	if k != "purpleharness:4242:123456:2:e0:b64" {
		t.Fatalf("key() = %q", k)
	}
	if got, ok := parseInstanceKey(k); !ok || got != in {
		t.Errorf("parseInstanceKey(%q) = %+v, %v; want %+v", k, got, ok, in)
	}
	for _, bad := range []string{
		"purpleharness", "purpleharness:1:2:3:e0", "other:1:2:3:e0:b64", "purpleharness:x:2:3:e0:b64",
		"purpleharness:1:2:3:0:b64", "purpleharness:0:2:3:e0:b64", "purpleharness:1:2:3:e0:b99999999999",
	} {
		if got, ok := parseInstanceKey(bad); ok {
			t.Errorf("parseInstanceKey(%q) = %+v, want rejected", bad, got)
		}
	}
}

// TestRuleKeysRoundTrip builds every rule in the kernel's wire format and
// reads its keys back the way Start and Close find their own rules.
func TestRuleKeysRoundTrip(t *testing.T) {
	in := instance{PID: 7, StartTick: 99, N: 1, Enabled: 1, Backlog: 8192}
	for _, spec := range ruleSpecs() {
		wf, err := spec.build(Key, in.key())
		if err != nil {
			t.Fatalf("build %q: %v", spec, err)
		}
		if got := ruleKeys(wf); !slices.Equal(got, []string{Key, in.key()}) {
			t.Errorf("ruleKeys(%q) = %q", spec, got)
		}
		if owner, ok := ownedBy(wf); !ok || owner != in {
			t.Errorf("ownedBy(%q) = %+v, %v", spec, owner, ok)
		}
	}
}
