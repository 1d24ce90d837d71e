package javaregex_test

import (
	"fmt"

	"github.com/purpleharness/purpleharness/eql/javaregex"
)

func ExampleCompile() {
	re, _ := javaregex.Compile(`a.c`, true)
	fmt.Println(re.MatchString("ABC"), re.MatchString("a\nc"))

	_, err := javaregex.Compile(`^a`, false)
	fmt.Println(err)
	// Output:
	// true false
	// java.util.regex anchor '^' at 0 is not supported by the embedded engine
}
