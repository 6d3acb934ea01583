package cron

import (
	"fmt"
	"strings"
	"time"
)

// Schedule is a parsed schedule bound to a time zone.
type Schedule interface {
	// Next returns the first fire time strictly after t (any zone in, UTC out;
	// compare with Equal). The zero time means the schedule never fires
	// again (only past the end of year 9999).
	Next(t time.Time) time.Time
	// String is the schedule as given.
	String() string
}

// ParseError says what is wrong with a schedule and where.
type ParseError struct {
	Spec  string // the schedule as given
	Field string // "minute", "hour", "day-of-month", "month", "day-of-week", "schedule", or the part of an English-like schedule
	Token string // the text that does not fit; empty when something is missing
	Msg   string
}

func (e *ParseError) Error() string {
	if e.Token == "" {
		return e.Field + ": " + e.Msg
	}
	return fmt.Sprintf("%s: %q %s", e.Field, e.Token, e.Msg)
}

// Parse parses a unix-cron (5 fields) or English-like (App Engine cron.yaml)
// schedule for loc; a nil loc means UTC. See the package documentation for
// the grammar.
func Parse(spec string, loc *time.Location) (Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	var (
		s   slots
		err error
	)
	if IsEnglish(spec) {
		s, err = parseEnglish(spec)
	} else {
		s, err = parseUnix(spec)
	}
	if err != nil {
		return nil, err
	}
	return &schedule{spec: spec, slots: s, zone: zoneFor(loc)}, nil
}

// IsEnglish reports whether spec uses the English-like form (Cloud Scheduler
// does not guarantee the X-CloudScheduler-ScheduleTime header for those).
// The two grammars share no sentence: an English-like schedule starts with
// "every", an ordinal ("1st", "first"), or days of the month followed by
// "of", and (but for bare intervals) has an HH:MM time; unix-cron starts
// with a number or "*" and has neither "of" nor ":". IsEnglish looks for
// those marks, so that a malformed schedule is reported by the parser of the
// form it was meant to be.
func IsEnglish(spec string) bool {
	fields := strings.Fields(strings.ToLower(spec))
	if len(fields) == 0 {
		return false
	}
	if strings.Contains(spec, ":") {
		return true
	}
	head := strings.SplitN(fields[0], ",", 2)[0]
	if strings.HasPrefix(head, "every") {
		return true
	}
	for _, o := range ordinalWords {
		if strings.HasPrefix(head, o.word) {
			return true
		}
	}
	for _, f := range fields[1:] {
		if strings.HasPrefix(f, "of") {
			return true
		}
	}
	return false
}

type schedule struct {
	spec  string
	slots slots
	zone  *zone
}

func (s *schedule) String() string { return s.spec }

// Bounds of the instants Next works with: two days beyond the civil range
// on either side cover every UTC offset.
var (
	minInstant = minCivilMinute*60 - 2*86400
	maxInstant = maxCivilMinute*60 + 2*86400
)

func (s *schedule) Next(t time.Time) time.Time {
	// Fire times are whole seconds, so "after t" is "after t's second".
	u := t.Unix()
	if u > maxInstant {
		return time.Time{}
	}
	u = max(u, minInstant)
	p := s.zone.at(u)
	// Every slot at or before the wall-clock time at u fires at or before u
	// (first is non-decreasing), so the search starts at the next minute.
	c := max(floorDiv(u+p.off, 60)+1, minCivilMinute)
	jumped := false
	for {
		slot, ok := s.slots.next(c)
		if !ok || slot > maxCivilMinute {
			return time.Time{}
		}
		f := s.zone.first(slot * 60)
		if f > u {
			return time.Unix(f, 0).UTC()
		}
		// u is in the second pass of a repeated hour: this slot already
		// fired on the first pass. Skip all slots of the repeated stretch at
		// once, when the period before u's covers them all (it does, except
		// in zones that change offset twice within hours).
		c = slot + 1
		if !jumped {
			jumped = true
			if p.start != minPeriodStart {
				q := s.zone.at(p.start - 1)
				if q.start == minPeriodStart || q.start+q.off <= u+p.off {
					c = max(c, ceilDiv(p.start+q.off, 60))
				}
			}
		}
	}
}
