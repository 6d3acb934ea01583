// Package cron parses Cloud Scheduler schedules and computes their fire
// times in a time zone. It is pure: no clock, no I/O; Next takes the time
// as an argument, so tests and the scheduler drive it through DST
// transitions without waiting.
//
// # Unix-cron
//
// Five fields separated by spaces or tabs:
//
//	minute (0-59)  hour (0-23)  day-of-month (1-31)  month (1-12, JAN-DEC)  day-of-week (0-7, SUN-SAT; 0 and 7 are Sunday)
//
// Each field is a comma-separated list of items; an item is "*", a value
// "a", or a range "a-b", optionally followed by a step "/n": "*/n" and
// "a-b/n" step through the range, "a/n" is "a-max/n". Month and day names
// are the three-letter English abbreviations in any case, also in ranges
// ("MON-FRI", "jan-mar"); "FRI-SUN" is Friday to Sunday.
//
// Day-of-month and day-of-week are ORed when both are restricted ("0 9 1 *
// MON" fires on the 1st and on every Monday); when either field starts with
// "*", both must match, so a plain "*" leaves the other field alone. This is
// Vixie cron's rule, the one Google documents; note that "*/2" also starts
// with "*".
//
// Rejected, with an error naming the field and the token: values out of
// range, reversed ranges ("5-1"), step 0 or a step wider than the field,
// empty list items, a number of fields other than 5 (no seconds, no year),
// "L", "W", "#", "?", @-macros such as "@daily" (Google does not document
// them; the error gives the 5-field equivalent), "CRON_TZ=" prefixes,
// trailing garbage, and schedules that can never fire ("0 0 30 2 *").
//
// # English-like (App Engine cron.yaml, "Groc")
//
// The grammar of App Engine's Groc.g, implemented here by hand. Words are
// case-insensitive and, as in Groc's lexer, need no spaces between them
// ("every5 mins"); commas may have spaces around them.
//
//	every N (hours|mins|minutes) [from HH:MM to HH:MM | synchronized]
//	(every | ORDINALS) (day | DAYS) [of (month | MONTHS | quarter | QORDINALS month of quarter)] HH:MM
//	MONTHDAYS of (month | MONTHS | quarter | QORDINALS month of quarter) HH:MM
//
// ORDINALS is a list of 1st..5th or first..fifth; QORDINALS of 1st..3rd or
// first..third; DAYS a list of monday..sunday or mon..sun; MONTHS a list of
// january..december or jan..dec; MONTHDAYS a list of numbers 1-31. HH:MM is
// a 24-hour time (H:MM too) in the schedule's zone. N has 1 to 5 digits.
// Meanings, as Groc defines them:
//
//   - "every monday,friday 09:00": those weekdays; "every day 09:00": daily.
//   - "1st,3rd monday of month 09:00": the 1st and 3rd Monday of each month;
//     "5th friday" fires only in months that have one.
//   - "1st,3rd day of month 09:00": the 1st and 3rd day of the month (an
//     ordinal with "day" is a day of the month).
//   - "1,15 of month 09:00": days by number.
//   - "of quarter" is January, April, July and October; "of 2nd month of
//     quarter" is February, May, August and November.
//   - Without "of", every month.
//   - "every N hours|mins from A to B": every N from A until B inclusive,
//     each day, past midnight when B is earlier than A; A = B fires once.
//   - "every N hours|mins synchronized": from 00:00, every N; N must divide
//     24 hours.
//
// Groc has no "hour", "min", "hrs", "last", "at" or "and"; the errors for
// those say what to write instead.
//
// # Choices where Google documents nothing
//
//   - Interval without a window: App Engine counts "every N minutes" from
//     the previous run. oidcron aligns it to the start of the day in the
//     schedule's zone instead (as if "from 00:00 to 23:59"), so fire times
//     are deterministic and survive a restart; where "synchronized" is
//     valid this is the same schedule. When N does not divide the day the
//     last slot comes before midnight and the next day starts at 00:00
//     ("every 7 minutes": 23:55, 00:00). An interval longer than a day
//     ("every 36 hours") counts from 1970-01-01 00:00 on the wall clock.
//   - A schedule that can never fire ("0 0 31 2 *", "30 of feb 00:00") is
//     rejected by Parse (App Engine's Groc does the same for days of the
//     month), so Next returns the zero time only past the end of year 9999.
//     Rare schedules are fine: "0 0 29 2 *" fires every leap year.
//   - Day and month names: besides Google's upper-case three-letter names,
//     lower and mixed case and names inside ranges are accepted.
//   - Time zones: LoadZone takes any tz database name (including links
//     such as "US/Eastern" and legacy ones such as "EST5EDT"), "utc" in any
//     case, and "" for UTC; it refuses "Local".
//
// # DST: wall-clock schedules, one fire per wall time
//
// Every schedule, intervals included, names wall-clock times in its zone.
// A wall time that does not exist (the gap when clocks spring forward)
// fires once, at the first instant after the gap: "30 2 * * *" fires at
// 03:00 on the day Berlin jumps from 02:00 to 03:00. All slots in the gap
// and the first one after it fire together, once: "*/15 * * * *" fires at
// 01:45 and then 03:00 (for 02:00, 02:15, 02:30, 02:45 and 03:00), then
// 03:15. A wall time that occurs twice (fall back) fires once, at its first
// occurrence: on the day Berlin goes from 03:00 back to 02:00, "30 2 * * *"
// fires at 02:30 CEST only, and "*/15 * * * *" or "every 5 minutes" fire
// through the first 02:00-02:59 and then not again until 03:00 CET, an hour
// of wall time later and two hours of real time. Fire times never repeat
// and never go backwards.
//
// The same rules apply to 30-minute shifts (Australia/Lord_Howe), odd
// offsets (Asia/Kathmandu, Pacific/Chatham) and to changes at midnight
// (America/Santiago, where the missing hour is 00:00-00:59).
//
// # Performance
//
// Next jumps by month, day and minute over bit sets and asks the zone
// through a per-Location table of offset periods (1970-2200), so it costs
// on the order of 100 ns and never scans minute by minute.
package cron
