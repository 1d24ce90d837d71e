package rules_test

import (
	"fmt"

	"github.com/purpleharness/purpleharness/rules"
)

// Load a detection-rules TOML file and map a query position (as an EQL
// error reports it) back to the rule file.
func ExampleLoad() {
	rs, err := rules.Load("t1071_003_mail_c2_published.toml")
	if err != nil {
		fmt.Println(err)
		return
	}
	r := rs[0]
	fmt.Println(r.Name, r.Severity, r.RiskScore, r.Index, r.TechniqueIDs())
	// Query line 2, column 18 is event.type in
	//   [network where event.type == "connection_attempted" and
	fmt.Println(r.Position(2, 18))
	// Output:
	// Potential Command and Control via Mail Protocols high 73 [logs-endpoint.events.*] [T1071 T1071.003]
	// t1071_003_mail_c2_published.toml:40:18
}
