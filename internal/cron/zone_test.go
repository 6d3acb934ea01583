package cron

import (
	"fmt"
	"testing"
	"time"
)

func TestLoadZone(t *testing.T) {
	for _, name := range []string{"", "utc", "UTC", "Utc"} {
		loc, err := LoadZone(name)
		if err != nil || loc != time.UTC {
			t.Errorf("LoadZone(%q) = %v, %v; want UTC", name, loc, err)
		}
	}
	for _, name := range []string{"Europe/Berlin", "America/St_Johns", "Etc/UTC", "Asia/Kathmandu", "US/Eastern", "EST5EDT"} {
		loc, err := LoadZone(name)
		if err != nil || loc.String() != name {
			t.Errorf("LoadZone(%q) = %v, %v", name, loc, err)
		}
		again, _ := LoadZone(name)
		if again != loc {
			t.Errorf("LoadZone(%q) twice gave two Locations; it should cache", name)
		}
	}
	for _, name := range []string{"Local", "Mars/Olympus", "europe/berlin", "../etc/passwd", "/etc/localtime", "Europe/Berlin "} {
		if loc, err := LoadZone(name); err == nil {
			t.Errorf("LoadZone(%q) = %v, want an error", name, loc)
		}
	}
}

// The zone table must agree with the time package's offsets everywhere,
// including where Go's own ZoneBounds is wrong (the last day of leap years
// under a zone's POSIX rule, e.g. 2040-12-31 in Europe/Berlin), and its
// period boundaries must be exact transitions.
func TestZoneTableMatchesTimePackage(t *testing.T) {
	for _, name := range []string{"Europe/Berlin", "America/New_York", "America/St_Johns", "Asia/Kathmandu",
		"Australia/Lord_Howe", "Pacific/Chatham", "Africa/Casablanca", "America/Santiago", "Antarctica/Troll", "UTC"} {
		loc := mustZone(t, name)
		z := zoneFor(loc)
		z.once.Do(z.build)
		for i, p := range z.periods {
			if p.end <= p.start {
				t.Fatalf("%s: period %d is empty: %+v", name, i, p)
			}
			if i > 0 && (z.periods[i-1].end != p.start || z.periods[i-1].off == p.off) {
				t.Fatalf("%s: periods %d and %d do not join: %+v %+v", name, i-1, i, z.periods[i-1], p)
			}
			if p.start != minPeriodStart && offsetAt(loc, p.start-1) == p.off {
				t.Fatalf("%s: period %d starts where the offset does not change: %+v", name, i, p)
			}
		}
		for u := zoneTableFrom; u < zoneTableTo; u += 6 * 3600 {
			if got, want := z.at(u).off, offsetAt(loc, u); got != want {
				t.Fatalf("%s at %v: offset %d, time package says %d", name, time.Unix(u, 0).UTC(), got, want)
			}
		}
	}
}

// Outside the table (before 1970, after 2200) the time package answers,
// through the same bounds check.
func TestNextOutsideTheZoneTable(t *testing.T) {
	runFireCases(t, []fireCase{
		{zone: "Europe/Berlin", spec: "0 12 31 12 *", from: "2240-12-30T00:00:00Z", want: []string{"2240-12-31T11:00:00Z", "2241-12-31T11:00:00Z"}},
		// 2300-03-25 is the last Sunday of March (2300-01-01 is a Monday).
		{zone: "Europe/Berlin", spec: "30 2 * * *", from: "2300-03-24T00:00:00Z", want: []string{
			"2300-03-24T01:30:00Z", "2300-03-25T01:00:00Z", "2300-03-26T00:30:00Z"}},
		// Go's ZoneBounds is wrong on 2040-12-31 in Berlin; Next is not.
		{zone: "Europe/Berlin", spec: "30 2 * * *", from: "2040-12-30T00:00:00Z", want: []string{
			"2040-12-30T01:30:00Z", "2040-12-31T01:30:00Z", "2041-01-01T01:30:00Z"}},
		{zone: "Europe/Berlin", spec: "* * * * *", from: "2040-12-30T23:58:00Z", want: []string{
			"2040-12-30T23:59:00Z", "2040-12-31T00:00:00Z", "2040-12-31T00:01:00Z"}},
		// Local mean time, -4:56:02.
		{zone: "America/New_York", spec: "0 12 4 7 *", from: "1776-01-01T00:00:00Z", want: []string{"1776-07-04T16:56:02Z"}},
	})
}

// Schedules are shared by the scheduler's goroutines, and the first Next in
// a zone builds its table: many goroutines at once must agree.
func TestConcurrentNextOnAFreshZone(t *testing.T) {
	loc, err := time.LoadLocation("America/Havana") // not via LoadZone: a Location no table exists for yet
	if err != nil {
		t.Fatal(err)
	}
	s := mustParse(t, "*/10 * * * *", loc)
	from := mustTime(t, "2025-03-09T04:00:00Z")
	to := from.Add(12 * time.Hour)
	want := nextFires(mustParse(t, "*/10 * * * *", mustZone(t, "America/Havana")), from, to)
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		go func() {
			got := nextFires(s, from, to)
			if d := firstDifference(got, want); d >= 0 {
				errs <- fmt.Sprintf("fire %d: %v, want %v", d, around(got, d), around(want, d))
				return
			}
			errs <- ""
		}()
	}
	for g := 0; g < 8; g++ {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}
