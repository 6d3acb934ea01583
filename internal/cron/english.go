package cron

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// The English-like form is App Engine's cron.yaml schedule language, which
// Google calls Groc. This is a hand-written parser for the grammar App
// Engine's own Groc.g defines (see the package documentation):
//
//	timespec     = ( specifictime | interval ) EOF
//	specifictime = ( ( ordinals weekdays | monthdays ) "of" ( monthspec | quarterspec )
//	               | ordinals weekdays ) TIME
//	interval     = "every" NUMBER ( "hours" | "mins" | "minutes" )
//	               [ "from" TIME "to" TIME | "synchronized" ]
//	ordinals     = "every" | ordinal { "," ordinal }
//	ordinal      = "1st" | "first" | ... | "5th" | "fifth"
//	weekdays     = "day" | weekday { "," weekday }
//	monthdays    = NUMBER { "," NUMBER }
//	monthspec    = "month" | month { "," month }
//	quarterspec  = "quarter" | qordinal { "," qordinal } "month" "of" "quarter"
//	qordinal     = "1st" | "first" | "2nd" | "second" | "3rd" | "third"
//	TIME         = H:MM | HH:MM (24-hour)

type tokKind int

const (
	tEOF tokKind = iota
	tComma
	tNumber  // 1 to 5 digits
	tTime    // H:MM or HH:MM; val is the minute of the day
	tOrdinal // val 1..5
	tWeekday // val 0 (Sunday) .. 6
	tMonth   // val 1..12
	tEvery
	tDay
	tMonthWord
	tQuarter
	tHours
	tMinutes
	tOf
	tFrom
	tTo
	tSynchronized
)

type token struct {
	kind tokKind
	val  int
	text string // as written
}

// keyword is a word of the grammar. Groc's lexer needs no spaces between
// words ("every5 mins" lexes), so a run of letters is split into the longest
// keywords it starts with; ordinalWords and the digit ordinals are the
// ordinals.
type keyword struct {
	word string
	kind tokKind
	val  int
}

var ordinalWords = []keyword{
	{"1st", tOrdinal, 1}, {"first", tOrdinal, 1},
	{"2nd", tOrdinal, 2}, {"second", tOrdinal, 2},
	{"3rd", tOrdinal, 3}, {"third", tOrdinal, 3},
	{"4th", tOrdinal, 4}, {"fourth", tOrdinal, 4},
	{"5th", tOrdinal, 5}, {"fifth", tOrdinal, 5},
}

var keywords = func() []keyword {
	kw := []keyword{
		{"every", tEvery, 0}, {"day", tDay, 0}, {"month", tMonthWord, 0}, {"quarter", tQuarter, 0},
		{"hours", tHours, 0}, {"mins", tMinutes, 0}, {"minutes", tMinutes, 0},
		{"of", tOf, 0}, {"from", tFrom, 0}, {"to", tTo, 0}, {"synchronized", tSynchronized, 0},
	}
	for _, o := range ordinalWords {
		if isLetter(o.word[0]) {
			kw = append(kw, o)
		}
	}
	// Day and month names: the 3-letter form or the full name.
	for i, full := range []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"} {
		kw = append(kw, keyword{full[:3], tWeekday, i}, keyword{full, tWeekday, i})
	}
	for i, full := range []string{"january", "february", "march", "april", "may", "june", "july",
		"august", "september", "october", "november", "december"} {
		kw = append(kw, keyword{full[:3], tMonth, i + 1})
		if len(full) > 3 {
			kw = append(kw, keyword{full, tMonth, i + 1})
		}
	}
	// Longest first, so that "monday" wins over "mon" and "month".
	sort.SliceStable(kw, func(i, j int) bool { return len(kw[i].word) > len(kw[j].word) })
	return kw
}()

func englishError(spec, field, token, format string, args ...any) *ParseError {
	return &ParseError{Spec: spec, Field: field, Token: token, Msg: fmt.Sprintf(format, args...)}
}

func lexEnglish(spec string) ([]token, error) {
	s := strings.ToLower(spec)
	var toks []token
	for i := 0; i < len(s); {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			i++
		case ch == ',':
			toks = append(toks, token{kind: tComma, text: ","})
			i++
		case ch >= '0' && ch <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			digits := spec[i:j]
			switch {
			case j < len(s) && s[j] == ':':
				k := j + 1
				for k < len(s) && s[k] >= '0' && s[k] <= '9' {
					k++
				}
				text := spec[i:k]
				mod, ok := parseClock(digits, s[j+1:k])
				if !ok {
					return nil, englishError(spec, "time", text, "is not a 24-hour time H:MM or HH:MM (00:00 to 23:59)")
				}
				toks = append(toks, token{kind: tTime, val: mod, text: text})
				i = k
			case j+2 <= len(s) && isLetter(s[j]) && isLetter(s[j+1]) && isOrdinalSuffix(s[j:j+2]):
				text := spec[i : j+2]
				n, _ := strconv.Atoi(digits)
				if n < 1 || n > 5 || len(digits) != 1 || ordinalSuffix(n) != s[j:j+2] {
					return nil, englishError(spec, "ordinal", text, "is not an ordinal of the grammar (1st, 2nd, 3rd, 4th, 5th or first ... fifth)")
				}
				toks = append(toks, token{kind: tOrdinal, val: n, text: text})
				i = j + 2
			default:
				if len(digits) > 5 {
					return nil, englishError(spec, "number", digits, "has more than 5 digits")
				}
				n, _ := strconv.Atoi(digits)
				toks = append(toks, token{kind: tNumber, val: n, text: digits})
				i = j
			}
		case isLetter(ch):
			j := i
			for j < len(s) && isLetter(s[j]) {
				j++
			}
			words, ok := splitKeywords(s[i:j])
			if !ok {
				if hint, ok := wordHints[s[i:j]]; ok {
					return nil, englishError(spec, "schedule", spec[i:j], "is not a word of the English-like schedule grammar: %s", hint)
				}
				return nil, englishError(spec, "schedule", spec[i:j], "is not a word of the English-like schedule grammar")
			}
			at := i
			for _, w := range words {
				toks = append(toks, token{kind: w.kind, val: w.val, text: spec[at : at+len(w.word)]})
				at += len(w.word)
			}
			i = j
		default:
			return nil, englishError(spec, "schedule", spec[i:i+1], "is not allowed in an English-like schedule")
		}
	}
	return append(toks, token{kind: tEOF}), nil
}

// wordHints answers the words people write that Groc does not have.
var wordHints = map[string]string{
	"hour": `write "hours", even for 1`, "hr": `write "hours"`, "hrs": `write "hours"`,
	"min": `write "mins" or "minutes"`, "minute": `write "mins" or "minutes", even for 1`,
	"days": `write "day", or name the days (mon,tue,...)`, "weekday": `name the days: mon,tue,wed,thu,fri`,
	"weekdays": `name the days: mon,tue,wed,thu,fri`, "at": `the time follows the days directly, as in "every monday 09:00"`,
	"last": `there is no "last"; ordinals go from first to fifth`, "sept": `write "sep" or "september"`,
	"and": `separate items with commas`,
}

func isOrdinalSuffix(s string) bool { return s == "st" || s == "nd" || s == "rd" || s == "th" }

func ordinalSuffix(n int) string {
	switch n {
	case 1:
		return "st"
	case 2:
		return "nd"
	case 3:
		return "rd"
	}
	return "th"
}

// splitKeywords splits a run of letters into keywords, longest first.
func splitKeywords(run string) ([]keyword, bool) {
	var out []keyword
	for run != "" {
		found := false
		for _, k := range keywords {
			if strings.HasPrefix(run, k.word) {
				out = append(out, k)
				run = run[len(k.word):]
				found = true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return out, true
}

// parseClock parses Groc's TIME: a 1-digit hour, or a 2-digit hour 00-23,
// then two digits of minutes 00-59.
func parseClock(h, m string) (int, bool) {
	if len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, false
	}
	hh, _ := strconv.Atoi(h)
	mm, _ := strconv.Atoi(m)
	if hh > 23 || mm > 59 {
		return 0, false
	}
	return hh*60 + mm, true
}

type englishParser struct {
	spec string
	toks []token
	pos  int
}

func (p *englishParser) peek() token { return p.toks[p.pos] }

func (p *englishParser) take() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

// unexpected reports the current token where something else was expected.
func (p *englishParser) unexpected(expected string) error {
	t := p.peek()
	if t.kind == tEOF {
		return englishError(p.spec, "schedule", "", "ends where %s was expected", expected)
	}
	return englishError(p.spec, "schedule", t.text, "is out of place: expected %s", expected)
}

func parseEnglish(spec string) (slots, error) {
	toks, err := lexEnglish(spec)
	if err != nil {
		return nil, err
	}
	p := &englishParser{spec: spec, toks: toks}
	if p.peek().kind == tEvery && p.toks[1].kind == tNumber {
		return p.interval()
	}
	return p.specific()
}

// interval parses "every N hours|mins|minutes [from T to T | synchronized]".
//
// Every interval is wall-clock and fixed to the day, so its slots are a set
// of minutes of the day (a calendar firing every day), except an interval
// longer than a day without a window, which counts from a fixed origin.
func (p *englishParser) interval() (slots, error) {
	p.take() // every
	num := p.take()
	var unit int
	switch p.peek().kind {
	case tHours:
		unit = 60
	case tMinutes:
		unit = 1
	default:
		return nil, p.unexpected(`"hours", "mins" or "minutes"`)
	}
	p.take()
	if num.val < 1 {
		return nil, englishError(p.spec, "interval", num.text, "must be at least 1")
	}
	n := num.val * unit // minutes; at most 99999 hours, far from overflow
	window := false
	var from, to int
	switch p.peek().kind {
	case tFrom:
		p.take()
		if p.peek().kind != tTime {
			return nil, p.unexpected(`a start time HH:MM after "from"`)
		}
		t := p.take()
		if p.peek().kind != tTo {
			return nil, p.unexpected(`"to"`)
		}
		p.take()
		if p.peek().kind != tTime {
			return nil, p.unexpected(`an end time HH:MM after "to"`)
		}
		u := p.take()
		window, from, to = true, t.val, u.val
	case tSynchronized:
		tok := p.take()
		if n > minutesPerDay || minutesPerDay%n != 0 {
			return nil, englishError(p.spec, "interval", tok.text, "needs an interval that divides 24 hours evenly; %s %s does not", num.text, p.toks[2].text)
		}
		window, from, to = true, 0, minutesPerDay-1
	}
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tSynchronized && window {
			return nil, englishError(p.spec, "interval", t.text, `cannot be combined with "from ... to ..."`)
		}
		return nil, p.unexpected("the end of the schedule")
	}
	if !window {
		if n > minutesPerDay {
			return epochInterval{n: int64(n)}, nil
		}
		// oidcron's choice (App Engine counts from the previous run):
		// align to the start of the day, as if "from 00:00 to 23:59".
		window, from, to = true, 0, minutesPerDay-1
	}
	c := &calendar{}
	c.everyDay()
	// The window runs from "from" to "to" inclusive, past midnight when
	// "to" is earlier; equal times make a window of one slot.
	length := (to - from + minutesPerDay) % minutesPerDay
	for k := 0; k <= length; k += n {
		c.minutes.add((from + k) % minutesPerDay)
	}
	return c, nil
}

// specific parses the "[every|ordinals] days [of months] HH:MM" forms.
func (p *englishParser) specific() (slots, error) {
	c := &calendar{}
	var ordinals []int // nil: every
	var monthdays []token
	switch t := p.peek(); t.kind {
	case tEvery:
		p.take()
	case tOrdinal:
		for {
			o := p.take()
			ordinals = append(ordinals, o.val)
			if p.peek().kind != tComma {
				break
			}
			p.take()
			if p.peek().kind != tOrdinal {
				return nil, p.unexpected("an ordinal (1st ... 5th, first ... fifth) after \",\"")
			}
		}
	case tNumber:
		for {
			monthdays = append(monthdays, p.take())
			if p.peek().kind != tComma {
				break
			}
			p.take()
			if p.peek().kind != tNumber {
				return nil, p.unexpected("a day of the month after \",\"")
			}
		}
		if p.peek().kind != tOf {
			return nil, p.unexpected(`"of" after days of the month`)
		}
	default:
		return nil, p.unexpected(`"every", an ordinal (1st, first, ...) or days of the month`)
	}

	if monthdays != nil {
		for _, d := range monthdays {
			if d.val < 1 || d.val > 31 {
				return nil, englishError(p.spec, "day-of-month", d.text, "is out of range 1-31")
			}
			c.dom |= 1 << uint(d.val)
		}
	} else {
		var weekdays []int // nil: "day"
		switch p.peek().kind {
		case tDay:
			p.take()
		case tWeekday:
			for {
				weekdays = append(weekdays, p.take().val)
				if p.peek().kind != tComma {
					break
				}
				p.take()
				if p.peek().kind != tWeekday {
					return nil, p.unexpected("a day name after \",\"")
				}
			}
		default:
			return nil, p.unexpected(`"day" or a day name (monday or mon, ...)`)
		}
		switch {
		case weekdays == nil && ordinals == nil: // every day
			c.dom = 0xFFFFFFFE
		case weekdays == nil: // "1st,3rd day": the 1st and 3rd day of the month
			for _, o := range ordinals {
				c.dom |= 1 << uint(o)
			}
		default:
			if ordinals == nil {
				ordinals = []int{1, 2, 3, 4, 5}
			}
			// In a month starting on weekday w, the o-th weekday wd is day
			// 1 + (wd-w mod 7) + 7(o-1); dayMask drops days past the end.
			for w := 0; w < 7; w++ {
				for _, wd := range weekdays {
					for _, o := range ordinals {
						if day := 1 + (wd-w+7)%7 + 7*(o-1); day <= 31 {
							c.wd[w] |= 1 << uint(day)
						}
					}
				}
			}
		}
	}

	if p.peek().kind == tOf {
		p.take()
		if err := p.monthSpec(c); err != nil {
			return nil, err
		}
	} else {
		c.months = 0x1FFE
	}

	t := p.peek()
	if t.kind != tTime {
		return nil, p.unexpected(`a time HH:MM`)
	}
	p.take()
	if p.peek().kind != tEOF {
		return nil, p.unexpected("the end of the schedule")
	}
	c.minutes.add(t.val)
	if !c.canFire() {
		var days []string
		for _, d := range monthdays {
			days = append(days, d.text)
		}
		return nil, englishError(p.spec, "day-of-month", strings.Join(days, ","), "is no date in the months given, so the schedule would never fire")
	}
	return c, nil
}

// monthSpec parses what follows "of": "month", month names, "quarter", or
// "1st,2nd month of quarter".
func (p *englishParser) monthSpec(c *calendar) error {
	switch p.peek().kind {
	case tMonthWord:
		p.take()
		c.months = 0x1FFE
	case tMonth:
		for {
			c.months |= 1 << uint(p.take().val)
			if p.peek().kind != tComma {
				break
			}
			p.take()
			if p.peek().kind != tMonth {
				return p.unexpected("a month name after \",\"")
			}
		}
	case tQuarter:
		p.take()
		c.months = 1<<1 | 1<<4 | 1<<7 | 1<<10
	case tOrdinal:
		for {
			o := p.take()
			if o.val > 3 {
				return englishError(p.spec, "quarter", o.text, "is not a month of a quarter (first, second or third)")
			}
			for q := 0; q < 4; q++ {
				c.months |= 1 << uint(3*q+o.val)
			}
			if p.peek().kind != tComma {
				break
			}
			p.take()
			if p.peek().kind != tOrdinal {
				return p.unexpected("an ordinal after \",\"")
			}
		}
		for _, want := range []tokKind{tMonthWord, tOf, tQuarter} {
			if p.peek().kind != want {
				return p.unexpected(`"month of quarter"`)
			}
			p.take()
		}
	default:
		return p.unexpected(`"month", month names (january or jan, ...) or "quarter"`)
	}
	return nil
}
