package cron

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEnglishFires(t *testing.T) {
	runFireCases(t, []fireCase{
		// Intervals: aligned to the start of the day (oidcron's choice).
		{spec: "every 5 minutes", from: "2025-01-01T00:03:00Z", want: []string{"2025-01-01T00:05:00Z", "2025-01-01T00:10:00Z"}},
		{spec: "every 5 mins", from: "2025-01-01T23:57:00Z", want: []string{"2025-01-02T00:00:00Z", "2025-01-02T00:05:00Z"}},
		{spec: "every 1 minutes", from: "2025-01-01T00:00:30Z", want: []string{"2025-01-01T00:01:00Z", "2025-01-01T00:02:00Z"}},
		// 7 does not divide the day: 23:55 is the last slot, then 00:00.
		{spec: "every 7 minutes", from: "2025-01-01T23:50:00Z", want: []string{"2025-01-01T23:55:00Z", "2025-01-02T00:00:00Z", "2025-01-02T00:07:00Z"}},
		{spec: "every 12 hours", from: "2025-01-01T00:00:00Z", want: []string{"2025-01-01T12:00:00Z", "2025-01-02T00:00:00Z"}},
		{spec: "every 24 hours", from: "2025-01-01T05:00:00Z", want: []string{"2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z"}},
		{spec: "every 5 hours", from: "2025-01-01T19:00:00Z", want: []string{"2025-01-01T20:00:00Z", "2025-01-02T00:00:00Z", "2025-01-02T05:00:00Z"}},
		// Longer than a day: counted from 1970-01-01 00:00 on the wall clock.
		{spec: "every 36 hours", from: "2025-01-01T00:00:00Z", want: []string{"2025-01-01T12:00:00Z", "2025-01-03T00:00:00Z", "2025-01-04T12:00:00Z"}},
		// 2025-01-02 is day 20090 since 1970-01-01, an even one.
		{spec: "every 48 hours", zone: "Asia/Tokyo", from: "2025-01-01T00:00:00Z", want: []string{"2025-01-01T15:00:00Z", "2025-01-03T15:00:00Z"}},
		// Windows, inclusive of the end when on the interval.
		{spec: "every 10 mins from 10:00 to 10:30", from: "2025-01-01T00:00:00Z", want: []string{
			"2025-01-01T10:00:00Z", "2025-01-01T10:10:00Z", "2025-01-01T10:20:00Z", "2025-01-01T10:30:00Z", "2025-01-02T10:00:00Z"}},
		{spec: "every 2 hours from 10:00 to 13:00", from: "2025-01-01T00:00:00Z", want: []string{
			"2025-01-01T10:00:00Z", "2025-01-01T12:00:00Z", "2025-01-02T10:00:00Z"}},
		{spec: "every 45 minutes from 22:00 to 02:00", from: "2025-01-01T12:00:00Z", want: []string{
			"2025-01-01T22:00:00Z", "2025-01-01T22:45:00Z", "2025-01-01T23:30:00Z", "2025-01-02T00:15:00Z",
			"2025-01-02T01:00:00Z", "2025-01-02T01:45:00Z", "2025-01-02T22:00:00Z"}},
		{spec: "every 5 minutes from 09:30 to 09:30", from: "2025-01-01T00:00:00Z", want: []string{"2025-01-01T09:30:00Z", "2025-01-02T09:30:00Z"}},
		{spec: "every 2 hours synchronized", from: "2025-01-01T01:00:00Z", want: []string{"2025-01-01T02:00:00Z", "2025-01-01T04:00:00Z"}},
		{spec: "every 90 minutes synchronized", from: "2025-01-01T22:00:00Z", want: []string{"2025-01-01T22:30:00Z", "2025-01-02T00:00:00Z", "2025-01-02T01:30:00Z"}},
		// Specific times.
		{spec: "every day 00:00", from: "2025-01-01T00:00:00Z", want: []string{"2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z"}},
		{spec: "every monday 09:00", from: "2025-01-01T00:00:00Z", want: []string{"2025-01-06T09:00:00Z", "2025-01-13T09:00:00Z"}},
		{spec: "every mon,wed,friday 9:05", from: "2025-01-06T10:00:00Z", want: []string{"2025-01-08T09:05:00Z", "2025-01-10T09:05:00Z", "2025-01-13T09:05:00Z"}},
		{spec: "EVERY Monday , Wednesday 09:00", from: "2025-01-06T10:00:00Z", want: []string{"2025-01-08T09:00:00Z", "2025-01-13T09:00:00Z"}},
		{spec: "every monday 09:00", zone: "Australia/NSW", from: "2025-01-01T00:00:00Z", want: []string{"2025-01-05T22:00:00Z"}},
		{spec: "1st,3rd monday of month 09:00", from: "2025-01-01T00:00:00Z", want: []string{
			"2025-01-06T09:00:00Z", "2025-01-20T09:00:00Z", "2025-02-03T09:00:00Z", "2025-02-17T09:00:00Z"}},
		{spec: "2nd,third mon,wed,thu of march 17:00", from: "2025-01-01T00:00:00Z", want: []string{
			"2025-03-10T17:00:00Z", "2025-03-12T17:00:00Z", "2025-03-13T17:00:00Z", "2025-03-17T17:00:00Z",
			"2025-03-19T17:00:00Z", "2025-03-20T17:00:00Z", "2026-03-09T17:00:00Z"}},
		{spec: "1st monday of sep,oct,nov 17:00", from: "2025-01-01T00:00:00Z", want: []string{
			"2025-09-01T17:00:00Z", "2025-10-06T17:00:00Z", "2025-11-03T17:00:00Z", "2026-09-07T17:00:00Z"}},
		{spec: "every day of jan,jul 00:00", from: "2025-01-31T00:00:00Z", want: []string{"2025-07-01T00:00:00Z", "2025-07-02T00:00:00Z"}},
		{spec: "every wed,fri of jan,jun 13:15", from: "2025-01-29T14:00:00Z", want: []string{"2025-01-31T13:15:00Z", "2025-06-04T13:15:00Z"}},
		{spec: "5th friday of month 12:00", from: "2025-01-01T00:00:00Z", want: []string{"2025-01-31T12:00:00Z", "2025-05-30T12:00:00Z"}},
		{spec: "fourth thu of nov 12:00", from: "2025-01-01T00:00:00Z", want: []string{"2025-11-27T12:00:00Z", "2026-11-26T12:00:00Z"}},
		// Quarters.
		{spec: "first sunday of quarter 00:00", from: "2025-01-01T00:00:00Z", want: []string{
			"2025-01-05T00:00:00Z", "2025-04-06T00:00:00Z", "2025-07-06T00:00:00Z", "2025-10-05T00:00:00Z"}},
		{spec: "1st monday of 2nd month of quarter 10:00", from: "2025-01-01T00:00:00Z", want: []string{
			"2025-02-03T10:00:00Z", "2025-05-05T10:00:00Z", "2025-08-04T10:00:00Z", "2025-11-03T10:00:00Z"}},
		{spec: "1 of 1st,third month of quarter 00:00", from: "2025-01-01T00:00:00Z", want: []string{
			"2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z", "2025-06-01T00:00:00Z"}},
		// Days of the month, by number or "<ordinal> day".
		{spec: "1,15 of month 09:00", from: "2025-01-01T10:00:00Z", want: []string{"2025-01-15T09:00:00Z", "2025-02-01T09:00:00Z"}},
		{spec: "31 of jan,feb 00:00", from: "2025-01-01T00:00:00Z", want: []string{"2025-01-31T00:00:00Z", "2026-01-31T00:00:00Z"}},
		{spec: "29 of feb 12:00", from: "2025-01-01T00:00:00Z", want: []string{"2028-02-29T12:00:00Z"}},
		{spec: "1st,3rd day of month 06:00", from: "2025-01-01T07:00:00Z", want: []string{"2025-01-03T06:00:00Z", "2025-02-01T06:00:00Z"}},
		{spec: "2nd day 06:00", from: "2025-01-01T07:00:00Z", want: []string{"2025-01-02T06:00:00Z", "2025-02-02T06:00:00Z"}},
		// Groc needs no spaces between words.
		{spec: "every5 mins", from: "2025-01-01T00:03:00Z", want: []string{"2025-01-01T00:05:00Z"}},
		{spec: "everyday 10:00", from: "2025-01-01T00:00:00Z", want: []string{"2025-01-01T10:00:00Z"}},
		{spec: "1stmonday of month 10:00", from: "2025-01-01T00:00:00Z", want: []string{"2025-01-06T10:00:00Z"}},
	})
}

func TestEnglishErrors(t *testing.T) {
	cases := []struct{ spec, want string }{
		{"every 1 hour", `"hour" is not a word of the English-like schedule grammar: write "hours", even for 1`},
		{"every 10 min", `"min" is not a word of the English-like schedule grammar: write "mins" or "minutes"`},
		{"every 2 hrs", `"hrs" is not a word`},
		{"every 0 minutes", `interval: "0" must be at least 1`},
		{"every 123456 minutes", `number: "123456" has more than 5 digits`},
		{"every 5", `schedule: ends where "hours", "mins" or "minutes" was expected`},
		{"every 5 days", `"days" is not a word`},
		{"every 7 minutes synchronized", `interval: "synchronized" needs an interval that divides 24 hours evenly; 7 minutes does not`},
		{"every 5 hours synchronized", `divides 24 hours evenly`},
		{"every 48 hours synchronized", `divides 24 hours evenly`},
		{"every 5 minutes from 10:00", `schedule: ends where "to" was expected`},
		{"every 5 minutes from 10:00 to", `ends where an end time HH:MM after "to" was expected`},
		{"every 5 minutes from to 11:00", `schedule: "to" is out of place: expected a start time HH:MM after "from"`},
		{"every 5 minutes from 10:00 to 11:00 synchronized", `interval: "synchronized" cannot be combined with "from ... to ..."`},
		{"every 5 minutes 10:00", `schedule: "10:00" is out of place: expected the end of the schedule`},
		{"every monday", `schedule: ends where a time HH:MM was expected`},
		{"every monday 24:00", `time: "24:00" is not a 24-hour time`},
		{"every monday 9:60", `time: "9:60" is not a 24-hour time`},
		{"every monday 009:00", `time: "009:00" is not a 24-hour time`},
		{"every monday 9:0", `time: "9:0" is not a 24-hour time`},
		{"every mondays 09:00", `"mondays" is not a word`},
		{"every monday at 09:00", `"at" is not a word of the English-like schedule grammar: the time follows the days directly`},
		{"every monday and friday 09:00", `separate items with commas`},
		{"every weekday 09:00", `name the days`},
		{"every monday 09:00 10:00", `"10:00" is out of place: expected the end of the schedule`},
		{"every monday of 09:00", `"09:00" is out of place: expected "month", month names`},
		{"every mon, 09:00", `"09:00" is out of place: expected a day name after ","`},
		{"every of month 09:00", `"of" is out of place: expected "day" or a day name`},
		{"6th monday of month 09:00", `ordinal: "6th" is not an ordinal of the grammar`},
		{"1th monday of month 09:00", `ordinal: "1th" is not an ordinal`},
		{"21st of month 09:00", `ordinal: "21st" is not an ordinal`},
		{"1st monday of 4th month of quarter 09:00", `quarter: "4th" is not a month of a quarter`},
		{"1st monday of 1st month 09:00", `"09:00" is out of place: expected "month of quarter"`},
		{"1st, monday of month 09:00", `"monday" is out of place: expected an ordinal`},
		{"1st monday of jan, 09:00", `expected a month name after ","`},
		{"32 of month 00:00", `day-of-month: "32" is out of range 1-31`},
		{"0 of jan 00:00", `day-of-month: "0" is out of range 1-31`},
		{"30,31 of feb 00:00", `day-of-month: "30,31" is no date in the months given, so the schedule would never fire`},
		{"31 of apr,jun 00:00", `never fire`},
		{"1,15 month 09:00", `"month" is out of place: expected "of" after days of the month`},
		{"every monday 09:00!", `schedule: "!" is not allowed in an English-like schedule`},
		{"every sept 09:00", `write "sep" or "september"`},
		{"every 5 minutes from 10:00 until 11:00", `"until" is not a word`},
		{"monday 09:00", `schedule: "monday" is out of place: expected "every", an ordinal (1st, first, ...) or days of the month`},
	}
	for _, c := range cases {
		_, err := Parse(c.spec, time.UTC)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error %q", c.spec, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %q\n\twant it to contain %q", c.spec, err, c.want)
		}
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Spec != c.spec || pe.Field == "" {
			t.Errorf("Parse(%q): error %#v is not a ParseError naming the spec and field", c.spec, err)
		}
	}
}

func TestEnglishEquivalentSpellings(t *testing.T) {
	from := mustTime(t, "2025-01-01T00:00:00Z")
	groups := [][]string{
		{"every 5 minutes", "every 5 mins", "every 5 minutes synchronized", "every 5 minutes from 00:00 to 23:59", "*/5 * * * *"},
		{"every 2 hours", "every 2 hours synchronized", "every 120 minutes", "0 */2 * * *"},
		{"every monday 09:00", "every mon 09:00", "every monday of month 09:00", "0 9 * * 1",
			"1st,2nd,3rd,4th,5th monday 09:00", "first,second,third,fourth,fifth mon of month 09:00"},
		{"every day 00:00", "every day of month 00:00", "every sun,mon,tue,wed,thu,fri,sat 00:00", "0 0 * * *"},
		{"first sunday of quarter 00:00", "1st sunday of jan,apr,jul,oct 00:00", "1st sun of first month of quarter 00:00"},
		{"1,15 of month 09:00", "0 9 1,15 * *"},
		{"1st day of month 00:00", "1 of month 00:00", "0 0 1 * *"},
		{"every day of september 08:00", "every day of sep 08:00", "0 8 * 9 *"},
	}
	for _, g := range groups {
		want := fires(t, mustParse(t, g[0], time.UTC), from, 30)
		for _, spec := range g[1:] {
			got := fires(t, mustParse(t, spec, time.UTC), from, 30)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("%q fires %v\n%q fires %v", spec, got, g[0], want)
			}
		}
	}
}
