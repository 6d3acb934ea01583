package cron

import (
	"testing"
	"time"
)

var benchCases = []struct{ name, spec, zone string }{
	{"every15min-UTC", "*/15 * * * *", "UTC"},
	{"weekdays0900-Berlin", "0 9 * * MON-FRI", "Europe/Berlin"},
	{"1st+15th-NewYork", "30 2 1,15 * *", "America/New_York"},
	{"DOM-or-DOW-StJohns", "0 9 1 * MON", "America/St_Johns"},
	{"leapday-UTC", "0 0 29 2 *", "UTC"},
	{"every5min-LordHowe", "every 5 minutes", "Australia/Lord_Howe"},
	{"1st3rdMon-Chatham", "1st,3rd monday of month 09:00", "Pacific/Chatham"},
}

// BenchmarkNext walks each schedule forward from 2025, as a scheduler does
// (Next of the previous fire), across DST transitions.
func BenchmarkNext(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			s := mustParse(b, c.spec, mustZone(b, c.zone))
			start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			at := start
			s.Next(at) // build the zone table outside the timing
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				at = s.Next(at)
				if at.Year() > 2200 {
					at = start
				}
			}
		})
	}
}

// BenchmarkNextFromArbitraryTimes is the start-up case: one Next per job
// from "now", with no previous fire to step from.
func BenchmarkNextFromArbitraryTimes(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			s := mustParse(b, c.spec, mustZone(b, c.zone))
			base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
			s.Next(time.Unix(base, 0))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.Next(time.Unix(base+int64(i%100000)*3607, 0))
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	loc := mustZone(b, "Europe/Berlin")
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := Parse(c.spec, loc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
