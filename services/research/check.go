package research

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"

	"healthexchange/services/domain/anonymize"
)

// checkFiles is the independent check of the files about to be released: it
// reads them back as a researcher would, from the streams given (the stored
// objects), holding no row. The CSV must hold the rows written, no cell a
// spreadsheet would read as a formula, the NDJSON the same rows as the CSV
// (encoded again from the CSV's rows it is byte for byte the NDJSON), and
// anonymize's Verifier (which shares no code with Enforce) must pass the
// CSV's rows: every quasi-identifier group has at least k patients, no
// column is undeclared or a direct identifier, and no value looks like one.
// Each stream is read (and hashed) by a goroutine of its own, beside the
// one that checks; the digests say what was read, for the caller to hold
// against what was written. A stream that cannot be read is ErrUnavailable,
// not a refusal.
func checkFiles(csvFile, ndjsonFile io.Reader, rows int64, columns []anonymize.Column, qis []string, k int) (csvRead, ndjsonRead digest, err error) {
	csvIn, ndjsonIn := newReadAhead(csvFile), newReadAhead(ndjsonFile)
	verifyErr, err := checkCSV(csvIn, ndjsonIn, rows, columns, qis, k)
	same := err == nil && ndjsonIn.atEnd()
	csvRead, csvErr := csvIn.stop()
	ndjsonRead, ndjsonErr := ndjsonIn.stop()
	switch {
	case csvErr != nil:
		return csvRead, ndjsonRead, fmt.Errorf("%w: reading the CSV back: %w", ErrUnavailable, csvErr)
	case ndjsonErr != nil:
		return csvRead, ndjsonRead, fmt.Errorf("%w: reading the NDJSON back: %w", ErrUnavailable, ndjsonErr)
	case err != nil:
		return csvRead, ndjsonRead, err
	case !same:
		return csvRead, ndjsonRead, errors.New("the NDJSON does not hold the same rows as the CSV")
	}
	return csvRead, ndjsonRead, verifyErr
}

// checkCSV is checkFiles' pass over the CSV. It matches the NDJSON encoded
// again from each row against ndjson as it goes, and returns what the
// Verifier found, and err when the CSV does not read, does not hold the
// rows written or holds a formula (checked in that order, and before the
// NDJSON and the Verifier's finding, as the check always did).
func checkCSV(csvFile io.Reader, ndjson *readAhead, rows int64, columns []anonymize.Column, qis []string, k int) (verifyErr, err error) {
	cr := csv.NewReader(csvFile)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the CSV back: no header: %w", err)
	}
	header = slices.Clone(header)
	at := make([]int, len(columns)) // header index of each column, -1 when absent
	for i, c := range columns {
		at[i] = slices.Index(header, c.Name)
	}
	v, verifyErr := anonymize.NewVerifier(anonymize.Schema{Columns: columns}, header, qis, k)
	var (
		names   = names(columns)
		record  = make([]string, len(columns))
		line    []byte
		n       int64
		formula error
	)
	for ; ; n++ {
		cells, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the CSV back: %w", err)
		}
		if formula != nil {
			continue // the rows are still counted
		}
		for i, c := range columns {
			record[i] = ""
			if at[i] >= 0 {
				record[i] = cells[at[i]]
			}
			if formula == nil && neutralize(record[i]) != record[i] {
				formula = fmt.Errorf("row %d, column %q: a spreadsheet would read the cell as a formula", n+1, c.Name)
			}
		}
		line = appendNDJSON(line[:0], names, record)
		ndjson.match(line)
		if verifyErr == nil {
			verifyErr = v.Record(cells)
		}
	}
	switch {
	case n != rows:
		return nil, fmt.Errorf("the CSV holds %d rows, %d were written", n, rows)
	case formula != nil:
		return nil, formula
	}
	if verifyErr == nil {
		verifyErr = v.Close()
	}
	return verifyErr, nil
}

// digest is a stream's SHA-256 and length.
type digest struct {
	sum string
	n   int64
}

// readAheadChunk is the size of the chunks a readAhead reads; it holds
// readAheadChunks of them.
const (
	readAheadChunk  = 256 << 10
	readAheadChunks = 3
)

// readAhead reads a stream in a goroutine of its own, hashing it, and hands
// it over a chunk at a time, to read (Read) or to compare (match).
type readAhead struct {
	chunks chan []byte
	free   chan []byte
	quit   chan struct{}
	done   chan struct{}
	held   []byte // the chunk being used
	cur    []byte // its part not used yet
	differ bool   // a match failed
	// Set by the goroutine before it closes chunks.
	read     digest
	complete bool // read to its end
	err      error
}

func newReadAhead(r io.Reader) *readAhead {
	a := &readAhead{chunks: make(chan []byte, readAheadChunks-1), free: make(chan []byte, readAheadChunks),
		quit: make(chan struct{}), done: make(chan struct{})}
	for range readAheadChunks {
		a.free <- make([]byte, readAheadChunk)
	}
	go func() {
		defer close(a.done)
		defer close(a.chunks)
		h := sha256.New()
		for {
			var buf []byte
			select {
			case buf = <-a.free:
			case <-a.quit:
				return
			}
			n, err := io.ReadFull(r, buf)
			h.Write(buf[:n])
			a.read.n += int64(n)
			if n > 0 {
				select {
				case a.chunks <- buf[:n]:
				case <-a.quit:
					return
				}
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				a.read.sum, a.complete = hex.EncodeToString(h.Sum(nil)), true
				return
			}
			if err != nil {
				a.err = err
				return
			}
		}
	}()
	return a
}

// next makes the next chunk current; false at the end of the stream.
func (a *readAhead) next() bool {
	if a.held != nil {
		a.free <- a.held[:cap(a.held)] // never blocks: free holds every chunk
		a.held, a.cur = nil, nil
	}
	c, ok := <-a.chunks
	if !ok {
		return false
	}
	a.held, a.cur = c, c
	return true
}

func (a *readAhead) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if !a.next() {
			if a.err != nil {
				return 0, a.err
			}
			return 0, io.EOF
		}
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// match compares the stream's next len(p) bytes with p; once they differ,
// atEnd is false.
func (a *readAhead) match(p []byte) {
	for len(p) > 0 && !a.differ {
		if len(a.cur) == 0 && !a.next() {
			a.differ = true // the stream is shorter
			return
		}
		k := min(len(p), len(a.cur))
		if !bytes.Equal(p[:k], a.cur[:k]) {
			a.differ = true
			return
		}
		p, a.cur = p[k:], a.cur[k:]
	}
}

// atEnd reports whether every match held and the stream has nothing after
// what was matched (it waits for the stream's end).
func (a *readAhead) atEnd() bool {
	if a.differ || len(a.cur) > 0 {
		return false
	}
	for a.next() {
		if len(a.cur) > 0 {
			return false
		}
	}
	return a.complete
}

// stop stops reading and returns the digest of the stream, complete when
// it was read to its end, and an error if it could not be.
func (a *readAhead) stop() (digest, error) {
	close(a.quit)
	for a.next() { // the goroutine may be waiting to hand over a chunk
	}
	<-a.done
	if a.err != nil {
		return digest{}, a.err
	}
	if !a.complete {
		return digest{}, nil
	}
	return a.read, nil
}
