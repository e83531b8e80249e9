package research

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"healthexchange/services/anonymize"
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
// the columns the row has, values as strings), in the same order.
func encode(b *built) (encoded, error) {
	var csvBuf, ndBuf bytes.Buffer
	cw := csv.NewWriter(&csvBuf)
	nw := bufio.NewWriter(&ndBuf)
	names := make([]string, len(b.columns))
	for i, c := range b.columns {
		names[i] = c.Name
	}
	if err := cw.Write(names); err != nil {
		return encoded{}, err
	}
	record := make([]string, len(names))
	var rows int64
	for _, p := range b.patients {
		for _, r := range p.rows {
			obj := make(map[string]string, len(names))
			for i, n := range names {
				v, ok := p.qi[n]
				if !ok {
					v, ok = r[n]
				}
				record[i] = v
				if ok && v != "" {
					obj[n] = v
				}
			}
			if err := cw.Write(record); err != nil {
				return encoded{}, err
			}
			line, err := json.Marshal(obj)
			if err != nil {
				return encoded{}, err
			}
			nw.Write(line)
			nw.WriteByte('\n')
			rows++
		}
	}
	cw.Flush()
	if err := errors.Join(cw.Error(), nw.Flush()); err != nil {
		return encoded{}, err
	}
	return encoded{csv: csvBuf.Bytes(), ndjson: ndBuf.Bytes(), rows: rows}, nil
}

// checkFiles is the independent check of the files about to be released: it
// reads them back as a researcher would, checks the NDJSON holds the same
// rows as the CSV, and runs anonymize.Verify (which shares no code with
// Enforce) over the CSV's rows: every quasi-identifier group has at least k
// patients, no column is undeclared or a direct identifier, and no value
// looks like one.
func checkFiles(e encoded, columns []anonymize.Column, qis []string, k int) error {
	rows, err := ReadCSV(bytes.NewReader(e.csv))
	if err != nil {
		return fmt.Errorf("reading the CSV back: %w", err)
	}
	nd, err := ReadNDJSON(bytes.NewReader(e.ndjson))
	if err != nil {
		return fmt.Errorf("reading the NDJSON back: %w", err)
	}
	if int64(len(rows)) != e.rows || len(nd) != len(rows) {
		return fmt.Errorf("the files hold %d (CSV) and %d (NDJSON) rows, %d were written", len(rows), len(nd), e.rows)
	}
	for i := range rows {
		if len(rows[i]) != len(nd[i]) {
			return fmt.Errorf("row %d differs between the CSV and the NDJSON", i)
		}
		for c, v := range rows[i] {
			if nd[i][c] != v {
				return fmt.Errorf("row %d column %q differs between the CSV and the NDJSON", i, c)
			}
		}
	}
	return anonymize.Verify(rows, anonymize.Schema{Columns: columns}, qis, k)
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
