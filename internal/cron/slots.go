package cron

import "math/bits"

// slots is the set of civil minutes (minutes since 1970-01-01 00:00 on the
// wall clock) at which a schedule fires, before any time zone is applied.
type slots interface {
	// next returns the smallest slot >= c, or false when there is none up to
	// the end of year 9999.
	next(c int64) (int64, bool)
	// contains reports whether c is a slot. It is the slow, obvious
	// definition that the tests check next against.
	contains(c int64) bool
}

// minuteSet is a set of minutes of the day (0..1439), one bit each, so that
// "the next fire time today" is a couple of TrailingZeros calls, not a scan.
type minuteSet [(minutesPerDay + 63) / 64]uint64

func (s *minuteSet) add(i int)      { s[i>>6] |= 1 << (uint(i) & 63) }
func (s *minuteSet) has(i int) bool { return s[i>>6]&(1<<(uint(i)&63)) != 0 }

// from returns the smallest member >= i, or -1.
func (s *minuteSet) from(i int) int {
	if i >= minutesPerDay {
		return -1
	}
	w := i >> 6
	word := s[w] &^ (1<<(uint(i)&63) - 1)
	for {
		if word != 0 {
			return w<<6 + bits.TrailingZeros64(word)
		}
		w++
		if w == len(s) {
			return -1
		}
		word = s[w]
	}
}

func (s *minuteSet) empty() bool {
	for _, w := range s {
		if w != 0 {
			return false
		}
	}
	return true
}

// calendar is a schedule that fires at a fixed set of minutes on each day
// that matches a day rule. Every unix-cron schedule, every English-like
// specific-time schedule and every interval that is aligned to the day are
// calendars.
//
// A day matches when its month is in months and its day of month is in the
// day mask of that month. The mask is built from two parts: dom, the days
// named by number, and wd[w], the days named by weekday in a month whose 1st
// is weekday w (a month's weekday pattern depends only on that, and its
// length). They are combined with OR, or with AND when and is set: unix-cron
// ORs day-of-month and day-of-week only when both are restricted.
type calendar struct {
	minutes minuteSet
	months  uint16    // bit m set: month m (1..12) matches
	dom     uint32    // bit d set: day d (1..31) matches
	wd      [7]uint32 // bit d set: day d matches, for a month starting on weekday w
	and     bool
}

func (c *calendar) dayMask(firstWeekday, ndays int) uint32 {
	var m uint32
	if c.and {
		m = c.dom & c.wd[firstWeekday]
	} else {
		m = c.dom | c.wd[firstWeekday]
	}
	return m & (1<<(uint(ndays)+1) - 2) // days 1..ndays
}

// canFire reports whether some day of some year matches. Every month starts
// on every weekday in some year, and February has both 28 and 29 days in
// some of those, so trying each month, length and first weekday decides it.
func (c *calendar) canFire() bool {
	if c.minutes.empty() {
		return false
	}
	for m := 1; m <= 12; m++ {
		if c.months&(1<<uint(m)) == 0 {
			continue
		}
		lengths := []int{daysIn(2001, m)}
		if m == 2 {
			lengths = append(lengths, 29)
		}
		for _, n := range lengths {
			for w := 0; w < 7; w++ {
				if c.dayMask(w, n) != 0 {
					return true
				}
			}
		}
	}
	return false
}

func (c *calendar) next(from int64) (int64, bool) {
	days := floorDiv(from, minutesPerDay)
	mod := int(from - days*minutesPerDay)
	y, m, d := civilFromDays(days)
	for y <= 9999 {
		if c.months&(1<<uint(m)) == 0 {
			// Jump to the next month in the set, this year or the next.
			later := c.months &^ (1<<uint(m+1) - 1)
			if later != 0 {
				m = bits.TrailingZeros16(later)
			} else {
				y++
				m = bits.TrailingZeros16(c.months)
			}
			d, mod = 1, 0
			continue
		}
		first := daysFromCivil(y, m, 1)
		mask := uint64(c.dayMask(weekdayOfDays(first), daysIn(y, m))) &^ (1<<uint(d) - 1)
		if mask == 0 {
			m++
			if m > 12 {
				y, m = y+1, 1
			}
			d, mod = 1, 0
			continue
		}
		if nd := bits.TrailingZeros64(mask); nd != d {
			d, mod = nd, 0
		}
		if mm := c.minutes.from(mod); mm >= 0 {
			return (first+int64(d-1))*minutesPerDay + int64(mm), true
		}
		d, mod = d+1, 0
	}
	return 0, false
}

func (c *calendar) contains(t int64) bool {
	days := floorDiv(t, minutesPerDay)
	y, m, d := civilFromDays(days)
	if c.months&(1<<uint(m)) == 0 || !c.minutes.has(int(t-days*minutesPerDay)) {
		return false
	}
	return c.dayMask(weekdayOfDays(days-int64(d-1)), daysIn(y, m))&(1<<uint(d)) != 0
}

// everyDay sets the day rule to "every day of every month".
func (c *calendar) everyDay() {
	c.months = 0x1FFE
	c.dom = 0xFFFFFFFE
	c.and = false
	c.wd = [7]uint32{}
}

// epochInterval fires every n civil minutes counted from 1970-01-01 00:00 on
// the wall clock. It serves intervals longer than a day, which cannot repeat
// the same pattern every day; a fixed origin keeps them deterministic and the
// same after a restart.
type epochInterval struct{ n int64 }

func (e epochInterval) next(from int64) (int64, bool) {
	c := ceilDiv(from, e.n) * e.n
	return c, c <= maxCivilMinute
}

func (e epochInterval) contains(t int64) bool { return floorDiv(t, e.n)*e.n == t }
