package cron

import (
	"fmt"
	"strconv"
	"strings"
)

// unixField describes one of the five unix-cron fields.
type unixField struct {
	name     string
	min, max int
	names    []string // names[i] is the name of value min+i (3 letters), or nil
}

var (
	monthNames = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
	dayNames   = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

	unixFields = [5]unixField{
		{name: "minute", min: 0, max: 59},
		{name: "hour", min: 0, max: 23},
		{name: "day-of-month", min: 1, max: 31},
		{name: "month", min: 1, max: 12, names: monthNames},
		// 0-7: both 0 and 7 are Sunday, as in Vixie cron and Google's docs.
		{name: "day-of-week", min: 0, max: 7, names: dayNames},
	}
)

// macros maps the @-forms other crons accept to the 5-field equivalent, so
// the error can say what to write instead.
var macros = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

func parseUnix(spec string) (slots, error) {
	fail := func(field, token, format string, args ...any) error {
		return &ParseError{Spec: spec, Field: field, Token: token, Msg: fmt.Sprintf(format, args...)}
	}
	fields := strings.Fields(spec)
	switch {
	case len(fields) == 0:
		return nil, fail("schedule", "", "is empty")
	case strings.HasPrefix(fields[0], "@"):
		if eq, ok := macros[strings.ToLower(fields[0])]; ok {
			return nil, fail("schedule", fields[0], "is a macro; Cloud Scheduler documents only the 5-field form, here %q", eq)
		}
		return nil, fail("schedule", fields[0], "is a macro; Cloud Scheduler documents only the 5-field form")
	case strings.Contains(fields[0], "="):
		return nil, fail("schedule", fields[0], "is a time-zone prefix; Cloud Scheduler takes the zone in time_zone, not in the schedule")
	case isLetter(fields[0][0]):
		msg := `starts neither a 5-field unix-cron schedule nor an English-like one (those start with "every" or an ordinal, as in "every monday 09:00")`
		if hint, ok := wordHints[strings.ToLower(fields[0])]; ok {
			msg += ": " + hint
		}
		return nil, fail("schedule", fields[0], "%s", msg)
	case len(fields) == 6 || len(fields) == 7:
		return nil, fail("schedule", "", "has %d fields; Cloud Scheduler takes exactly 5 (minute hour day-of-month month day-of-week), with no seconds or year field", len(fields))
	case len(fields) != 5:
		return nil, fail("schedule", "", "has %d fields; want 5 (minute hour day-of-month month day-of-week)", len(fields))
	}

	var sets [5]uint64
	var star [5]bool
	for i, f := range fields {
		set, err := parseUnixField(f, &unixFields[i])
		if err != nil {
			err.Spec = spec
			return nil, err
		}
		sets[i] = set
		star[i] = f[0] == '*'
	}
	// Sunday is both 0 and 7.
	if sets[4]&(1<<7) != 0 {
		sets[4] = sets[4]&^(1<<7) | 1
	}

	c := &calendar{months: uint16(sets[3]), dom: uint32(sets[2])}
	for h := 0; h < 24; h++ {
		if sets[1]&(1<<uint(h)) == 0 {
			continue
		}
		for m := 0; m < 60; m++ {
			if sets[0]&(1<<uint(m)) != 0 {
				c.minutes.add(h*60 + m)
			}
		}
	}
	for w := 0; w < 7; w++ {
		for d := 1; d <= 31; d++ {
			if sets[4]&(1<<uint((w+d-1)%7)) != 0 {
				c.wd[w] |= 1 << uint(d)
			}
		}
	}
	// Vixie cron's rule, which Google documents: day-of-month and
	// day-of-week are ORed, unless either field starts with "*", in which
	// case both must match (a plain "*" matches everything, so only the
	// other field restricts).
	c.and = star[2] || star[4]
	if !c.canFire() {
		return nil, fail("day-of-month", fields[2], "never occurs in month %q, so the schedule would never fire", fields[3])
	}
	return c, nil
}

// parseUnixField parses one field into a bit set of its values.
func parseUnixField(text string, f *unixField) (uint64, *ParseError) {
	fail := func(token, format string, args ...any) *ParseError {
		return &ParseError{Field: f.name, Token: token, Msg: fmt.Sprintf(format, args...)}
	}
	var set uint64
	for _, item := range strings.Split(text, ",") {
		if item == "" {
			return 0, fail(text, "has an empty list item")
		}
		if strings.ContainsAny(item, "?#") {
			return 0, fail(item, "uses ? or #, which Cloud Scheduler's unix-cron format does not support")
		}
		rng, stepText, hasStep := strings.Cut(item, "/")
		lo, hi := f.min, f.max
		switch {
		case rng == "*":
		case rng == "":
			return 0, fail(item, "has no range before /")
		default:
			a, b, isRange := strings.Cut(rng, "-")
			var err *ParseError
			if lo, err = parseUnixValue(a, item, f); err != nil {
				return 0, err
			}
			switch {
			case isRange:
				if hi, err = parseUnixValue(b, item, f); err != nil {
					return 0, err
				}
				if f.names != nil && hi == f.min && lo > hi && strings.EqualFold(b, f.names[0]) && f.max == 7 {
					// "FRI-SUN": SUN at the end of a range is 7, as
					// "5-7" is; it can mean nothing else.
					hi = 7
				}
				if lo > hi {
					return 0, fail(item, "is a reversed range; write the smaller value first")
				}
			case hasStep:
				hi = f.max // "a/n" is "a-max/n"
			default:
				hi = lo
			}
		}
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || !isDigits(stepText) {
				return 0, fail(item, "has step %q, which is not a number", stepText)
			}
			if n < 1 {
				return 0, fail(item, "has step 0; a step must be at least 1")
			}
			if n > f.max-f.min+1 {
				return 0, fail(item, "has step %d, larger than the field's range %d-%d", n, f.min, f.max)
			}
			step = n
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << uint(v)
		}
	}
	return set, nil
}

func parseUnixValue(s, item string, f *unixField) (int, *ParseError) {
	fail := func(token, format string, args ...any) *ParseError {
		return &ParseError{Field: f.name, Token: token, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case s == "":
		return 0, fail(item, "has a range with a missing end")
	case isDigits(s):
		n, err := strconv.Atoi(s)
		if err != nil || n < f.min || n > f.max {
			return 0, fail(s, "is out of range %d-%d", f.min, f.max)
		}
		return n, nil
	}
	if f.names != nil {
		for i, name := range f.names {
			if strings.EqualFold(s, name) {
				return f.min + i, nil
			}
		}
	}
	up := strings.ToUpper(s)
	if (f.name == "day-of-month" || f.name == "day-of-week") && (up == "L" || up == "LW" || strings.HasSuffix(up, "W") && isDigits(up[:len(up)-1]) || strings.HasSuffix(up, "L") && isDigits(up[:len(up)-1])) {
		return 0, fail(s, "uses L or W, which Cloud Scheduler's unix-cron format does not support")
	}
	switch f.name {
	case "month":
		return 0, fail(s, "is not a month (1-12 or JAN-DEC)")
	case "day-of-week":
		return 0, fail(s, "is not a day of the week (0-7 or SUN-SAT)")
	}
	return 0, fail(s, "is not a number (%d-%d)", f.min, f.max)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLetter(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }
