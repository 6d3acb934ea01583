package cron

import (
	"fmt"
	"testing"
	"time"
)

// The DST policy (DESIGN.md): a wall time that does not exist fires once, at
// the first instant after the gap; a wall time that occurs twice fires once,
// at its first occurrence. Every expected instant below was worked out by
// hand from the zone's rules (noted per zone), not read back from the code.
func TestDSTTransitions(t *testing.T) {
	runFireCases(t, []fireCase{
		// Europe/Berlin: 2025-03-30 01:00Z 02:00 CET -> 03:00 CEST;
		// 2025-10-26 01:00Z 03:00 CEST -> 02:00 CET.
		{zone: "Europe/Berlin", spec: "30 2 * * *", from: "2025-03-28T12:00:00Z", want: []string{
			"2025-03-29T01:30:00Z", // 02:30 CET
			"2025-03-30T01:00:00Z", // 02:30 does not exist: 03:00 CEST
			"2025-03-31T00:30:00Z", // 02:30 CEST
		}},
		{zone: "Europe/Berlin", spec: "30 2 * * *", from: "2025-10-24T12:00:00Z", want: []string{
			"2025-10-25T00:30:00Z", // 02:30 CEST
			"2025-10-26T00:30:00Z", // 02:30 CEST, the first of two
			"2025-10-27T01:30:00Z", // 02:30 CET
		}},
		{zone: "Europe/Berlin", spec: "*/15 * * * *", from: "2025-03-30T00:30:00Z", want: []string{
			"2025-03-30T00:45:00Z", // 01:45 CET
			"2025-03-30T01:00:00Z", // 02:00, 02:15, 02:30, 02:45 and 03:00 CEST, once
			"2025-03-30T01:15:00Z", // 03:15 CEST
		}},
		{zone: "Europe/Berlin", spec: "*/15 * * * *", from: "2025-10-25T23:45:00Z", want: []string{
			"2025-10-26T00:00:00Z", "2025-10-26T00:15:00Z", "2025-10-26T00:30:00Z", "2025-10-26T00:45:00Z", // 02:xx CEST
			"2025-10-26T02:00:00Z", // 02:xx CET already fired: next is 03:00 CET
			"2025-10-26T02:15:00Z",
		}},
		// Asked from inside the second 02:xx hour.
		{zone: "Europe/Berlin", spec: "*/15 * * * *", from: "2025-10-26T01:20:00Z", want: []string{"2025-10-26T02:00:00Z"}},
		{zone: "Europe/Berlin", spec: "30 2 * * *", from: "2025-10-26T01:10:00Z", want: []string{"2025-10-27T01:30:00Z"}},
		{zone: "Europe/Berlin", spec: "every 5 minutes", from: "2025-03-30T00:50:00Z", want: []string{
			"2025-03-30T00:55:00Z", "2025-03-30T01:00:00Z", "2025-03-30T01:05:00Z"}},
		{zone: "Europe/Berlin", spec: "every 5 minutes", from: "2025-10-26T00:50:00Z", want: []string{
			"2025-10-26T00:55:00Z", "2025-10-26T02:00:00Z", "2025-10-26T02:05:00Z"}},

		// America/New_York: 2025-03-09 07:00Z 02:00 EST -> 03:00 EDT;
		// 2025-11-02 06:00Z 02:00 EDT -> 01:00 EST.
		{zone: "America/New_York", spec: "30 2 * * *", from: "2025-03-07T12:00:00Z", want: []string{
			"2025-03-08T07:30:00Z", "2025-03-09T07:00:00Z", "2025-03-10T06:30:00Z"}},
		{zone: "America/New_York", spec: "30 1 * * *", from: "2025-10-31T12:00:00Z", want: []string{
			"2025-11-01T05:30:00Z", "2025-11-02T05:30:00Z", "2025-11-03T06:30:00Z"}},
		{zone: "America/New_York", spec: "*/15 * * * *", from: "2025-03-09T06:30:00Z", want: []string{
			"2025-03-09T06:45:00Z", "2025-03-09T07:00:00Z", "2025-03-09T07:15:00Z"}},
		{zone: "America/New_York", spec: "*/15 * * * *", from: "2025-11-02T05:30:00Z", want: []string{
			"2025-11-02T05:45:00Z", "2025-11-02T07:00:00Z", "2025-11-02T07:15:00Z"}},

		// America/St_Johns (-03:30/-02:30): 2025-03-09 05:30Z 02:00 NST ->
		// 03:00 NDT; 2025-11-02 04:30Z 02:00 NDT -> 01:00 NST.
		{zone: "America/St_Johns", spec: "30 2 * * *", from: "2025-03-07T12:00:00Z", want: []string{
			"2025-03-08T06:00:00Z", "2025-03-09T05:30:00Z", "2025-03-10T05:00:00Z"}},
		{zone: "America/St_Johns", spec: "30 1 * * *", from: "2025-10-31T12:00:00Z", want: []string{
			"2025-11-01T04:00:00Z", "2025-11-02T04:00:00Z", "2025-11-03T05:00:00Z"}},
		{zone: "America/St_Johns", spec: "*/15 * * * *", from: "2025-03-09T05:00:00Z", want: []string{
			"2025-03-09T05:15:00Z", "2025-03-09T05:30:00Z", "2025-03-09T05:45:00Z"}},
		{zone: "America/St_Johns", spec: "*/15 * * * *", from: "2025-11-02T03:45:00Z", want: []string{
			"2025-11-02T04:00:00Z", "2025-11-02T04:15:00Z", "2025-11-02T05:30:00Z", "2025-11-02T05:45:00Z"}},

		// Asia/Kathmandu has no DST; its one forward change was 1986-01-01,
		// +05:30 -> +05:45 at 1985-12-31 18:30Z (00:00-00:14 never existed).
		// It never went back, so there is no repeated time to test there.
		{zone: "Asia/Kathmandu", spec: "0 0 * * *", from: "1985-12-29T12:00:00Z", want: []string{
			"1985-12-29T18:30:00Z", "1985-12-30T18:30:00Z",
			"1985-12-31T18:30:00Z", // 00:00 does not exist: 00:15 +05:45
			"1986-01-01T18:15:00Z", // 00:00 +05:45
		}},
		{zone: "Asia/Kathmandu", spec: "10 0 * * *", from: "1985-12-30T12:00:00Z", want: []string{
			"1985-12-30T18:40:00Z", "1985-12-31T18:30:00Z", "1986-01-01T18:25:00Z"}},
		{zone: "Asia/Kathmandu", spec: "*/15 * * * *", from: "1985-12-31T18:00:00Z", want: []string{
			"1985-12-31T18:15:00Z", // 23:45 +05:30
			"1985-12-31T18:30:00Z", // 00:00 (gap) and 00:15 +05:45, once
			"1985-12-31T18:45:00Z", // 00:30 +05:45
		}},

		// Australia/Lord_Howe (+10:30/+11:00, a 30-minute shift):
		// 2025-04-05 15:00Z 02:00 +11 -> 01:30 +10:30 (01:30-01:59 twice);
		// 2025-10-04 15:30Z 02:00 +10:30 -> 02:30 +11 (02:00-02:29 never).
		{zone: "Australia/Lord_Howe", spec: "15 2 * * *", from: "2025-10-03T00:00:00Z", want: []string{
			"2025-10-03T15:45:00Z", "2025-10-04T15:30:00Z", "2025-10-05T15:15:00Z"}},
		{zone: "Australia/Lord_Howe", spec: "45 1 * * *", from: "2025-04-04T00:00:00Z", want: []string{
			"2025-04-04T14:45:00Z", "2025-04-05T14:45:00Z", "2025-04-06T15:15:00Z"}},
		{zone: "Australia/Lord_Howe", spec: "*/15 * * * *", from: "2025-10-04T15:00:00Z", want: []string{
			"2025-10-04T15:15:00Z", "2025-10-04T15:30:00Z", "2025-10-04T15:45:00Z"}},
		{zone: "Australia/Lord_Howe", spec: "*/15 * * * *", from: "2025-04-05T14:15:00Z", want: []string{
			"2025-04-05T14:30:00Z", "2025-04-05T14:45:00Z", "2025-04-05T15:30:00Z", "2025-04-05T15:45:00Z"}},
		{zone: "Australia/Lord_Howe", spec: "every 2 hours", from: "2025-10-04T13:00:00Z", want: []string{
			"2025-10-04T13:30:00Z", "2025-10-04T15:30:00Z", "2025-10-04T17:00:00Z"}},
		{zone: "Australia/Lord_Howe", spec: "every 2 hours", from: "2025-04-05T12:00:00Z", want: []string{
			"2025-04-05T13:00:00Z", "2025-04-05T15:30:00Z", "2025-04-05T17:30:00Z"}},

		// Pacific/Chatham (+12:45/+13:45): 2025-04-05 14:00Z 03:45 +13:45 ->
		// 02:45 +12:45 (02:45-03:44 twice); 2025-09-27 14:00Z 02:45 +12:45
		// -> 03:45 +13:45 (02:45-03:44 never).
		{zone: "Pacific/Chatham", spec: "0 3 * * *", from: "2025-09-26T00:00:00Z", want: []string{
			"2025-09-26T14:15:00Z", "2025-09-27T14:00:00Z", "2025-09-28T13:15:00Z"}},
		{zone: "Pacific/Chatham", spec: "0 3 * * *", from: "2025-04-04T00:00:00Z", want: []string{
			"2025-04-04T13:15:00Z", "2025-04-05T13:15:00Z", "2025-04-06T14:15:00Z"}},
		{zone: "Pacific/Chatham", spec: "*/15 * * * *", from: "2025-09-27T13:30:00Z", want: []string{
			"2025-09-27T13:45:00Z", "2025-09-27T14:00:00Z", "2025-09-27T14:15:00Z"}},
		{zone: "Pacific/Chatham", spec: "*/15 * * * *", from: "2025-04-05T13:30:00Z", want: []string{
			"2025-04-05T13:45:00Z", "2025-04-05T15:00:00Z", "2025-04-05T15:15:00Z"}},
		{zone: "Pacific/Chatham", spec: "every 5 minutes", from: "2025-04-05T13:50:00Z", want: []string{
			"2025-04-05T13:55:00Z", "2025-04-05T15:00:00Z"}},
		{zone: "Pacific/Chatham", spec: "every day 03:00", from: "2025-09-26T00:00:00Z", want: []string{
			"2025-09-26T14:15:00Z", "2025-09-27T14:00:00Z", "2025-09-28T13:15:00Z"}},
	})
}

// oracleFires is the DST policy by brute force, independent of Next: walk
// the instants minute by minute; a slot c fires at the first instant whose
// wall clock reads c or later, so the instant u fires when a slot lies in
// (the latest wall time before u, the wall time at u]. It needs offsets and
// transitions on whole minutes, which all zones have had since 1980.
func oracleFires(s slots, loc *time.Location, from, to time.Time) []string {
	civil := func(u time.Time) int64 {
		_, off := u.Zone()
		return (u.Unix() + int64(off)) / 60
	}
	var out []string
	seen := int64(-1 << 62)
	for u := from.Truncate(time.Minute).Add(-30 * time.Hour).In(loc); !u.After(to); u = u.Add(time.Minute) {
		c := civil(u)
		if u.After(from) {
			for slot := max(seen+1, c-24*60); slot <= c; slot++ {
				if s.contains(slot) {
					out = append(out, u.UTC().Format(time.RFC3339))
					break
				}
			}
		}
		seen = max(seen, c)
	}
	return out
}

func nextFires(s Schedule, from, to time.Time) []string {
	var out []string
	for at := s.Next(from); !at.IsZero() && !at.After(to); at = s.Next(at) {
		out = append(out, at.Format(time.RFC3339))
	}
	return out
}

// TestDSTAgainstOracle checks every fire over two days around each
// transition of 2025 (1986 for Kathmandu) against the brute-force policy:
// nothing fires twice, nothing is skipped, in zones with 30-, 60- and
// 120-minute shifts, odd offsets and transitions at midnight.
func TestDSTAgainstOracle(t *testing.T) {
	zones := []struct {
		name string
		year int
	}{
		{"Europe/Berlin", 2025}, {"America/New_York", 2025}, {"America/St_Johns", 2025},
		{"Asia/Kathmandu", 1985}, {"Australia/Lord_Howe", 2025}, {"Pacific/Chatham", 2025},
		{"America/Santiago", 2025},   // changes at 24:00: the gap is the midnight hour
		{"Antarctica/Troll", 2025},   // a 2-hour shift
		{"Africa/Casablanca", 2025},  // four changes a year, around Ramadan
		{"America/Havana", 2025},     // changes at 00:00/01:00
		{"Australia/Adelaide", 2025}, // +09:30/+10:30
		{"Europe/London", 2025},
	}
	specs := []string{
		"*/15 * * * *", "* * * * *", "0 * * * *", "30 * * * *", "*/7 * * * *", "30 2 * * *", "30 1 * * *",
		"0 0 * * *", "15 0 * * *", "0 3 * * *", "45 1 * * *", "15 2 * * *", "59 23 * * *", "0 0,12 * * *",
		"every 5 minutes", "every 2 hours", "every 25 minutes from 23:00 to 04:00", "every 30 hours", "every day 02:30",
	}
	compared := 0
	defer func() {
		// Guard against a vacuous pass: 12 zones, 2-4 transitions, 19 specs.
		if compared < 50000 {
			t.Errorf("only %d fires compared", compared)
		}
	}()
	for _, z := range zones {
		loc := mustZone(t, z.name)
		tr := transitions(loc, z.year)
		if len(tr) == 0 {
			t.Fatalf("%s: no transitions in %d", z.name, z.year)
		}
		for _, at := range tr {
			from, to := at.Add(-26*time.Hour), at.Add(26*time.Hour)
			for _, spec := range specs {
				s := mustParse(t, spec, loc)
				want := oracleFires(s.(*schedule).slots, loc, from, to)
				got := nextFires(s, from, to)
				compared += len(want)
				if d := firstDifference(got, want); d >= 0 {
					t.Errorf("%s, transition %s, %q: fire %d differs:\n got %v\nwant %v",
						z.name, at.Format(time.RFC3339), spec, d, around(got, d), around(want, d))
				}
			}
		}
	}
}

// transitions lists the instants in year y at which loc's offset changes.
func transitions(loc *time.Location, y int) []time.Time {
	var out []time.Time
	u := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(y+1, 1, 1, 0, 0, 0, 0, time.UTC)
	_, prev := u.In(loc).Zone()
	for ; u.Before(end); u = u.Add(15 * time.Minute) {
		if _, off := u.In(loc).Zone(); off != prev {
			out = append(out, u)
			prev = off
		}
	}
	return out
}

// TestFireTimesNeverRepeatOrGoBack walks a whole year of a per-minute
// schedule in each zone with Next, checking that fires strictly increase and
// counting them: one per wall-clock minute of the year, except that the
// shift's minutes in the gap fire together with the first minute after it
// (one fire for shift+1 slots), while each repeated minute fires once.
func TestFireTimesNeverRepeatOrGoBack(t *testing.T) {
	for _, name := range []string{"Europe/Berlin", "Australia/Lord_Howe", "Pacific/Chatham", "America/St_Johns"} {
		loc := mustZone(t, name)
		s := mustParse(t, "* * * * *", loc)
		from := time.Date(2025, 1, 1, 0, 0, 0, 0, loc)
		to := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
		n := 0
		prev := from
		for at := s.Next(from); !at.After(to); at = s.Next(at) {
			if !at.After(prev) {
				t.Fatalf("%s: %v after %v", name, at, prev)
			}
			prev = at
			n++
		}
		var shift int
		if tr := transitions(loc, 2025); len(tr) == 2 {
			_, a := tr[0].Add(-time.Minute).In(loc).Zone()
			_, b := tr[0].In(loc).Zone()
			shift = abs(b-a) / 60
		}
		if want := 365*24*60 - shift; n != want {
			t.Errorf("%s: %d fires in 2025, want %d", name, n, want)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func ExampleSchedule_dst() {
	berlin, _ := LoadZone("Europe/Berlin")
	s, _ := Parse("30 2 * * *", berlin)
	at := time.Date(2025, 3, 29, 12, 0, 0, 0, berlin)
	for i := 0; i < 2; i++ {
		at = s.Next(at)
		fmt.Println(at.In(berlin).Format("2006-01-02 15:04 MST"))
	}
	at = time.Date(2025, 10, 25, 12, 0, 0, 0, berlin)
	for i := 0; i < 2; i++ {
		at = s.Next(at)
		fmt.Println(at.In(berlin).Format("2006-01-02 15:04 MST"))
	}
	// Output:
	// 2025-03-30 03:00 CEST
	// 2025-03-31 02:30 CEST
	// 2025-10-26 02:30 CEST
	// 2025-10-27 02:30 CET
}
