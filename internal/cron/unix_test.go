package cron

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUnixFires(t *testing.T) {
	runFireCases(t, []fireCase{
		// The DOM/DOW OR rule: the 1st of the month and every Monday.
		{spec: "0 9 1 * MON", from: "2025-10-01T00:00:00Z", want: []string{
			"2025-10-01T09:00:00Z", "2025-10-06T09:00:00Z", "2025-10-13T09:00:00Z", "2025-10-20T09:00:00Z",
			"2025-10-27T09:00:00Z", "2025-11-01T09:00:00Z", "2025-11-03T09:00:00Z"}},
		// Either field starting with "*" makes it AND (Vixie): the 1st, only
		// when it is a Sunday, Tuesday, Thursday or Saturday.
		// Jul 1 2025 is a Tuesday; Aug 1 (Fri), Sep 1 (Mon), Oct 1 (Wed) are not.
		{spec: "0 0 1 * */2", from: "2025-06-15T00:00:00Z", want: []string{"2025-07-01T00:00:00Z", "2025-11-01T00:00:00Z"}},
		{spec: "0 0 13 * FRI", from: "2025-06-01T00:00:00Z", want: []string{
			"2025-06-06T00:00:00Z", "2025-06-13T00:00:00Z", "2025-06-20T00:00:00Z", "2025-06-27T00:00:00Z", "2025-07-04T00:00:00Z",
			"2025-07-11T00:00:00Z", "2025-07-13T00:00:00Z"}},
		// 7 is Sunday, alone and in ranges; names are case-insensitive.
		{spec: "0 0 * * 7", from: "2025-01-01T00:00:00Z", want: []string{"2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"}},
		{spec: "0 0 * * sun", from: "2025-01-01T00:00:00Z", want: []string{"2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"}},
		{spec: "0 0 * * 5-7", from: "2025-01-01T00:00:00Z", want: []string{
			"2025-01-03T00:00:00Z", "2025-01-04T00:00:00Z", "2025-01-05T00:00:00Z", "2025-01-10T00:00:00Z"}},
		{spec: "0 12 * * 1/2", from: "2025-01-05T13:00:00Z", want: []string{ // 1-7/2: Mon, Wed, Fri, Sun
			"2025-01-06T12:00:00Z", "2025-01-08T12:00:00Z", "2025-01-10T12:00:00Z", "2025-01-12T12:00:00Z"}},
		{spec: "30 8 * JAN-MAR Mon-Fri", from: "2025-03-28T09:00:00Z", want: []string{"2025-03-31T08:30:00Z", "2026-01-01T08:30:00Z", "2026-01-02T08:30:00Z"}},
		{spec: "0 0 1 jan,Jul *", from: "2025-01-01T00:00:00Z", want: []string{"2025-07-01T00:00:00Z", "2026-01-01T00:00:00Z"}},
		// Leap days, across the non-leap 2100.
		{spec: "0 0 29 2 *", from: "2025-01-01T00:00:00Z", want: []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		{spec: "0 0 29 2 *", from: "2096-03-01T00:00:00Z", want: []string{"2104-02-29T00:00:00Z"}},
		{spec: "0 0 31 * *", from: "2025-01-31T00:01:00Z", want: []string{"2025-03-31T00:00:00Z", "2025-05-31T00:00:00Z", "2025-07-31T00:00:00Z", "2025-08-31T00:00:00Z"}},
		// Steps: */n, a-b/n, a/n.
		{spec: "*/20 9-10 * * *", from: "2025-01-01T00:00:00Z", want: []string{
			"2025-01-01T09:00:00Z", "2025-01-01T09:20:00Z", "2025-01-01T09:40:00Z", "2025-01-01T10:00:00Z",
			"2025-01-01T10:20:00Z", "2025-01-01T10:40:00Z", "2025-01-02T09:00:00Z"}},
		{spec: "5/15 * * * *", from: "2025-01-01T00:00:00Z", want: []string{
			"2025-01-01T00:05:00Z", "2025-01-01T00:20:00Z", "2025-01-01T00:35:00Z", "2025-01-01T00:50:00Z", "2025-01-01T01:05:00Z"}},
		{spec: "0 0-12/6 * * *", from: "2025-01-01T00:00:00Z", want: []string{"2025-01-01T06:00:00Z", "2025-01-01T12:00:00Z", "2025-01-02T00:00:00Z"}},
		{spec: "1,2,5-6 0 * * *", from: "2025-01-01T00:00:00Z", want: []string{
			"2025-01-01T00:01:00Z", "2025-01-01T00:02:00Z", "2025-01-01T00:05:00Z", "2025-01-01T00:06:00Z", "2025-01-02T00:01:00Z"}},
		// Strictly after: a fire time is not its own successor.
		{spec: "59 23 31 12 *", from: "2025-12-31T23:59:00Z", want: []string{"2026-12-31T23:59:00Z"}},
		{spec: "* * * * *", from: "2025-12-31T23:59:30Z", want: []string{"2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"}},
		// Odd offsets: 09:30 in Kathmandu (+05:45) is 03:45Z.
		{spec: "30 9 * * *", zone: "Asia/Kathmandu", from: "2025-06-01T00:00:00Z", want: []string{"2025-06-01T03:45:00Z", "2025-06-02T03:45:00Z"}},
		{spec: "*/20 * * * *", zone: "Asia/Kathmandu", from: "2025-06-01T00:00:00Z", want: []string{
			"2025-06-01T00:15:00Z", "2025-06-01T00:35:00Z", "2025-06-01T00:55:00Z"}},
		// Never again: the next Feb 29 after 9996 is in year 10000.
		{spec: "0 0 29 2 *", from: "9996-03-01T00:00:00Z", want: []string{"never"}},
	})
}

// Google's example: "* 0 1 1 1" runs every minute of the midnight hour on
// January 1st and on every Monday in January.
func TestUnixGoogleExample(t *testing.T) {
	s := mustParse(t, "* 0 1 1 1", time.UTC)
	got := fires(t, s, mustTime(t, "2025-12-31T23:58:00Z"), 61)
	for i := 0; i < 60; i++ {
		want := time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC).Format(time.RFC3339)
		if got[i] != want {
			t.Fatalf("fire %d = %s, want %s", i, got[i], want)
		}
	}
	if got[60] != "2026-01-05T00:00:00Z" { // the first Monday of 2026
		t.Fatalf("fire 60 = %s, want the first Monday", got[60])
	}
}

func TestUnixEquivalentSpellings(t *testing.T) {
	from := mustTime(t, "2025-01-01T00:00:00Z")
	groups := [][]string{
		{"0 0 * * 0", "0 0 * * 7", "0 0 * * SUN", "0 0 * * sun", "0 0 * * Sun"},
		{"0 9 * * 1-5", "0 9 * * MON-FRI", "0 9 * * mon,tue,wed,thu,fri", "0 9 * * 1,2-4,FRI"},
		{"0 0 * * 5-7", "0 0 * * FRI-SUN", "0 0 * * 0,5,6"},
		{"0 0 1 1-3 *", "0 0 1 JAN-MAR *", "0 0 1 jan,feb,mar *", "0 0 01 1-3 *"},
		{"*/15 * * * *", "0-59/15 * * * *", "0/15 * * * *", "0,15,30,45 * * * *"},
		{"0 0 * * *", "0 0 * * 0-7", "0 0 1-31 * *", "0 0 * 1-12 *"},
	}
	for _, g := range groups {
		want := fires(t, mustParse(t, g[0], time.UTC), from, 20)
		for _, spec := range g[1:] {
			got := fires(t, mustParse(t, spec, time.UTC), from, 20)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("%q fires %v, %q fires %v", spec, got, g[0], want)
			}
		}
	}
}

func TestUnixErrors(t *testing.T) {
	cases := []struct{ spec, want string }{
		{"", "schedule: is empty"},
		{"   ", "schedule: is empty"},
		{"0 0 * * 8", `day-of-week: "8" is out of range 0-7`},
		{"60 * * * *", `minute: "60" is out of range 0-59`},
		{"* 24 * * *", `hour: "24" is out of range 0-23`},
		{"* * 0 * *", `day-of-month: "0" is out of range 1-31`},
		{"* * 32 * *", `day-of-month: "32" is out of range 1-31`},
		{"* * * 13 *", `month: "13" is out of range 1-12`},
		{"* * * 0 *", `month: "0" is out of range 1-12`},
		{"99999999999999999999 * * * *", `minute: "99999999999999999999" is out of range 0-59`},
		{"5-1 * * * *", `minute: "5-1" is a reversed range`},
		{"0 0 * * FRI-MON", `day-of-week: "FRI-MON" is a reversed range`},
		{"*/0 * * * *", `minute: "*/0" has step 0`},
		{"*/61 * * * *", `minute: "*/61" has step 61, larger than the field's range 0-59`},
		{"*/ * * * *", `minute: "*/" has step "", which is not a number`},
		{"*/x * * * *", `minute: "*/x" has step "x"`},
		{"/5 * * * *", `minute: "/5" has no range before /`},
		{"1- * * * *", `minute: "1-" has a range with a missing end`},
		{"1,,2 * * * *", `minute: "1,,2" has an empty list item`},
		{"1, * * * *", `minute: "1," has an empty list item`},
		{"*-5 * * * *", `minute: "*" is not a number`},
		{"0 0 * * * *", "schedule: has 6 fields; Cloud Scheduler takes exactly 5"},
		{"0 0 0 * * * 2025", "schedule: has 7 fields; Cloud Scheduler takes exactly 5"},
		{"0 0 *", "schedule: has 3 fields; want 5"},
		{"0 0 1 * 1 extra", "schedule: has 6 fields"},
		{"0 0 L * *", `day-of-month: "L" uses L or W`},
		{"0 0 15W * *", `day-of-month: "15W" uses L or W`},
		{"0 0 * * 5L", `day-of-week: "5L" uses L or W`},
		{"0 0 * * 5#3", `day-of-week: "5#3" uses ? or #`},
		{"0 0 ? * MON", `day-of-month: "?" uses ? or #`},
		{"@daily", `schedule: "@daily" is a macro; Cloud Scheduler documents only the 5-field form, here "0 0 * * *"`},
		{"@every 5m", `schedule: "@every" is a macro`},
		{"CRON_TZ=UTC 0 0 * * *", `schedule: "CRON_TZ=UTC" is a time-zone prefix`},
		{"daily", `schedule: "daily" starts neither`},
		{"last monday of month 09:00", `there is no "last"`},
		{"0 0 * * MONDAY", `day-of-week: "MONDAY" is not a day of the week (0-7 or SUN-SAT)`},
		{"0 0 * JANUARY *", `month: "JANUARY" is not a month (1-12 or JAN-DEC)`},
		{"0 JAN * * *", `hour: "JAN" is not a number (0-23)`},
		{"0 0 * * 1x", `day-of-week: "1x" is not a day of the week`},
		{"0 0 * * 1-", `day-of-week: "1-" has a range with a missing end`},
		{"0 0 * * -1", `day-of-week: "-1" has a range with a missing end`},
		{"0 0 31 2 *", `day-of-month: "31" never occurs in month "2", so the schedule would never fire`},
		{"0 0 30,31 FEB *", `day-of-month: "30,31" never occurs in month "FEB"`},
		{"0 0 31 4,6,9,11 *", `day-of-month: "31" never occurs`},
		{"0 0 31 2 */2", `never occurs`}, // ANDed with a "*/2" day-of-week: still never
	}
	for _, c := range cases {
		_, err := Parse(c.spec, time.UTC)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error %q", c.spec, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %q, want it to contain %q", c.spec, err, c.want)
		}
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Spec != c.spec || pe.Field == "" {
			t.Errorf("Parse(%q): error %#v is not a ParseError naming the spec and field", c.spec, err)
		}
	}
}

// A schedule that can fire only in some years is fine: only "never" is refused.
func TestUnixRareButValid(t *testing.T) {
	for _, spec := range []string{"0 0 29 2 *", "0 0 31 2 1", "0 0 30 2 MON", "0 0 31 1-2 *"} {
		if _, err := Parse(spec, time.UTC); err != nil {
			t.Errorf("Parse(%q): %v", spec, err)
		}
	}
}

func TestParseErrorFields(t *testing.T) {
	_, err := Parse("0 0 * * 8", time.UTC)
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("got %T", err)
	}
	if pe.Field != "day-of-week" || pe.Token != "8" || pe.Spec != "0 0 * * 8" {
		t.Fatalf("got %+v", pe)
	}
	if got, want := err.Error(), `day-of-week: "8" is out of range 0-7`; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

func TestStringIsTheSpecAsGiven(t *testing.T) {
	for _, spec := range []string{" 0  9 * * mon ", "Every 5 Minutes"} {
		if got := mustParse(t, spec, time.UTC).String(); got != spec {
			t.Errorf("String() = %q, want %q", got, spec)
		}
	}
}

func TestIsEnglish(t *testing.T) {
	for spec, want := range map[string]bool{
		"every 5 minutes":               true,
		"Every Monday 09:00":            true,
		"every5 mins":                   true,
		"1st,3rd monday of month 09:00": true,
		"first sunday of quarter 00:00": true,
		"2nd,third mon of march 17:00":  true,
		"1,15 of month 09:00":           true,
		"31 of jan 00:00":               true,
		"0 9 * * 1":                     false,
		"*/5 * * * *":                   false,
		"0 0 1 JAN *":                   false,
		"@daily":                        false,
		"":                              false,
		"daily":                         false,
		"1,15 month 09:00":              true, // malformed, but English-like: its parser explains
		"monday 09:00":                  true,
	} {
		if got := IsEnglish(spec); got != want {
			t.Errorf("IsEnglish(%q) = %v, want %v", spec, got, want)
		}
	}
}

func TestNextAcceptsAnyZoneAndSubSecondInput(t *testing.T) {
	s := mustParse(t, "0 * * * *", mustZone(t, "Europe/Berlin"))
	tokyo := mustZone(t, "Asia/Tokyo")
	in := time.Date(2025, 6, 1, 10, 59, 59, 999999999, tokyo) // 01:59:59.999999999Z
	if got, want := s.Next(in), mustTime(t, "2025-06-01T02:00:00Z"); !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("Next = %v, want %v in UTC", got, want)
	}
	// Exactly on a fire time: the next one, not the same.
	if got, want := s.Next(mustTime(t, "2025-06-01T02:00:00Z")), mustTime(t, "2025-06-01T03:00:00Z"); !got.Equal(want) {
		t.Fatalf("Next = %v, want %v", got, want)
	}
	// Half a second before it: it.
	if got, want := s.Next(mustTime(t, "2025-06-01T02:00:00Z").Add(-time.Second/2)), mustTime(t, "2025-06-01T02:00:00Z"); !got.Equal(want) {
		t.Fatalf("Next = %v, want %v", got, want)
	}
}

func TestNextAtTheEdgesOfTime(t *testing.T) {
	s := mustParse(t, "0 0 1 1 *", time.UTC)
	if got := s.Next(time.Time{}); !got.Equal(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Add(0)) && !got.Equal(time.Date(2, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("Next(zero) = %v", got)
	}
	if got := s.Next(time.Date(-500, 1, 1, 0, 0, 0, 0, time.UTC)); !got.Equal(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("Next(year -500) = %v, want 0001-01-01", got)
	}
	if got := s.Next(time.Date(9999, 6, 1, 0, 0, 0, 0, time.UTC)); !got.IsZero() {
		t.Fatalf("Next(9999-06) = %v, want zero", got)
	}
	if got := s.Next(time.Unix(1<<62, 0)); !got.IsZero() {
		t.Fatalf("Next(far future) = %v, want zero", got)
	}
}
