package harness

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/purpleharness/purpleharness/rules"
)

// TestCheckFieldsOfTheTemplate: under the endpoint profile a rule that
// names a field Elastic Defend's templates do not define is refused at the
// field's position, with the nearest real field; ?optional fields, objects
// and other profiles (whose lists are not complete) are not.
func TestCheckFieldsOfTheTemplate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.eql")
	src := "sequence by process.entity_id\n  [network where destination.prot == 25 and ?foo.bar == 1]\n  [process where process.name.keyword == \"nc\" and process.parent.name != null]\n"
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	err = Check(Config{Rules: rs, Profile: "endpoint"})
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("Check = %v, want input problems", err)
	}
	want := []string{
		p + ":2:18: field destination.prot is not defined by " + DefendSource + ", so no event can carry it (did you mean destination.port?)",
		p + ":3:18: field process.name.keyword is not defined by " + DefendSource + ", so no event can carry it (did you mean process.name?)",
	}
	if len(ie.Problems) != len(want) {
		t.Fatalf("Check problems = %q, want %q", ie.Problems, want)
	}
	for i := range want {
		if ie.Problems[i] != want[i] {
			t.Errorf("problem %d = %q, want %q", i, ie.Problems[i], want[i])
		}
	}
	for _, prof := range []string{"auditbeat", "sysmon-linux"} {
		if err := Check(Config{Rules: rs, Profile: prof}); err != nil {
			t.Errorf("profile %s: Check = %v; no complete field list, so nothing to refuse", prof, err)
		}
	}
}

// TestShippedRulesUseDefendFields: the repository's rules name only
// fields Elastic Defend's templates define.
func TestShippedRulesUseDefendFields(t *testing.T) {
	rs, err := rules.LoadDir("../rules")
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(Config{Rules: rs, Profile: "endpoint"}); err != nil {
		t.Errorf("Check(shipped rules, endpoint) = %v", err)
	}
}
