package ecs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzReadEvents feeds arbitrary input to ReadEvents (the reader of
// "validate query", recorded scenarios and run directories): it never
// panics, every error is a *ReadError, an NDJSON error's line lies
// inside the input, and the offset ReadEventsAt gives each line's event
// is where its bytes are.
func FuzzReadEvents(f *testing.F) {
	for _, s := range []string{
		`{"a":1}` + "\n" + `{"b":2}`,
		"\n\n  {\"a\": tru}\n",
		`[{"a":1}, {"b":[1,2]}]`,
		`[{"a":1}, 3]`,
		"\uFEFF{\"a\":1}",
		`[`, `]`, `{"a":`, "",
		`{"hits":{"hits":[{"_source":{"a":1}}]}}` + "\n" + `{"hits":{"hits":[]}}`,
		`{"hits":{"hits":[{"_source":3}]}}`, `{"hits":{"hits":[]}} {"a":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		one := func() func([]byte) (Document, error) { return Decode }
		wantDocs, wantErr := collect(ReadEvents("f", bytes.NewReader(data)))
		gotDocs, gotErr := collect(ReadEventsParallel("f", bytes.NewReader(data), one, 3))
		if gotErr != wantErr || !reflect.DeepEqual(gotDocs, wantDocs) {
			t.Fatalf("3 workers: %d documents, %q; one decoder: %d documents, %q", len(gotDocs), gotErr, len(wantDocs), wantErr)
		}
		for _, workers := range []int{1, 3} {
			checkOffsets(t, data, workers)
		}
		n := 0
		for d, err := range ReadEvents("f", bytes.NewReader(data)) {
			if err != nil {
				var ee *ReadError
				if !errors.As(err, &ee) {
					t.Fatalf("error %v is not a *ReadError", err)
				}
				if line, convErr := strconv.Atoi(strings.SplitN(ee.Pos, ":", 2)[0]); convErr == nil {
					if lines := bytes.Count(data, []byte("\n")) + 1; line < 1 || line > lines {
						t.Fatalf("error at line %d of a %d-line input: %v", line, lines, err)
					}
				}
				return
			}
			if d == nil {
				t.Fatal("nil document without an error")
			}
			n++
		}
		if n > len(data) {
			t.Fatalf("%d documents from %d bytes", n, len(data))
		}
	})
}

// collect reads every document and the error that ends the stream.
func collect(seq func(func(Document, error) bool)) ([]Document, string) {
	var docs []Document
	for d, err := range seq {
		if err != nil {
			return docs, err.Error()
		}
		docs = append(docs, d)
	}
	return docs, ""
}

// TestReadEventsParallel: decoding on several workers yields the same
// documents, in order, and the same first error at the same position as
// one decoder, over batches, blank lines and bad lines in a later batch;
// a consumer that stops early stops the workers.
func TestReadEventsParallel(t *testing.T) {
	var in strings.Builder
	for i := range 5000 {
		switch {
		case i%97 == 0:
			in.WriteString("\n")
		case i == 3210:
			in.WriteString(`  {"n": 1, "bad": tru}` + "\n")
		default:
			fmt.Fprintf(&in, `{"n":%d,"s":"x%d"}`+"\n", i, i)
		}
	}
	one := func() func([]byte) (Document, error) { return Decode }
	for _, data := range []string{in.String(), strings.Replace(in.String(), "tru}", "true}", 1)} {
		wantDocs, wantErr := collect(ReadEvents("f", strings.NewReader(data)))
		for _, workers := range []int{2, 3, 8} {
			gotDocs, gotErr := collect(ReadEventsParallel("f", strings.NewReader(data), one, workers))
			if gotErr != wantErr || !reflect.DeepEqual(gotDocs, wantDocs) {
				t.Errorf("%d workers: %d documents, error %q; one decoder: %d documents, error %q", workers, len(gotDocs), gotErr, len(wantDocs), wantErr)
			}
		}
	}
	n := 0
	for range ReadEventsParallel("f", strings.NewReader(in.String()), one, 4) {
		if n++; n == 10 {
			break
		}
	}
}

// TestReadEventsParallelBlocks: lines cut by the reader's blocks, lines
// longer than a block, CRLF endings and reads of any size give what one
// decoder gives; a line over the limit is an error at its line, for both.
func TestReadEventsParallelBlocks(t *testing.T) {
	var in strings.Builder
	for i := range 3000 {
		switch {
		case i%500 == 7:
			fmt.Fprintf(&in, `{"n":%d,"long":"%s"}`+"\r\n", i, strings.Repeat("x", 3*blockSize+i))
		case i%3 == 0:
			fmt.Fprintf(&in, `{"n":%d}`+"\r\n", i)
		default:
			fmt.Fprintf(&in, "  {\"n\":%d,\"s\":\"%s\"}\n\n", i, strings.Repeat("y", i%700))
		}
	}
	data := in.String()
	one := func() func([]byte) (Document, error) { return Decode }
	wantDocs, wantErr := collect(ReadEvents("f", strings.NewReader(data)))
	if wantErr != "" || len(wantDocs) != 3000 {
		t.Fatalf("one decoder: %d documents, error %q", len(wantDocs), wantErr)
	}
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(data),
		"one byte": iotest.OneByteReader(strings.NewReader(data[:200_000])),
		"halves":   iotest.HalfReader(strings.NewReader(data)),
	} {
		want, wantErr := wantDocs, ""
		if name == "one byte" { // a line cut short at the end
			want, wantErr = collect(ReadEvents("f", strings.NewReader(data[:200_000])))
		}
		got, gotErr := collect(ReadEventsParallel("f", r, one, 3))
		if gotErr != wantErr || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %d documents, error %q; want %d, error %q", name, len(got), gotErr, len(want), wantErr)
		}
	}

	long := "{\"a\":1}\n{\"a\":2}\n{\"s\":\"" + strings.Repeat("z", maxEventLine) + "\"}\n"
	const wantLong = "f:3: line longer than 16 MiB"
	if _, err := collect(ReadEvents("f", strings.NewReader(long))); err != wantLong {
		t.Errorf("one decoder: error %q, want %q", err, wantLong)
	}
	if _, err := collect(ReadEventsParallel("f", strings.NewReader(long), one, 2)); err != wantLong {
		t.Errorf("2 workers: error %q, want %q", err, wantLong)
	}
}

// checkOffsets reads data with ReadEventsAt on workers decoders and
// checks that each event given an offset lies at that offset of data.
func checkOffsets(t *testing.T, data []byte, workers int) {
	t.Helper()
	newDecode := func() func([]byte, int64) ([]byte, error) {
		return func(raw []byte, off int64) ([]byte, error) {
			if off >= 0 && (off > int64(len(data)) || !bytes.Equal(data[off:min(off+int64(len(raw)), int64(len(data)))], raw)) {
				return nil, fmt.Errorf("an event of %d bytes is not at offset %d", len(raw), off)
			}
			_, err := Decode(raw)
			return raw, err
		}
	}
	for _, err := range ReadEventsAt("f", bytes.NewReader(data), newDecode, workers) {
		if err != nil && strings.Contains(err.Error(), "is not at offset") {
			t.Fatalf("%d decoders: %v", workers, err)
		}
	}
}

// TestReadEventsAt: every NDJSON event's offset is where its bytes lie in
// the input (after a byte order mark, blank lines, indentation and CRLF
// ends, across blocks and lines longer than a block), with one decoder or
// several; arrays and _search dumps give none.
func TestReadEventsAt(t *testing.T) {
	var in strings.Builder
	in.WriteString("\uFEFF\n \r\n")
	for i := range 2000 {
		switch {
		case i%400 == 3:
			fmt.Fprintf(&in, "\t{\"n\":%d,\"long\":\"%s\"}\r\n", i, strings.Repeat("x", 2*blockSize))
		case i%2 == 0:
			fmt.Fprintf(&in, "{\"n\":%d}\n\n", i)
		default:
			fmt.Fprintf(&in, "   {\"n\":%d,\"s\":\"%s\"}  \r\n", i, strings.Repeat("y", i%300))
		}
	}
	data := []byte(in.String())
	for _, workers := range []int{1, 3} {
		n := 0
		newDecode := func() func([]byte, int64) (int64, error) {
			return func(raw []byte, off int64) (int64, error) { return off, nil }
		}
		for off, err := range ReadEventsAt("f", bytes.NewReader(data), newDecode, workers) {
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf(`{"n":%d`, n)
			if off < 0 || !bytes.HasPrefix(data[off:], []byte(want)) {
				t.Fatalf("%d decoders: event %d at offset %d, which holds %.20q", workers, n, off, data[max(off, 0):])
			}
			n++
		}
		if n != 2000 {
			t.Errorf("%d decoders: %d events, want 2000", workers, n)
		}
		checkOffsets(t, data, workers)
	}
	for _, dump := range []string{`[{"a":1},{"a":2}]`, `{"hits":{"hits":[{"_source":{"a":1}}]}}`} {
		for off, err := range ReadEventsAt("f", strings.NewReader(dump), func() func([]byte, int64) (int64, error) {
			return func(_ []byte, off int64) (int64, error) { return off, nil }
		}, 2) {
			if err != nil || off != -1 {
				t.Errorf("%s: offset %d, error %v; want -1", dump, off, err)
			}
		}
	}
}
