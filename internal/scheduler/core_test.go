package scheduler

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// every is a schedule fixture (internal/cron is written in parallel): slots
// at each multiple of d since the zero time, in UTC.
type every time.Duration

func (d every) Next(t time.Time) time.Time {
	return t.Truncate(time.Duration(d)).Add(time.Duration(d))
}

// once is a schedule with a single slot.
type once time.Time

func (o once) Next(t time.Time) time.Time {
	if t.Before(time.Time(o)) {
		return time.Time(o)
	}
	return time.Time{}
}

// parseFixture reads "every 1m" and "once 2026-01-01T00:00:00Z"; the time
// zone must be "" or "UTC".
func parseFixture(spec, tz string) (Schedule, error) {
	if tz != "" && tz != "UTC" {
		return nil, fmt.Errorf("zone %q not in the fixture", tz)
	}
	switch {
	case strings.HasPrefix(spec, "every "):
		d, err := time.ParseDuration(strings.TrimPrefix(spec, "every "))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("bad fixture spec %q", spec)
		}
		return every(d), nil
	case strings.HasPrefix(spec, "once "):
		t, err := time.Parse(time.RFC3339, strings.TrimPrefix(spec, "once "))
		return once(t), err
	}
	return nil, errors.New("Schedule or time zone is invalid.")
}

func TestCatchUp(t *testing.T) {
	at := func(hm string) time.Time {
		v, err := time.Parse("15:04:05", hm)
		if err != nil {
			t.Fatal(err)
		}
		return time.Date(2026, 3, 1, v.Hour(), v.Minute(), v.Second(), 0, time.UTC)
	}
	for _, tc := range []struct {
		name       string
		sched      Schedule
		slot, now  string
		fire, next string
		skipped    int
		noNext     bool
	}{
		{"on time", every(time.Minute), "12:01:00", "12:01:00", "12:01:00", "12:02:00", 0, false},
		{"a little late", every(time.Minute), "12:01:00", "12:01:59", "12:01:00", "12:02:00", 0, false},
		{"one slot passed", every(time.Minute), "12:01:00", "12:02:30", "12:02:00", "12:03:00", 1, false},
		{"down for an hour: the latest slot, 59 skipped", every(time.Minute), "12:01:00", "13:00:30", "13:00:00", "13:01:00", 59, false},
		{"exactly on a later slot", every(time.Minute), "12:01:00", "12:05:00", "12:05:00", "12:06:00", 4, false},
		{"no slot after", once(at("12:01:00")), "12:01:00", "12:30:00", "12:01:00", "", 0, true},
	} {
		fire, skipped, next := catchUp(tc.sched, at(tc.slot), at(tc.now))
		if !fire.Equal(at(tc.fire)) || skipped != tc.skipped {
			t.Errorf("%s: fire %v skipped %d, want %s, %d", tc.name, fire, skipped, tc.fire, tc.skipped)
		}
		if tc.noNext {
			if !next.IsZero() {
				t.Errorf("%s: next %v, want none", tc.name, next)
			}
		} else if !next.Equal(at(tc.next)) {
			t.Errorf("%s: next %v, want %s", tc.name, next, tc.next)
		}
	}
	// A walk past the bound still fires once and moves past now.
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(time.Duration(maxCatchUp+10) * time.Second)
	_, skipped, next := catchUp(every(time.Second), start, now)
	if skipped != maxCatchUp || !next.After(now) {
		t.Errorf("bounded walk: skipped %d next %v (now %v)", skipped, next, now)
	}
}
