package anonymize

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkEnforce runs Enforce over prepared rows of 1000 patients (k = 5,
// counting patients) and reports rows/s.
func BenchmarkEnforce(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint(n, " rows"), func(b *testing.B) {
			rows := benchRows(n, 1000)
			h := map[string]Hierarchy{"age": AgeBandHierarchy(), "zip": ZIP3Hierarchy(), "sex": CategoryHierarchy()}
			b.ReportAllocs()
			b.ResetTimer()
			var rep Report
			for b.Loop() {
				var err error
				if _, rep, err = Enforce(rows, kQIs, 5, h, WithSubject("patient")); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(rep.KAchieved), "k-achieved")
			b.ReportMetric(float64(rep.Suppressed), "rows-suppressed")
		})
	}
}

func benchRows(n, patients int) []Row {
	r := rand.New(rand.NewPCG(7, 7))
	type person struct{ id, age, zip, sex string }
	ps := make([]person, patients)
	for i := range ps {
		ps[i] = person{fmt.Sprintf("%016x", r.Uint64()), bandOf(r.IntN(100), 5), fmt.Sprintf("%03d", 100+r.IntN(30)), []string{"F", "M"}[r.IntN(2)]}
	}
	rows := make([]Row, n)
	for i := range rows {
		p := ps[i%patients]
		rows[i] = Row{"patient": p.id, "age": p.age, "zip": p.zip, "sex": p.sex, "heart_rate_mean": fmt.Sprint(50 + r.IntN(60))}
	}
	return rows
}
