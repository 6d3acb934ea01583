package cron

import (
	"testing"
	"time"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := LoadZone(name)
	if err != nil {
		t.Fatalf("LoadZone(%q): %v", name, err)
	}
	return loc
}

func mustParse(t testing.TB, spec string, loc *time.Location) Schedule {
	t.Helper()
	s, err := Parse(spec, loc)
	if err != nil {
		t.Fatalf("Parse(%q): %v", spec, err)
	}
	return s
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return v
}

// fires returns the first n fire times after from, as RFC 3339 UTC.
func fires(t testing.TB, s Schedule, from time.Time, n int) []string {
	t.Helper()
	var out []string
	at := from
	for i := 0; i < n; i++ {
		next := s.Next(at)
		if next.IsZero() {
			out = append(out, "never")
			break
		}
		if !next.After(at) {
			t.Fatalf("%q: Next(%v) = %v, not after", s, at, next)
		}
		out = append(out, next.UTC().Format(time.RFC3339))
		at = next
	}
	return out
}

type fireCase struct {
	spec, zone, from string
	want             []string
}

func runFireCases(t *testing.T, cases []fireCase) {
	t.Helper()
	for _, c := range cases {
		zone := c.zone
		if zone == "" {
			zone = "UTC"
		}
		t.Run(zone+"/"+c.spec+"/"+c.from, func(t *testing.T) {
			s := mustParse(t, c.spec, mustZone(t, zone))
			got := fires(t, s, mustTime(t, c.from), len(c.want))
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("fire %d: got %v\nwant %v", i, got, c.want)
				}
			}
		})
	}
}
