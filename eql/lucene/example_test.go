package lucene_test

import (
	"fmt"

	"github.com/purpleharness/purpleharness/eql/lucene"
)

func ExampleCompile() {
	re := lucene.MustCompile(`[_\-\.]x&~(_x)`, lucene.All)
	fmt.Println(re.MatchString("-x"), re.MatchString(".x"), re.MatchString("_x"), re.MatchString("a-x"))

	_, err := lucene.Compile(`[a-`, lucene.All)
	fmt.Println(err)
	// Output:
	// true true false false
	// unexpected end-of-string
}
