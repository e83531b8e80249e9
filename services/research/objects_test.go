package research

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestVerifiedReader: a file that matches its hash is read whole; one that
// does not ends in ErrUnavailable, and the reader never gets all of it.
func TestVerifiedReader(t *testing.T) {
	const hold = 1 << 10
	for _, size := range []int{0, 1, hold - 1, hold, hold + 1, 2*hold + 7, 10 * hold} {
		file := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
		altered := append(bytes.Clone(file), '!')
		read := func(stored []byte) ([]byte, error) {
			r := newVerifiedReader(io.NopCloser(iotest.HalfReader(bytes.NewReader(stored))), sha256Of(file), hold, "file csv")
			var got bytes.Buffer
			_, err := io.CopyBuffer(&got, r, make([]byte, 300)) // smaller reads than hold
			return got.Bytes(), err
		}
		got, err := read(file)
		if err != nil || !bytes.Equal(got, file) {
			t.Errorf("%d bytes: read %d bytes, %v; want the file", size, len(got), err)
		}
		got, err = read(altered)
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, errAltered) {
			t.Errorf("%d bytes altered: %v, want ErrUnavailable", size, err)
		}
		if len(got) > len(altered)-hold && len(got) > 0 {
			t.Errorf("%d bytes altered: %d bytes handed out, want at least the last %d held back", size, len(got), hold)
		}
	}
}

// TestSpoolDiscard: a patient's rows discarded from a spool file leave the
// runs before and after them as they were.
func TestSpoolDiscard(t *testing.T) {
	sp, err := newSpool(t.TempDir(), 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	write := func(rows ...[2]string) *rowSink {
		s := sp.sink(0)
		for _, r := range rows {
			cells := s.next()
			cells[0], cells[1] = r[0], r[1]
			if err := s.put(); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	first := write([2]string{"a", "1"}, [2]string{"b", ""}).run()
	left := write([2]string{"left", "out"})
	if err := left.discard(); err != nil {
		t.Fatal(err)
	}
	second := write([2]string{"=c", "-1.5"}).run()
	if err := sp.flush(); err != nil {
		t.Fatal(err)
	}
	rr := sp.reader()
	for _, tc := range []struct {
		run  run
		want [][2]string
	}{{first, [][2]string{{"a", "1"}, {"b", ""}}}, {second, [][2]string{{"'=c", "-1.5"}}}} {
		rr.open(tc.run)
		var got [][2]string
		for {
			cells, err := rr.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, [2]string{string(cells[0]), string(cells[1])})
		}
		if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) || got[len(got)-1] != tc.want[len(tc.want)-1] {
			t.Errorf("run %+v reads %q, want %q", tc.run, got, tc.want)
		}
	}
	if second.off != first.size {
		t.Errorf("the second run starts at %d, want %d: the discarded rows are still there", second.off, first.size)
	}
}
