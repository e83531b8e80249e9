package durable

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// ErrClosed is returned by appends to a closed journal.
var ErrClosed = errors.New("durable: journal closed")

// Entry is a journaled record and its sequence number.
type Entry[T any] struct {
	Seq    uint64 `json:"seq"`
	Record T      `json:"record"`
}

// Journal is a write-ahead journal of records of type T in a folder: a file
// of JSON lines and a file holding the highest acknowledged sequence number.
// Records stay pending until acknowledged; pending records survive restarts.
type Journal[T any] struct {
	dir string

	mu      sync.Mutex // guards everything below, and the file
	file    *os.File
	size    int64
	lastSeq uint64
	acked   uint64
	pending []Entry[T]
	closed  bool

	requests chan appendRequest[T]
	done     chan struct{} // closed by Close
	exited   chan struct{} // closed by the writer when it stops
}

type appendRequest[T any] struct {
	records []T
	raw     [][]byte
	ready   chan appendResult
}

type appendResult struct {
	first uint64
	err   error
}

const (
	journalFile = "journal.jsonl"
	ackedFile   = "acked"
	// compactAt is the journal size past which a full acknowledgement
	// truncates it.
	compactAt = 1 << 20
)

// OpenJournal opens (or creates) the journal in dir and loads its pending
// records. A torn last line (a crash during an append, which was never
// reported as done) is dropped; damage anywhere else is an error.
func OpenJournal[T any](dir string) (*Journal[T], error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("durable: %w", err)
	}
	j := &Journal[T]{dir: dir, requests: make(chan appendRequest[T], 256), done: make(chan struct{}), exited: make(chan struct{})}
	raw, err := os.ReadFile(filepath.Join(dir, ackedFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("durable: %w", err)
	default:
		if j.acked, err = strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64); err != nil {
			return nil, fmt.Errorf("durable: %s: %w", ackedFile, err)
		}
	}
	j.lastSeq = j.acked
	f, err := os.OpenFile(filepath.Join(dir, journalFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("durable: %w", err)
	}
	good, err := j.load(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	// Cut a torn tail, so the next append starts on a line of its own.
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("durable: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("durable: %w", err)
	}
	j.file, j.size = f, good
	go j.writer()
	return j, nil
}

// load reads the journal's lines, keeps the records past the acknowledged
// sequence number, and returns the length of the well-formed prefix.
func (j *Journal[T]) load(r io.Reader) (int64, error) {
	var good int64
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return good, nil // a line without its newline is torn: dropped
		}
		if err != nil {
			return 0, fmt.Errorf("durable: read journal: %w", err)
		}
		e, perr := ParseEntry[T](line)
		if perr != nil {
			if _, peekErr := br.Peek(1); errors.Is(peekErr, io.EOF) {
				return good, nil // the last line, torn mid-way
			}
			return 0, fmt.Errorf("durable: journal damaged at byte %d: %w", good, perr)
		}
		if e.Seq <= j.lastSeq && e.Seq > j.acked {
			return 0, fmt.Errorf("durable: journal damaged at byte %d: sequence %d after %d", good, e.Seq, j.lastSeq)
		}
		if e.Seq > j.acked {
			j.pending = append(j.pending, e)
			j.lastSeq = e.Seq
		}
		good += int64(len(line))
	}
}

// ParseEntry decodes one journal line.
func ParseEntry[T any](line []byte) (Entry[T], error) {
	var e Entry[T]
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Entry[T]{}, err
	}
	if dec.More() {
		return Entry[T]{}, errors.New("trailing data after the entry")
	}
	if e.Seq == 0 {
		return Entry[T]{}, errors.New("sequence number 0")
	}
	return e, nil
}

// Append writes records to the journal and returns once they are on disk,
// with the sequence number of the first. Concurrent appends share one fsync.
func (j *Journal[T]) Append(ctx context.Context, records ...T) (uint64, error) {
	if len(records) == 0 {
		return 0, nil
	}
	raw := make([][]byte, len(records))
	for i, r := range records {
		b, err := json.Marshal(r)
		if err != nil {
			return 0, fmt.Errorf("durable: encode record: %w", err)
		}
		raw[i] = b
	}
	req := appendRequest[T]{records: records, raw: raw, ready: make(chan appendResult, 1)}
	select {
	case j.requests <- req:
	case <-j.exited:
		return 0, ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	// Once handed over, an append completes or fails as a whole, and its
	// answer is awaited even if ctx ends: a caller is never told "failed"
	// about a record that is on disk.
	select {
	case res := <-req.ready:
		return res.first, res.err
	case <-j.exited:
		select {
		case res := <-req.ready:
			return res.first, res.err
		default:
			return 0, ErrClosed // never taken by the writer: not written
		}
	}
}

// writer serialises appends: it takes every request waiting, writes them
// with one fsync, and answers each.
func (j *Journal[T]) writer() {
	defer close(j.exited)
	for {
		var batch []appendRequest[T]
		select {
		case req := <-j.requests:
			batch = append(batch, req)
		case <-j.done:
			return
		}
	drain:
		for len(batch) < 1024 {
			select {
			case req := <-j.requests:
				batch = append(batch, req)
			default:
				break drain
			}
		}
		j.write(batch)
	}
}

func (j *Journal[T]) write(batch []appendRequest[T]) {
	j.mu.Lock()
	defer j.mu.Unlock()
	fail := func(err error) {
		for _, req := range batch {
			req.ready <- appendResult{err: err}
		}
	}
	if j.closed {
		fail(ErrClosed)
		return
	}
	var buf bytes.Buffer
	seq := j.lastSeq
	firsts := make([]uint64, len(batch))
	for i, req := range batch {
		firsts[i] = seq + 1
		for _, r := range req.raw {
			seq++
			fmt.Fprintf(&buf, `{"seq":%d,"record":%s}`+"\n", seq, r)
		}
	}
	n, err := j.file.Write(buf.Bytes())
	if err == nil {
		err = j.file.Sync()
	}
	if err != nil {
		// Take back whatever reached the file, so it never holds records
		// whose append was reported as failed.
		if terr := j.file.Truncate(j.size); terr == nil {
			j.file.Seek(j.size, io.SeekStart)
		}
		fail(fmt.Errorf("durable: write journal: %w", err))
		return
	}
	j.size += int64(n)
	seq = j.lastSeq
	for i, req := range batch {
		for _, r := range req.records {
			seq++
			j.pending = append(j.pending, Entry[T]{Seq: seq, Record: r})
		}
		req.ready <- appendResult{first: firsts[i]}
	}
	j.lastSeq = seq
}

// Pending returns up to max records not yet acknowledged, oldest first.
func (j *Journal[T]) Pending(max int) []Entry[T] {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Entry[T](nil), j.pending[:min(max, len(j.pending))]...)
}

// Len is the number of records not yet acknowledged.
func (j *Journal[T]) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.pending)
}

// Ack marks every record up to seq as handed on. It is durable before it
// returns; the journal file is emptied once everything in it is acknowledged
// and it has grown large.
func (j *Journal[T]) Ack(seq uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if seq <= j.acked {
		return nil
	}
	if seq > j.lastSeq {
		return fmt.Errorf("durable: ack of %d past the last record %d", seq, j.lastSeq)
	}
	if err := WriteFile(filepath.Join(j.dir, ackedFile), []byte(strconv.FormatUint(seq, 10)+"\n"), 0o600); err != nil {
		return err
	}
	j.acked = seq
	i := 0
	for i < len(j.pending) && j.pending[i].Seq <= seq {
		i++
	}
	j.pending = j.pending[i:]
	if len(j.pending) == 0 && j.size >= compactAt {
		// Everything in the file is acknowledged (and that is on disk), so
		// a crash during or after the truncation loses nothing.
		if err := j.file.Truncate(0); err != nil {
			return fmt.Errorf("durable: compact journal: %w", err)
		}
		if _, err := j.file.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("durable: compact journal: %w", err)
		}
		j.size = 0
	}
	return nil
}

// Close stops the journal; appends after Close fail with ErrClosed.
func (j *Journal[T]) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	close(j.done)
	<-j.exited
	return j.file.Close()
}
