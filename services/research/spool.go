package research

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// spool holds a dataset's rows between the two passes of a build, on disk:
// the first pass reads the patients, each reader appending the rows of the
// patient it reads to a file of its own, as one run; the second writes the
// files from the runs of the released patients, in pseudonym order, once
// k-anonymity has decided who they are. A spooled row is its cells after
// the pseudonym and the quasi-identifiers (columns tailColumns), each
// neutralized, as a uvarint length and its bytes: no pseudonym, no
// quasi-identifier and no patient id is written to the spool.
//
// Its files are temporary files, unlinked as soon as they are made (they
// have no name and go with the process), mode 0600.
type spool struct {
	width   int // cells per row
	writers []*spoolWriter
}

// spoolBuffer is the write buffer of each spool file.
const spoolBuffer = 64 << 10

// maxSpooledCell bounds a cell read back: more is a damaged spool.
const maxSpooledCell = 1 << 20

// newSpool makes a spool of rows of width cells with files files in dir
// (the system's temporary folder when empty).
func newSpool(dir string, files, width int) (*spool, error) {
	s := &spool{width: width}
	for range files {
		f, err := tempFile(dir, "hx-spool-")
		if err != nil {
			s.Close()
			return nil, err
		}
		s.writers = append(s.writers, &spoolWriter{f: f, w: bufio.NewWriterSize(f, spoolBuffer)})
	}
	return s, nil
}

// tempFile makes a temporary file (0600) and unlinks it at once; Close of
// the file is all that is left to do.
func tempFile(dir, prefix string) (*os.File, error) {
	f, err := os.CreateTemp(dir, prefix+"*")
	if err != nil {
		return nil, fmt.Errorf("a temporary file for the dataset: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("a temporary file for the dataset: %w", err)
	}
	return f, nil
}

// Close removes the spool's files.
func (s *spool) Close() error {
	var errs []error
	for _, w := range s.writers {
		errs = append(errs, w.f.Close())
	}
	return errors.Join(errs...)
}

// flush writes out what the writers buffered: the runs can be read after.
func (s *spool) flush() error {
	for _, w := range s.writers {
		if err := w.w.Flush(); err != nil {
			return fmt.Errorf("spooling rows: %w", err)
		}
	}
	return nil
}

// run is where one patient's rows are in the spool.
type run struct {
	file      int
	off, size int64
	rows      int64
}

// spoolWriter is one spool file, written by one reader.
type spoolWriter struct {
	f    *os.File
	w    *bufio.Writer
	size int64
}

// sink returns where the rows of the next patient read through file i go.
func (s *spool) sink(i int) *rowSink {
	w := s.writers[i]
	return &rowSink{w: w, file: i, start: w.size, cells: make([]string, s.width)}
}

// rowSink is one patient's rows on their way to the spool.
type rowSink struct {
	w     *spoolWriter
	file  int
	start int64
	rows  int64
	cells []string
	len   [binary.MaxVarintLen64]byte
}

// next returns the cells of a new row, all empty, for put.
func (s *rowSink) next() []string {
	clear(s.cells)
	return s.cells
}

// put spools the row next returned, each cell neutralized.
func (s *rowSink) put() error {
	for _, c := range s.cells {
		c = neutralize(c)
		n := binary.PutUvarint(s.len[:], uint64(len(c)))
		if _, err := s.w.w.Write(s.len[:n]); err != nil {
			return fmt.Errorf("spooling rows: %w", err)
		}
		if _, err := s.w.w.WriteString(c); err != nil {
			return fmt.Errorf("spooling rows: %w", err)
		}
		s.w.size += int64(n + len(c))
	}
	s.rows++
	return nil
}

// run says where the patient's rows are.
func (s *rowSink) run() run {
	return run{file: s.file, off: s.start, size: s.w.size - s.start, rows: s.rows}
}

// discard removes the patient's rows from the spool: they are not released,
// and need not stay on disk until the end of the build.
func (s *rowSink) discard() error {
	if s.w.size == s.start {
		return nil
	}
	if err := s.w.w.Flush(); err != nil {
		return fmt.Errorf("spooling rows: %w", err)
	}
	if err := s.w.f.Truncate(s.start); err != nil {
		return fmt.Errorf("spooling rows: %w", err)
	}
	if _, err := s.w.f.Seek(s.start, io.SeekStart); err != nil {
		return fmt.Errorf("spooling rows: %w", err)
	}
	s.w.size, s.rows = s.start, 0
	return nil
}

// runReader reads runs back, row by row; one per goroutine.
type runReader struct {
	sp       *spool
	src      *io.SectionReader
	left     int64 // rows
	buf      []byte
	pos, end int // what is read and not yet parsed: buf[pos:end]
	cells    [][]byte
}

// maxSpooledRow bounds a row read back: more is a damaged spool.
const maxSpooledRow = 16 << 20

func (s *spool) reader() *runReader {
	return &runReader{sp: s, buf: make([]byte, spoolBuffer), cells: make([][]byte, s.width)}
}

// open starts reading a run.
func (r *runReader) open(rn run) {
	r.src = io.NewSectionReader(r.sp.writers[rn.file].f, rn.off, rn.size)
	r.left, r.pos, r.end = rn.rows, 0, 0
}

// next returns the next row's cells, valid until the next call; io.EOF
// after the run's last row.
func (r *runReader) next() ([][]byte, error) {
	if r.left == 0 {
		return nil, io.EOF
	}
	for {
		ok, err := r.parse()
		if err != nil {
			return nil, err
		}
		if ok {
			r.left--
			return r.cells, nil
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
}

// parse reads a row from what is buffered, if it is all there.
func (r *runReader) parse() (bool, error) {
	p := r.pos
	for i := range r.cells {
		n, k := binary.Uvarint(r.buf[p:r.end])
		switch {
		case k == 0:
			return false, nil
		case k < 0 || n > maxSpooledCell:
			return false, errors.New("reading spooled rows: a cell longer than any written")
		}
		p += k
		if uint64(r.end-p) < n {
			return false, nil
		}
		r.cells[i] = r.buf[p : p+int(n)]
		p += int(n)
	}
	r.pos = p
	return true, nil
}

// fill reads more of the run, after what is left of the buffer.
func (r *runReader) fill() error {
	r.end = copy(r.buf, r.buf[r.pos:r.end])
	r.pos = 0
	if r.end == len(r.buf) { // a row longer than the buffer
		if len(r.buf) >= maxSpooledRow {
			return errors.New("reading spooled rows: a row longer than any written")
		}
		r.buf = append(r.buf, make([]byte, len(r.buf))...)
	}
	n, err := r.src.Read(r.buf[r.end:])
	r.end += n
	if n == 0 && err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // the run ends before its last row
		}
		return fmt.Errorf("reading spooled rows: %w", err)
	}
	return nil
}
