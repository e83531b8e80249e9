package research

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

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

// encoded is a dataset's data files.
type encoded struct {
	csv, ndjson []byte
	rows        int64
}

// encode writes the rows as CSV (a header, then one line per row, an empty
// cell where a row has no value) and NDJSON (one object per row, with only
// the columns the row has, values as strings), in the same order. Every
// cell goes through neutralize; the NDJSON is written from the same cells,
// so both files hold the same rows.
func encode(b *built) (encoded, error) {
	var csvBuf, ndBuf bytes.Buffer
	cw := csv.NewWriter(&csvBuf)
	names := names(b.columns)
	header := make([]string, len(names))
	for i, n := range names {
		header[i] = neutralize(n)
	}
	if err := cw.Write(header); err != nil {
		return encoded{}, err
	}
	record := make([]string, len(names))
	var rows int64
	var line []byte
	for _, p := range b.patients {
		for _, r := range p.rows {
			for i, n := range names {
				v, ok := p.qi[n]
				if !ok {
					v = r[n]
				}
				record[i] = neutralize(v)
			}
			if err := cw.Write(record); err != nil {
				return encoded{}, err
			}
			line = appendNDJSON(line[:0], names, record)
			ndBuf.Write(line)
			rows++
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return encoded{}, err
	}
	return encoded{csv: csvBuf.Bytes(), ndjson: ndBuf.Bytes(), rows: rows}, nil
}

// checkFiles is the independent check of the files about to be released: it
// reads them back as a researcher would, checks the NDJSON holds the same
// rows as the CSV and no cell would be read as a spreadsheet formula, and
// runs anonymize.Verify (which shares no code with Enforce) over the CSV's
// rows: every quasi-identifier group has at least k patients, no column is
// undeclared or a direct identifier, and no value looks like one.
func checkFiles(e encoded, columns []anonymize.Column, qis []string, k int) error {
	rows, err := ReadCSV(bytes.NewReader(e.csv))
	if err != nil {
		return fmt.Errorf("reading the CSV back: %w", err)
	}
	if int64(len(rows)) != e.rows {
		return fmt.Errorf("the CSV holds %d rows, %d were written", len(rows), e.rows)
	}
	// The NDJSON must hold the same rows: encoded again from the CSV's, it
	// is byte for byte the same.
	var nd bytes.Buffer
	names := names(columns)
	record := make([]string, len(columns))
	var line []byte
	for n, r := range rows {
		for i, c := range columns {
			record[i] = r[c.Name]
			if neutralize(record[i]) != record[i] {
				return fmt.Errorf("row %d, column %q: a spreadsheet would read the cell as a formula", n+1, c.Name)
			}
		}
		line = appendNDJSON(line[:0], names, record)
		nd.Write(line)
	}
	if !bytes.Equal(nd.Bytes(), e.ndjson) {
		return errors.New("the NDJSON does not hold the same rows as the CSV")
	}
	return anonymize.Verify(rows, anonymize.Schema{Columns: columns}, qis, k)
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

// appendJSONString appends s as a JSON string.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
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
