package gcloudfmt

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Timestamps for the date() and iso() transforms and for filter
// comparisons: the RFC 3339 forms the Google APIs emit, with Python
// datetime semantics (naive and zoned times do not compare) and strftime
// directives, as gcloud formats them.

// pyTime is a Python datetime: naive (no zone) or aware.
type pyTime struct {
	t     time.Time
	aware bool
}

var dateTimeRE = regexp.MustCompile(`^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?\s*$`)

// parseDateTime parses an ISO 8601 / RFC 3339 date-time. A string without a
// zone takes loc, or stays naive when loc is nil.
func parseDateTime(s string, loc *time.Location) (pyTime, bool) {
	m := dateTimeRE.FindStringSubmatch(s)
	if m == nil {
		return pyTime{}, false
	}
	atoi := func(s string) int {
		n, _ := strconv.Atoi(s)
		return n
	}
	year, month, day := atoi(m[1]), atoi(m[2]), atoi(m[3])
	hour, min, sec := atoi(m[4]), atoi(m[5]), atoi(m[6])
	nsec := 0
	if m[7] != "" {
		frac := m[7]
		if len(frac) > 9 {
			frac = frac[:9]
		}
		nsec = atoi(frac + strings.Repeat("0", 9-len(frac)))
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59 {
		return pyTime{}, false
	}
	zone := m[8]
	var tz *time.Location
	aware := true
	switch {
	case zone == "Z" || zone == "z":
		tz = time.UTC
	case zone != "":
		sign := 1
		if zone[0] == '-' {
			sign = -1
		}
		z := strings.ReplaceAll(zone[1:], ":", "")
		off := atoi(z[:2]) * 3600
		if len(z) > 2 {
			off += atoi(z[2:]) * 60
		}
		tz = time.FixedZone("", sign*off)
	case loc != nil:
		tz = loc
	default:
		tz = time.UTC
		aware = false
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, nsec, tz)
	if t.Day() != day {
		return pyTime{}, false
	}
	return pyTime{t: t, aware: aware}, true
}

// pyString is str(datetime): "2019-05-01 12:00:00.123000+00:00".
func (p pyTime) pyString() string {
	s := p.t.Format("2006-01-02 15:04:05")
	if us := p.t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	if p.aware {
		s += p.utcOffset(true)
	}
	return s
}

func (p pyTime) utcOffset(colon bool) string {
	if !p.aware {
		return ""
	}
	_, off := p.t.Zone()
	sign := '+'
	if off < 0 {
		sign = '-'
		off = -off
	}
	if colon {
		return fmt.Sprintf("%c%02d:%02d", sign, off/3600, off%3600/60)
	}
	return fmt.Sprintf("%c%02d%02d", sign, off/3600, off%3600/60)
}

// compare orders two datetimes; naive and aware values do not compare.
func (p pyTime) compare(o pyTime) (int, bool) {
	if p.aware != o.aware {
		return 0, false
	}
	a, b := p.t, o.t
	if !p.aware {
		a = time.Date(a.Year(), a.Month(), a.Day(), a.Hour(), a.Minute(), a.Second(), a.Nanosecond(), time.UTC)
		b = time.Date(b.Year(), b.Month(), b.Day(), b.Hour(), b.Minute(), b.Second(), b.Nanosecond(), time.UTC)
	}
	switch {
	case a.Before(b):
		return -1, true
	case a.After(b):
		return 1, true
	}
	return 0, true
}

var weekdays = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// strftime formats p with Python/C strftime directives plus gcloud's
// extensions %Nf (N fraction digits), %Ez/%Oz (RFC 3339 offsets) and %s.
func (p pyTime) strftime(format string) string {
	t := p.t
	var b strings.Builder
	f := []rune(format)
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 >= len(f) {
			b.WriteRune(f[i])
			continue
		}
		i++
		n := -1
		if f[i] >= '1' && f[i] <= '9' && i+1 < len(f) {
			n = int(f[i] - '0')
			i++
		}
		alt := rune(0)
		if (f[i] == 'E' || f[i] == 'O') && i+1 < len(f) {
			alt = f[i]
			i++
		}
		switch f[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'I':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			fmt.Fprintf(&b, "%02d", h)
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'p':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'a':
			b.WriteString(weekdays[t.Weekday()][:3])
		case 'A':
			b.WriteString(weekdays[t.Weekday()])
		case 'b', 'h':
			b.WriteString(t.Month().String()[:3])
		case 'B':
			b.WriteString(t.Month().String())
		case 'w':
			fmt.Fprintf(&b, "%d", int(t.Weekday()))
		case 'Z':
			if p.aware {
				name, _ := t.Zone()
				if name == "" {
					name = "UTC" + p.utcOffset(true)
				}
				b.WriteString(name)
			}
		case 'z':
			val := p.utcOffset(false)
			if alt != 0 && val != "" {
				if alt == 'E' && val == "+0000" {
					val = "Z"
				} else {
					val = val[:3] + ":" + val[3:]
				}
			}
			b.WriteString(val)
		case 'f':
			val := fmt.Sprintf("%06d", t.Nanosecond()/1000)
			if n > 0 && n < len(val) {
				v, _ := strconv.Atoi(val[:n])
				if val[n] >= '5' {
					v++
				}
				s := fmt.Sprintf("%0*d", n, v)
				if len(s) > n {
					s = fmt.Sprintf("%0*d", n, v-1)
				}
				val = s
			}
			b.WriteString(val)
		case 's':
			b.WriteString(strconv.FormatInt(t.Unix(), 10))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteRune(f[i])
		}
	}
	return b.String()
}

func loadZone(name string) (*time.Location, bool) {
	switch strings.ToUpper(name) {
	case "LOCAL":
		return time.Local, true
	case "UTC", "Z":
		return time.UTC, true
	}
	loc, err := time.LoadLocation(name)
	return loc, err == nil
}

// trDate: a timestamp (RFC 3339 string, or seconds since the epoch divided
// by unit) formatted by strftime directives.
func trDate(a callArgs, _ *evalCtx, v any) (any, error) {
	return formatDate(v, a.get("format", "%Y-%m-%dT%H:%M:%S"), a.get("unit", "1"), a.get("undefined", ""),
		a.get("tz", ""), a.get("tz_default", "")), nil
}

func formatDate(r any, format, unitS, undefined, tzName, tzDefault string) any {
	var tzIn, tzOut *time.Location
	if tzDefault != "" {
		if l, ok := loadZone(tzDefault); ok {
			tzIn = l
		}
	}
	if tzName != "" {
		if l, ok := loadZone(tzName); ok {
			tzOut = l
		}
	}
	unit, ok := pyFloat(unitS)
	if !ok {
		unit = 1
	}
	if f, ok := toFloat(r); ok && unit != 0 {
		ts := f / unit
		if !math.IsInf(ts, 0) && !math.IsNaN(ts) && math.Abs(ts) < 1e11 {
			sec, frac := math.Modf(ts)
			loc := tzIn
			if loc == nil {
				loc = time.Local
			}
			t := time.Unix(int64(sec), int64(frac*1e9)).In(loc)
			return pyTime{t: t, aware: tzIn != nil}.strftime(format)
		}
	}
	if s, ok := r.(string); ok {
		if p, ok := parseDateTime(s, tzIn); ok {
			if tzOut != nil {
				p.t = p.t.In(tzOut)
				p.aware = true
			}
			return p.strftime(format)
		}
	}
	return undefined
}

// trIso: a timestamp in RFC 3339 form with milliseconds.
func trIso(a callArgs, _ *evalCtx, v any) (any, error) {
	return formatDate(v, "%Y-%m-%dT%H:%M:%S.%3f%Oz", "1", a.get("undefined", "T"), "", ""), nil
}
