package sim

import "time"

// activity is what the wearer is doing, which drives heart rate, steps and,
// a little, the other vitals.
type activity int

const (
	asleep     activity = iota // 23:00 to 07:00 local time
	idle                       // awake, mostly sitting
	walking                    // a walking bout, in 5-minute blocks
	exercising                 // a workout of 20 to 60 minutes
)

// The wearer's day, a pure function of the seed and the time, so every
// stream of a device agrees on it and no state depends on the order the
// streams are read in.
const (
	sleepFrom, sleepTo = 23, 7 // local hours
	walkBlock          = 5 * time.Minute
	walkPercent        = 12 // of daytime blocks spent walking
	// Workouts start between 07:30 and 21:00; a day has 0, 1 or 2.
	workoutEarliest = 7*time.Hour + 30*time.Minute
	workoutSpan     = 13*time.Hour + 30*time.Minute
)

// activityAt is what the wearer does at t, and for a workout its intensity
// from 0 to 1.
func (g *Generator) activityAt(t time.Time) (activity, float64) {
	local := t.In(g.loc)
	if h := local.Hour(); h >= sleepFrom || h < sleepTo {
		return asleep, 0
	}
	y, m, d := local.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, g.loc)
	day := uint64(y)*10000 + uint64(m)*100 + uint64(d)
	sessions := mix(g.seed, day, 1) % 3
	for i := range sessions {
		h := mix(g.seed, day, 10+i)
		start := midnight.Add(workoutEarliest + time.Duration(h%uint64(workoutSpan/time.Minute))*time.Minute)
		length := time.Duration(20+(h>>24)%41) * time.Minute
		if !t.Before(start) && t.Before(start.Add(length)) {
			return exercising, float64((h>>40)%101) / 100
		}
	}
	block := uint64(t.Unix() / int64(walkBlock/time.Second))
	if mix(g.seed, block, 2)%100 < walkPercent {
		return walking, 0
	}
	return idle, 0
}

// mix hashes a seed and two numbers (SplitMix64's finaliser).
func mix(seed, a, b uint64) uint64 {
	x := seed ^ a*0x9e3779b97f4a7c15 ^ b*0xbf58476d1ce4e5b9
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
