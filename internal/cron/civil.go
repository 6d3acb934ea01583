package cron

// Civil (wall-clock) calendar arithmetic on the proleptic Gregorian calendar.
// Schedules are evaluated on civil time, independent of any zone, so the
// matching code works on plain integers and never touches time.Location; the
// zone only enters when a civil minute is turned into an instant (zone.go).

const minutesPerDay = 24 * 60

// The civil range Next searches: years 1 through 9999, the range RFC 3339
// (and so the API's Timestamp) can express.
var (
	minCivilMinute = daysFromCivil(1, 1, 1) * minutesPerDay
	maxCivilMinute = daysFromCivil(9999, 12, 31)*minutesPerDay + minutesPerDay - 1
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// daysFromCivil returns the number of days from 1970-01-01 to y-m-d.
// It counts in 400-year eras (146097 days each) with years starting in March,
// so the leap day is the last day of its year and needs no special case.
func daysFromCivil(y, m, d int) int64 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := floorDiv(yy, 400)
	yoe := yy - era*400                // year of era, 0..399
	mp := int64((m + 9) % 12)          // month from March, 0..11
	doy := (153*mp+2)/5 + int64(d) - 1 // day of the March-based year, 0..365
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	yy := yoe + era*400
	if m <= 2 {
		yy++
	}
	return int(yy), m, d
}

// weekdayOfDays is the weekday (0 = Sunday) of a day counted from 1970-01-01,
// which was a Thursday.
func weekdayOfDays(days int64) int {
	return int((days%7 + 7 + 4) % 7)
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
