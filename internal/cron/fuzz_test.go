package cron

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"
)

var fuzzZones = []string{"UTC", "Europe/Berlin", "America/New_York", "America/St_Johns", "Asia/Kathmandu",
	"Australia/Lord_Howe", "Pacific/Chatham", "America/Santiago", "Antarctica/Troll", "Africa/Casablanca"}

var fuzzSeeds = []string{
	"* * * * *", "*/15 * * * *", "0 9 1 * MON", "* 0 1 1 1", "0 0 29 2 *", "0 0 31 2 *", "5/15 * * * *",
	"0 0 * * 5-7", "30 8 * JAN-MAR Mon-Fri", "0 0 1 * */2", "@daily", "0 0 * * 8", "5-1 * * * *", "*/0 * * * *",
	"0 0 L * *", "0 0 * * 5#3", "0 0 * * * *", "1,,2 * * * *", "0 0 * * FRI-SUN",
	"every 5 minutes", "every 7 minutes", "every 36 hours", "every 99999 hours", "every 2 hours synchronized",
	"every 45 minutes from 22:00 to 02:00", "every 10 mins from 10:00 to 10:30", "every monday 09:00",
	"every mon,wed,friday 9:05", "1st,3rd monday of month 09:00", "2nd,third mon,wed,thu of march 17:00",
	"1st monday of sep,oct,nov 17:00", "every day of jan,jul 00:00", "first sunday of quarter 00:00",
	"1st monday of 2nd month of quarter 10:00", "1,15 of month 09:00", "5th friday of feb 12:00",
	"29 of feb 12:00", "1st,3rd day of month 06:00", "every5 mins", "everyday 10:00", "every 1 hour", "monday 09:00",
}

// FuzzParse: Parse never panics, rejects with a ParseError, and a schedule it
// accepts fires strictly after its input, deterministically, with no fire
// in between, and keeps going.
func FuzzParse(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s, uint8(i), int64(1735689600+i*7919*60)) // around 2025
	}
	f.Add("30 2 * * *", uint8(1), int64(1743296400))    // Berlin, the 2025 spring gap
	f.Add("*/15 * * * *", uint8(6), int64(1743861600))  // Chatham, the 2025 fall back
	f.Add("every 2 hours", uint8(5), int64(1759586400)) // Lord Howe, spring
	locs := make([]*time.Location, len(fuzzZones))
	for i, name := range fuzzZones {
		locs[i] = mustZone(f, name)
	}
	f.Fuzz(func(t *testing.T, spec string, zi uint8, sec int64) {
		loc := locs[int(zi)%len(locs)]
		s, err := Parse(spec, loc)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Spec != spec || pe.Field == "" || pe.Msg == "" {
				t.Fatalf("Parse(%q): %#v is not a complete ParseError", spec, err)
			}
			return
		}
		if s.String() != spec {
			t.Fatalf("String() = %q, want %q", s.String(), spec)
		}
		// Any instant from a day before year 1 to a day after 9999.
		span := maxInstant - minInstant
		at := time.Unix(minInstant+(sec%span+span)%span, int64(zi)*1e6).In(loc)
		n1 := s.Next(at)
		if n1.IsZero() {
			// Every schedule Parse accepts fires at least once in 400
			// years (the Gregorian cycle); only the end of time stops it.
			if at.Year() < 9500 {
				t.Fatalf("%q in %s: Next(%v) is zero", spec, loc, at)
			}
			return
		}
		if !n1.After(at) {
			t.Fatalf("%q in %s: Next(%v) = %v, not after", spec, loc, at, n1)
		}
		if again := s.Next(at); !again.Equal(n1) {
			t.Fatalf("%q in %s: Next(%v) = %v, then %v", spec, loc, at, n1, again)
		}
		// Fires are whole seconds: asked a second before n1, the answer is n1.
		if b := s.Next(n1.Add(-time.Second)); !b.Equal(n1) {
			t.Fatalf("%q in %s: Next(%v) = %v, but Next(%v) = %v", spec, loc, at, n1, n1.Add(-time.Second), b)
		}
		n2 := s.Next(n1)
		if !n2.IsZero() && !n2.After(n1) {
			t.Fatalf("%q in %s: Next(%v) = %v, not after", spec, loc, n1, n2)
		}
	})
}

// randomUnixSpec builds a random unix-cron schedule, leaning toward ones that
// fire often enough to show up in a three-day window.
func randomUnixSpec(r *rand.Rand) string {
	field := func(min, max int, names []string, star float64) string {
		if r.Float64() < star {
			if r.Intn(3) == 0 {
				return fmt.Sprintf("*/%d", 1+r.Intn(max-min+1))
			}
			return "*"
		}
		val := func() string {
			v := min + r.Intn(max-min+1)
			if names != nil && v-min < len(names) && r.Intn(2) == 0 {
				return strings.ToUpper(names[v-min])
			}
			return fmt.Sprint(v)
		}
		var items []string
		for n := 1 + r.Intn(3); n > 0; n-- {
			a := min + r.Intn(max-min+1)
			b := a + r.Intn(max-a+1)
			switch r.Intn(4) {
			case 0:
				items = append(items, val())
			case 1:
				items = append(items, fmt.Sprintf("%d-%d", a, b))
			case 2:
				items = append(items, fmt.Sprintf("%d-%d/%d", a, b, 1+r.Intn(max-min+1)))
			default:
				items = append(items, fmt.Sprintf("%d/%d", a, 1+r.Intn(max-min+1)))
			}
		}
		return strings.Join(items, ",")
	}
	return strings.Join([]string{
		field(0, 59, nil, 0.4), field(0, 23, nil, 0.5), field(1, 31, nil, 0.7),
		field(1, 12, monthNames, 0.8), field(0, 7, dayNames, 0.6),
	}, " ")
}

// TestNextAgainstOracleRandom compares Next with the brute-force policy for
// random schedules, zones and instants (around real transitions and
// anywhere from 1980 to 2100), with a fixed seed so failures reproduce.
func TestNextAgainstOracleRandom(t *testing.T) {
	r := rand.New(rand.NewSource(20251026))
	english := []string{"every 5 minutes", "every 7 minutes", "every 3 hours", "every 50 hours",
		"every 20 mins from 01:10 to 03:50", "every day 02:30", "every sun 01:45", "every 90 minutes synchronized"}
	var trs []time.Time
	var trLocs []*time.Location
	for _, name := range fuzzZones {
		loc := mustZone(t, name)
		for _, tr := range transitions(loc, 2025) {
			trs, trLocs = append(trs, tr), append(trLocs, loc)
		}
	}
	checked := 0
	for i := 0; i < 400; i++ {
		var spec string
		if i%4 == 3 {
			spec = english[r.Intn(len(english))]
		} else {
			spec = randomUnixSpec(r)
		}
		var loc *time.Location
		var from time.Time
		if i%2 == 0 {
			k := r.Intn(len(trs))
			loc = trLocs[k]
			from = trs[k].Add(time.Duration(r.Intn(6*3600)-4*3600) * time.Second)
		} else {
			loc = mustZone(t, fuzzZones[r.Intn(len(fuzzZones))])
			from = time.Unix(315532800+r.Int63n(3786912000-315532800), 0)
		}
		s, err := Parse(spec, loc)
		if err != nil {
			continue // a day-of-month that never occurs in the chosen months
		}
		to := from.Add(72 * time.Hour)
		want := oracleFires(s.(*schedule).slots, loc, from, to)
		got := nextFires(s, from, to)
		if d := firstDifference(got, want); d >= 0 {
			t.Errorf("%q in %s from %v: fire %d differs:\n got %v\nwant %v", spec, loc, from.UTC(), d, around(got, d), around(want, d))
		}
		checked += len(want)
	}
	if checked < 10000 {
		t.Errorf("only %d fires checked", checked)
	}
}

func firstDifference(a, b []string) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return -1
}

// around keeps a failure message readable: the few fires around index i.
func around(list []string, i int) []string {
	lo, hi := max(i-3, 0), min(i+3, len(list))
	if lo >= hi {
		return nil
	}
	return list[lo:hi]
}
