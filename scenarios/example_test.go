package scenarios_test

import (
	"fmt"

	"github.com/purpleharness/purpleharness/scenarios"
)

func ExampleParse() {
	suite, err := scenarios.Parse("demo.yaml", []byte(`
technique: T1071.003
scenarios:
  - name: single-poll
    command: [curl, -s, "pop3://127.0.0.1:110/"]
    tags: [benign]
    expect: {"*": silent}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	sc := suite.Scenarios[0]
	e, _ := sc.ExpectationFor("t1071_003_mail_c2_tuned")
	fmt.Println(sc.Name, sc.Command, e.Expect)

	_, err = scenarios.Parse("bad.yaml", []byte("scenarios:\n  - name: x\n    command: [true]\n    expect: {rule: fire}\n"))
	fmt.Println(err)
	// Output:
	// single-poll curl -s pop3://127.0.0.1:110/ silent
	// bad.yaml:4:20: expect "fire": want "fires" or "silent"
}
