package research

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"healthexchange/services/domain/anonymize"
)

// File names of a released dataset.
const (
	FileCSV      = "csv"
	FileNDJSON   = "ndjson"
	FileManifest = "manifest"
)

// fileObjects are the object names of a dataset's files, under its prefix.
var fileObjects = map[string]string{
	FileCSV:      "dataset.csv",
	FileNDJSON:   "dataset.ndjson",
	FileManifest: "manifest.json",
}

// dataFile is one written data file: a temporary file (gone when closed),
// its size and its SHA-256.
type dataFile struct {
	f      *os.File
	bytes  int64
	sha256 string
}

// reader reads the file from its start.
func (d dataFile) reader() io.Reader { return io.NewSectionReader(d.f, 0, d.bytes) }

// digest is the file's SHA-256 and size.
func (d dataFile) digest() digest { return digest{sum: d.sha256, n: d.bytes} }

// files are a dataset's data files, written and not yet stored.
type files struct {
	csv, ndjson dataFile
	rows        int64
}

// Close removes the files.
func (fs *files) Close() error {
	return errors.Join(fs.csv.f.Close(), fs.ndjson.f.Close())
}

// fileBuffer is the write buffer of each data file.
const fileBuffer = 256 << 10

// writeFiles is the second pass of a build: it writes the released
// patients' rows, read back from the spool in pseudonym order, as CSV (a
// header, then one line per row, an empty cell where a row has no value)
// and NDJSON (one object per row, with only the columns the row has, values
// as strings), in the same order, to temporary files in dir, hashing them as
// it goes. Every cell goes through neutralize (the spooled ones were); both
// files are made from the same cells, so they hold the same rows. The two
// are written at once, each by its own goroutine, holding a line at a time;
// they stop between patients when ctx ends.
func writeFiles(ctx context.Context, b *built, dir string) (*files, error) {
	var (
		out      files
		rows     [2]int64
		errs     [2]error
		wg       sync.WaitGroup
		encoders = []rowEncoder{newCSVEncoder(b.columns), newNDJSONEncoder(b.columns, len(b.qis))}
	)
	for i, df := range []*dataFile{&out.csv, &out.ndjson} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			*df, rows[i], errs[i] = writeFile(ctx, b, dir, encoders[i])
		}()
	}
	wg.Wait()
	err := errors.Join(errs[:]...)
	if err == nil && rows[0] != rows[1] {
		err = fmt.Errorf("the CSV has %d rows, the NDJSON %d", rows[0], rows[1])
	}
	if err != nil {
		for _, d := range []dataFile{out.csv, out.ndjson} {
			if d.f != nil {
				d.f.Close()
			}
		}
		return nil, err
	}
	out.rows = rows[0]
	return &out, nil
}

// rowEncoder is one format of the data files.
type rowEncoder interface {
	// header appends the file's first line, if it has one.
	header(dst []byte) []byte
	// lead appends what begins each line of a patient: the pseudonym and
	// the quasi-identifiers (cells, neutralized).
	lead(dst []byte, cells []string) []byte
	// line appends one row's line: lead, then the row's own cells.
	line(dst, lead []byte, cells [][]byte) []byte
}

// writeFile writes b's rows in one format to a temporary file.
func writeFile(ctx context.Context, b *built, dir string, enc rowEncoder) (dataFile, int64, error) {
	f, err := tempFile(dir, "hx-dataset-")
	if err != nil {
		return dataFile{}, 0, err
	}
	h := sha256.New()
	counted := &countingWriter{w: io.MultiWriter(f, h)}
	w := bufio.NewWriterSize(counted, fileBuffer)
	buf := enc.header(nil)
	w.Write(buf) // a bufio.Writer's error is kept, and Flush returns it
	var (
		rows     int64
		lead     []byte
		leadCols = append([]string{ColPseudonym}, b.qis...)
		qi       = make([]string, len(leadCols))
		rr       = b.spool.reader()
	)
	for _, p := range b.patients {
		if err := ctx.Err(); err != nil {
			f.Close()
			return dataFile{}, 0, err
		}
		for i, name := range leadCols {
			qi[i] = neutralize(p.qi[name])
		}
		lead = enc.lead(lead[:0], qi)
		rr.open(p.rows)
		for {
			cells, err := rr.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return dataFile{}, 0, err
			}
			buf = enc.line(buf[:0], lead, cells)
			if _, err := w.Write(buf); err != nil {
				f.Close()
				return dataFile{}, 0, fmt.Errorf("writing the dataset: %w", err)
			}
			rows++
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return dataFile{}, 0, fmt.Errorf("writing the dataset: %w", err)
	}
	return dataFile{f: f, bytes: counted.n, sha256: hex.EncodeToString(h.Sum(nil))}, rows, nil
}

// countingWriter counts what passes through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// csvEncoder writes what encoding/csv's Writer writes (comma, \n).
type csvEncoder struct{ names []string }

func newCSVEncoder(columns []anonymize.Column) csvEncoder {
	return csvEncoder{names: names(columns)}
}

func (e csvEncoder) header(dst []byte) []byte {
	for i, n := range e.names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendCSVField(dst, neutralize(n))
	}
	return append(dst, '\n')
}

func (e csvEncoder) lead(dst []byte, cells []string) []byte {
	for i, c := range cells {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendCSVField(dst, c)
	}
	return dst
}

func (e csvEncoder) line(dst, lead []byte, cells [][]byte) []byte {
	dst = append(dst, lead...)
	for _, c := range cells {
		dst = append(dst, ',')
		dst = appendCSVField(dst, c)
	}
	return append(dst, '\n')
}

// ndjsonEncoder writes what appendNDJSON writes.
type ndjsonEncoder struct {
	leadKeys, tailKeys [][]byte // each a JSON string and a colon
}

func newNDJSONEncoder(columns []anonymize.Column, qis int) ndjsonEncoder {
	var e ndjsonEncoder
	for i, n := range names(columns) {
		key := append(appendJSONString(nil, n), ':')
		if i <= qis {
			e.leadKeys = append(e.leadKeys, key)
		} else {
			e.tailKeys = append(e.tailKeys, key)
		}
	}
	return e
}

func (e ndjsonEncoder) header(dst []byte) []byte { return dst }

func (e ndjsonEncoder) lead(dst []byte, cells []string) []byte {
	dst = append(dst, '{')
	first := true
	for i, c := range cells {
		if c == "" {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, e.leadKeys[i]...)
		dst = appendJSONString(dst, c)
	}
	return dst
}

func (e ndjsonEncoder) line(dst, lead []byte, cells [][]byte) []byte {
	dst = append(dst, lead...)
	first := len(lead) == 1 // the brace alone: no cell before the row's own
	for i, c := range cells {
		if len(c) == 0 {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, e.tailKeys[i]...)
		dst = appendJSONString(dst, c)
	}
	return append(dst, '}', '\n')
}

// formulaTriggers are the first characters that make a spreadsheet read a
// cell as a formula (OWASP, CSV injection).
const formulaTriggers = "=+-@\t\r"

// decimalRE is a finite decimal number as strconv.FormatFloat writes one.
var decimalRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?$`)

// neutralize returns a cell as the service writes it. A cell whose first
// character is = + - @, a tab or a carriage return gets a single quote in
// front, so that a spreadsheet shows it as text and never evaluates it (the
// OWASP rule for CSV injection): "=HYPERLINK(...)" is written
// "'=HYPERLINK(...)". The one exception is a decimal number such as "-1.5"
// or "-2.5e-07": a spreadsheet reads it as that number and nothing else, the
// service writes it itself from a float (values, minimums, maximums and
// means), and a quote would turn a researcher's negative numbers into text.
// Text from a resource cannot use the exception: no code or unit starts
// with "-" (isCode, isUCUMUnit). Every other cell is returned as it is.
func neutralize(cell string) string {
	if cell == "" || strings.IndexByte(formulaTriggers, cell[0]) < 0 || decimalRE.MatchString(cell) {
		return cell
	}
	return "'" + cell
}

func names(columns []anonymize.Column) []string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = c.Name
	}
	return out
}

// appendNDJSON appends one NDJSON line: an object of the columns whose value
// is not empty, in column order, values as JSON strings.
func appendNDJSON(buf []byte, names, values []string) []byte {
	buf = append(buf, '{')
	first := true
	for i, v := range values {
		if v == "" {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendJSONString(buf, names[i])
		buf = append(buf, ':')
		buf = appendJSONString(buf, v)
	}
	return append(buf, '}', '\n')
}

// appendCSVField appends one CSV field as encoding/csv's Writer writes it
// (comma, "\n" line ends): quoted when it holds a comma, a double quote, a
// line break, is \. or starts with a space, its double quotes doubled.
func appendCSVField[T string | []byte](buf []byte, field T) []byte {
	if !csvNeedsQuotes(field) {
		return append(buf, field...)
	}
	buf = append(buf, '"')
	for i := 0; i < len(field); i++ {
		if field[i] == '"' {
			buf = append(buf, '"')
		}
		buf = append(buf, field[i])
	}
	return append(buf, '"')
}

func csvNeedsQuotes[T string | []byte](field T) bool {
	if len(field) == 0 {
		return false
	}
	if string(field) == `\.` {
		return true
	}
	for i := 0; i < len(field); i++ {
		if c := field[i]; c == '\n' || c == '\r' || c == '"' || c == ',' {
			return true
		}
	}
	var first [utf8.UTFMax]byte
	r, _ := utf8.DecodeRune(first[:copy(first[:], field)])
	return unicode.IsSpace(r)
}

// jsonEscaped are the bytes json.Marshal writes otherwise than as they are
// in a string (control characters, non-ASCII, quote, backslash, and the
// HTML-safe <, > and &).
var jsonEscaped = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string.
func appendJSONString[T string | []byte](buf []byte, s T) []byte {
	for i := 0; i < len(s); i++ {
		if jsonEscaped[s[i]] {
			q, _ := json.Marshal(string(s)) // a string always marshals
			return append(buf, q...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// ReadCSV reads a dataset's CSV into rows; an empty cell is an absent value.
func ReadCSV(r io.Reader) ([]anonymize.Row, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("no header: %w", err)
	}
	names := append([]string(nil), header...)
	var rows []anonymize.Row
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		row := make(anonymize.Row, len(names))
		for i, v := range rec {
			if v != "" {
				row[names[i]] = v
			}
		}
		rows = append(rows, row)
	}
}

// ReadNDJSON reads a dataset's NDJSON into rows.
func ReadNDJSON(r io.Reader) ([]anonymize.Row, error) {
	dec := json.NewDecoder(r)
	var rows []anonymize.Row
	for {
		var row anonymize.Row
		err := dec.Decode(&row)
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", len(rows)+1, err)
		}
		rows = append(rows, row)
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
