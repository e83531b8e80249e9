package anonymize

import (
	"encoding/binary"
	"maps"
	"slices"
)

// DefaultMaxSuppression is the fraction of rows Enforce may suppress rather
// than generalize further.
const DefaultMaxSuppression = 0.05

// maxLattice bounds the generalization levels Enforce tries.
const maxLattice = 1 << 16

// EnforceOption configures Enforce.
type EnforceOption func(*enforceConfig) error

type enforceConfig struct {
	maxSuppression float64
	subject        string
}

// WithMaxSuppression sets the fraction of rows, in [0, 1), that may be
// suppressed instead of generalizing every row further. Default 5%.
func WithMaxSuppression(f float64) EnforceOption {
	return func(c *enforceConfig) error {
		if !(f >= 0 && f < 1) {
			return fail(ErrConfig, "suppression limit %v outside [0, 1)", f)
		}
		c.maxSuppression = f
		return nil
	}
}

// WithSubject names the column that says whose row it is (the pseudonym).
// Group sizes then count distinct patients, not rows: a patient with a
// thousand rows is still one patient. Without it every row is taken to be a
// different patient. Verify counts patients whenever the schema has a
// PatientID column, so a dataset with several rows per patient needs this.
func WithSubject(column string) EnforceOption {
	return func(c *enforceConfig) error {
		if column == "" {
			return fail(ErrConfig, "empty subject column")
		}
		c.subject = column
		return nil
	}
}

// Report says what Enforce did.
type Report struct {
	// K is the k asked for; KAchieved the smallest group in the output
	// (in patients with WithSubject, else rows), 0 when nothing is output.
	K, KAchieved int
	// Groups is how many quasi-identifier groups the output has.
	Groups int
	// RowsIn, RowsOut and Suppressed count rows.
	RowsIn, RowsOut, Suppressed int
	// Levels is the hierarchy level chosen for each quasi-identifier (0 is
	// the value as it came in).
	Levels map[string]int
}

// Enforce is step 4, k-anonymity over the quasi-identifiers qis. It protects
// against singling a patient out by a combination of quasi-identifiers
// (age band, ZIP3, sex) that only they, or fewer than k patients, have.
//
// It tries the levels of each quasi-identifier's hierarchy from the lowest
// total up, and picks the first that leaves at most the suppression limit of
// rows in groups smaller than k (among equally low ones, the one that
// suppresses least); then it removes the rows of every group smaller than k.
// The input rows are not modified; every output row is a copy.
//
// When there are fewer than k patients in total no level can help: Enforce
// returns no rows, a Report with everything counted as suppressed, and
// ErrCohortTooSmall. It never returns a partial dataset with an error.
func Enforce(rows []Row, qis []string, k int, hierarchies map[string]Hierarchy, opts ...EnforceOption) ([]Row, Report, error) {
	cfg := enforceConfig{maxSuppression: DefaultMaxSuppression}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, Report{}, err
		}
	}
	rep := Report{K: k, RowsIn: len(rows), Levels: map[string]int{}}
	if k < 2 {
		return nil, rep, fail(ErrConfig, "k = %d, at least 2 needed", k)
	}
	if len(qis) == 0 {
		return nil, rep, fail(ErrConfig, "no quasi-identifiers")
	}
	hs := make([]Hierarchy, len(qis))
	lattice := 1
	for i, q := range qis {
		h := hierarchies[q]
		if h == nil || h.Depth() < 1 {
			return nil, rep, fail(ErrConfig, "no hierarchy for quasi-identifier %q", q)
		}
		if slices.Contains(qis[:i], q) || q == cfg.subject {
			return nil, rep, fail(ErrConfig, "quasi-identifier %q listed twice", q)
		}
		hs[i] = h
		if lattice *= h.Depth() + 1; lattice > maxLattice {
			return nil, rep, fail(ErrConfig, "too many generalization levels")
		}
	}

	t, err := newTable(rows, qis, hs, cfg.subject)
	if err != nil {
		return nil, rep, err
	}
	if t.patients < k {
		rep.Suppressed = len(rows)
		for _, q := range qis {
			rep.Levels[q] = 0
		}
		return nil, rep, fail(ErrCohortTooSmall, "%d patients, k = %d", t.patients, k)
	}

	limit := int(cfg.maxSuppression * float64(len(rows)))
	var best *evaluation
	for _, node := range latticeByHeight(hs) {
		if best != nil && height(node) > height(best.levels) {
			break
		}
		e := t.evaluate(node, k)
		if e.suppressed <= limit && (best == nil || e.suppressed < best.suppressed) {
			best = e
		}
	}
	if best == nil {
		return nil, rep, fail(ErrSuppressionLimit, "no generalization keeps suppression within %v", cfg.maxSuppression)
	}

	out := make([]Row, 0, len(rows)-best.suppressed)
	for i, r := range rows {
		u := t.rowUnit[i]
		if best.small[best.unitGroup[u]] {
			continue
		}
		nr := maps.Clone(r)
		for q, name := range qis {
			nr[name] = t.names[q][best.levels[q]][t.gen[q][best.levels[q]][t.units[u].ids[q]]]
		}
		out = append(out, nr)
	}
	for q, name := range qis {
		rep.Levels[name] = best.levels[q]
	}
	rep.RowsOut = len(out)
	rep.Suppressed = best.suppressed
	rep.Groups = best.keptGroups
	rep.KAchieved = best.minKept
	return out, rep, nil
}

// table is the input reduced to units: the distinct (patient, level-0
// quasi-identifier values) combinations with their row counts. Every row of a
// unit generalizes the same way, so the lattice search works on units.
type table struct {
	qis       int
	bySubject bool         // group sizes count distinct patients, not rows
	names     [][][]string // names[q][level][id] is the value
	gen       [][][]int32  // gen[q][level][id0] is the id at level
	units     []unit
	rowUnit   []int32
	patients  int
}

type unit struct {
	patient int32
	ids     []int32 // level-0 id per quasi-identifier
	rows    int
}

func newTable(rows []Row, qis []string, hs []Hierarchy, subject string) (*table, error) {
	t := &table{qis: len(qis), bySubject: subject != "", names: make([][][]string, len(qis)), gen: make([][][]int32, len(qis)), rowUnit: make([]int32, len(rows))}
	level0 := make([]map[string]int32, len(qis))
	for q := range qis {
		level0[q] = map[string]int32{}
	}
	patients := map[string]int32{}
	unitIdx := map[string]int32{}
	key := make([]byte, 4*(len(qis)+1))
	ids := make([]int32, len(qis))
	for i, r := range rows {
		var pid int32 // without a subject every row counts as a patient
		if subject != "" {
			s, ok := r[subject]
			if !ok || s == "" {
				return nil, fail(ErrInvalidValue, "row %d: no subject in %q", i, subject)
			}
			id, ok := patients[s]
			if !ok {
				id = int32(len(patients))
				patients[s] = id
			}
			pid = id
		}
		binary.LittleEndian.PutUint32(key, uint32(pid))
		for q, name := range qis {
			v, ok := r[name]
			if !ok {
				return nil, fail(ErrInvalidValue, "row %d: no quasi-identifier %q", i, name)
			}
			id, ok := level0[q][v]
			if !ok {
				id = int32(len(level0[q]))
				level0[q][v] = id
			}
			ids[q] = id
			binary.LittleEndian.PutUint32(key[4*(q+1):], uint32(id))
		}
		u, ok := unitIdx[string(key)]
		if !ok {
			u = int32(len(t.units))
			unitIdx[string(key)] = u
			t.units = append(t.units, unit{patient: pid, ids: slices.Clone(ids)})
		}
		t.units[u].rows++
		t.rowUnit[i] = u
	}
	t.patients = len(patients)
	if subject == "" {
		t.patients = len(rows)
	}
	for q := range qis {
		values := make([]string, len(level0[q]))
		for v, id := range level0[q] {
			values[id] = v
		}
		depth := hs[q].Depth()
		t.names[q] = make([][]string, depth+1)
		t.gen[q] = make([][]int32, depth+1)
		for l := 0; l <= depth; l++ {
			intern := map[string]int32{}
			t.gen[q][l] = make([]int32, len(values))
			for id0, v := range values {
				g, err := hs[q].At(v, l)
				if err != nil {
					return nil, fail(ErrInvalidValue, "quasi-identifier %q: level %d: %w", qis[q], l, err)
				}
				id, ok := intern[g]
				if !ok {
					id = int32(len(t.names[q][l]))
					intern[g] = id
					t.names[q][l] = append(t.names[q][l], g)
				}
				t.gen[q][l][id0] = id
			}
		}
	}
	return t, nil
}

// evaluation is one lattice node's outcome.
type evaluation struct {
	levels     []int
	unitGroup  []int32
	small      []bool // per group: fewer than k patients
	suppressed int    // rows in small groups
	keptGroups int
	minKept    int
}

func (t *table) evaluate(levels []int, k int) *evaluation {
	e := &evaluation{levels: levels, unitGroup: make([]int32, len(t.units))}
	groups := map[string]int32{}
	key := make([]byte, 4*t.qis)
	for u, un := range t.units {
		for q := range t.qis {
			binary.LittleEndian.PutUint32(key[4*q:], uint32(t.gen[q][levels[q]][un.ids[q]]))
		}
		g, ok := groups[string(key)]
		if !ok {
			g = int32(len(groups))
			groups[string(key)] = g
		}
		e.unitGroup[u] = g
	}
	// Patients per group: a patient whose units fall in one group counts once.
	size := make([]int, len(groups))
	rowsIn := make([]int, len(groups))
	seen := map[[2]int32]bool{}
	for u, un := range t.units {
		g := e.unitGroup[u]
		rowsIn[g] += un.rows
		if !t.bySubject {
			size[g] += un.rows
		} else if p := [2]int32{g, un.patient}; !seen[p] {
			seen[p] = true
			size[g]++
		}
	}
	e.small = make([]bool, len(groups))
	for g, n := range size {
		if n < k {
			e.small[g] = true
			e.suppressed += rowsIn[g]
			continue
		}
		e.keptGroups++
		if e.minKept == 0 || n < e.minKept {
			e.minKept = n
		}
	}
	return e
}

func height(levels []int) int {
	h := 0
	for _, l := range levels {
		h += l
	}
	return h
}

// latticeByHeight lists every combination of levels, lowest total first, then
// in lexicographic order.
func latticeByHeight(hs []Hierarchy) [][]int {
	nodes := [][]int{{}}
	for _, h := range hs {
		var next [][]int
		for _, n := range nodes {
			for l := 0; l <= h.Depth(); l++ {
				next = append(next, append(slices.Clone(n), l))
			}
		}
		nodes = next
	}
	slices.SortStableFunc(nodes, func(a, b []int) int {
		if d := height(a) - height(b); d != 0 {
			return d
		}
		return slices.Compare(a, b)
	})
	return nodes
}
