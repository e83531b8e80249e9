package durable

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type rec struct {
	ID string `json:"id"`
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func open(t *testing.T, dir string) *Journal[rec] {
	t.Helper()
	j, err := OpenJournal[rec](dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func ids(es []Entry[rec]) string {
	var s []string
	for _, e := range es {
		s = append(s, e.Record.ID)
	}
	return strings.Join(s, ",")
}

func TestJournalSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir)
	first, err := j.Append(ctx(t), rec{"a"}, rec{"b"}, rec{"c"})
	if err != nil || first != 1 {
		t.Fatalf("Append = %d, %v; want 1", first, err)
	}
	if err := j.Ack(2); err != nil {
		t.Fatal(err)
	}
	j.Close()

	j = open(t, dir)
	if got := ids(j.Pending(10)); got != "c" {
		t.Fatalf("pending after restart %q, want c", got)
	}
	next, err := j.Append(ctx(t), rec{"d"})
	if err != nil || next != 4 {
		t.Fatalf("Append after restart = %d, %v; want 4", next, err)
	}
	if err := j.Ack(99); err == nil {
		t.Fatal("acknowledging past the last record was accepted")
	}
}

func TestJournalConcurrentAppends(t *testing.T) {
	j := open(t, t.TempDir())
	const writers, each = 40, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := j.Append(ctx(t), rec{ID: string(rune('A'+w%26)) + string(rune('a'+i%26))}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	pending := j.Pending(writers * each)
	if len(pending) != writers*each {
		t.Fatalf("%d pending, want %d", len(pending), writers*each)
	}
	for i, e := range pending {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has sequence %d: not contiguous", i, e.Seq)
		}
	}
}

func TestJournalTornTailIsDropped(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir)
	if _, err := j.Append(ctx(t), rec{"a"}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	f, err := os.OpenFile(filepath.Join(dir, journalFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":2,"record":{"id":"tor`) // a crash mid-append
	f.Close()

	j = open(t, dir)
	if got := ids(j.Pending(10)); got != "a" {
		t.Fatalf("pending %q, want only a", got)
	}
	if seq, err := j.Append(ctx(t), rec{"b"}); err != nil || seq != 2 {
		t.Fatalf("Append after a torn tail = %d, %v", seq, err)
	}
	j.Close()
	j = open(t, dir)
	if got := ids(j.Pending(10)); got != "a,b" {
		t.Fatalf("pending %q, want a,b", got)
	}
}

func TestJournalDamageIsAnError(t *testing.T) {
	for name, content := range map[string]string{
		"garbage line in the middle": "{\"seq\":1,\"record\":{\"id\":\"a\"}}\nnot json\n{\"seq\":3,\"record\":{\"id\":\"c\"}}\n",
		"sequence going back":        "{\"seq\":2,\"record\":{\"id\":\"a\"}}\n{\"seq\":1,\"record\":{\"id\":\"b\"}}\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, journalFile), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := OpenJournal[rec](dir); err == nil {
				t.Fatal("a damaged journal opened without error")
			}
		})
	}
}

func TestJournalCompaction(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir)
	big := rec{ID: strings.Repeat("x", 4096)}
	var last uint64
	for range 300 { // > compactAt
		seq, err := j.Append(ctx(t), big)
		if err != nil {
			t.Fatal(err)
		}
		last = seq
	}
	if err := j.Ack(last); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, journalFile)); err != nil || fi.Size() != 0 {
		t.Fatalf("journal not emptied after a full acknowledgement: %v %v", fi.Size(), err)
	}
	j.Close()
	j = open(t, dir)
	if j.Len() != 0 {
		t.Fatalf("%d pending after compaction and restart", j.Len())
	}
	if seq, err := j.Append(ctx(t), rec{"after"}); err != nil || seq != last+1 {
		t.Fatalf("sequence after compaction = %d, %v; want %d", seq, err, last+1)
	}
}

func TestJournalClosed(t *testing.T) {
	j := open(t, t.TempDir())
	j.Close()
	if _, err := j.Append(ctx(t), rec{"a"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}
}

func TestWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	for _, content := range []string{"one", "two"} {
		if err := WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

// FuzzOpenJournal: whatever is on disk, opening either fails or yields
// pending records in strictly increasing sequence; never a panic.
func FuzzOpenJournal(f *testing.F) {
	f.Add([]byte("{\"seq\":1,\"record\":{\"id\":\"a\"}}\n{\"seq\":2,\"record\":{\"id\":\"b\"}}\n"), "0")
	f.Add([]byte("{\"seq\":1,\"record\":{\"id\":\"a\"}}\n{\"seq\":2"), "1")
	f.Add([]byte("\n\n"), "x")
	f.Fuzz(func(t *testing.T, journal []byte, acked string) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, journalFile), journal, 0o600)
		os.WriteFile(filepath.Join(dir, ackedFile), []byte(acked), 0o600)
		j, err := OpenJournal[rec](dir)
		if err != nil {
			return
		}
		defer j.Close()
		var prev uint64
		for _, e := range j.Pending(1 << 20) {
			if e.Seq <= prev || e.Seq <= j.acked {
				t.Fatalf("pending sequence %d after %d (acked %d)", e.Seq, prev, j.acked)
			}
			prev = e.Seq
		}
	})
}
