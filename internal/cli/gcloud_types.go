package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
)

// gcloud's argument types. argparse converts each flag's value as it reads
// the command line, so a bad value fails before any argument group is
// checked, and the first bad value on the command line is the one named.

// gcloudValue is a flag converted by parse when it is set.
type gcloudValue[T any] struct {
	p     *T
	name  string
	raw   string
	parse func(flag, v string) (T, error)
}

func (v *gcloudValue[T]) Set(s string) error {
	x, err := v.parse("--"+v.name, s)
	if err != nil {
		return err // returned as is by the flag error function (AddFlags)
	}
	*v.p, v.raw = x, s
	return nil
}

func (v *gcloudValue[T]) String() string { return v.raw }
func (v *gcloudValue[T]) Type() string   { return "string" }

// gcloudFlag adds a flag of gcloud type parse; a non-empty def is parsed
// as gcloud parses a string default.
func gcloudFlag[T any](fs *pflag.FlagSet, p *T, name, def, usage string, parse func(flag, v string) (T, error)) {
	v := &gcloudValue[T]{p: p, name: name, parse: parse}
	if def != "" {
		if err := v.Set(def); err != nil {
			panic(err)
		}
	}
	fs.Var(v, name, usage)
}

// gcloudPositive is gcloud's BoundedInt(1) (--limit, --page-size).
func gcloudPositive(flag, v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, usagef("argument %s: Value must be an integer; received: %s", flag, v)
	}
	if n < 1 {
		return 0, usagef("argument %s: Value must be greater than or equal to 1; received: %d", flag, n)
	}
	return n, nil
}

// gcloudInt is argparse's int.
func gcloudInt(flag, v string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, usagef("argument %s: invalid int value: '%s'", flag, v)
	}
	return n, nil
}

// gcloudDict is gcloud's ArgDict: KEY=VALUE pairs split on commas, or on
// the delimiter D of a value written "^D^KEY=VALUE D KEY=VALUE"; one
// trailing delimiter is dropped.
func gcloudDict(flag, v string) (map[string]string, error) {
	items, err := dictItems(flag, v)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, kv := range items {
		k, val, ok := strings.Cut(kv, "=")
		switch {
		case k == "":
			return nil, usagef("argument %s: Invalid flag value [%s]", flag, kv)
		case !ok:
			return nil, usagef("argument %s: Bad syntax for dict arg: [%s]. %s", flag, kv, dictHelp)
		}
		out[k] = val
	}
	return out, nil
}

const dictHelp = "Please see `gcloud topic flags-file` or `gcloud topic escaping` for information on providing list or dictionary flag values with special characters."

// dictItems splits an ArgDict's value into its items.
func dictItems(flag, v string) ([]string, error) {
	sep := ","
	if strings.HasPrefix(v, "^") && strings.Contains(v[1:], "^") {
		sep, v, _ = strings.Cut(v[1:], "^")
		if sep == "" {
			return nil, usagef("argument %s: Invalid delimeter. %s", flag, dictHelp)
		}
	}
	if v == "" {
		return nil, nil
	}
	return strings.Split(strings.TrimSuffix(v, sep), sep), nil
}

// conditionKeys are the keys of gcloud's --condition (_ConditionArgDict).
var conditionKeys = []string{"None", "description", "expression", "title"}

// gcloudCondition is --condition as gcloud's ArgDict reads it: only
// conditionKeys, each alone or with a value, but None takes none.
func gcloudCondition(flag, v string) (map[string]string, error) {
	items, err := dictItems(flag, v)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, kv := range items {
		k, val, _ := strings.Cut(kv, "=")
		switch {
		case k == "":
			return nil, usagef("argument %s: Invalid flag value [%s]", flag, kv)
		case !slices.Contains(conditionKeys, k):
			return nil, usagef("argument %s: valid keys are [%s]; received: %s", flag, strings.Join(conditionKeys, ", "), k)
		case k == "None" && val != "":
			return nil, usagef("argument %s: Key [None] does not take a value", flag)
		}
		out[k] = val
	}
	return out, nil
}

// fileContents is gcloud's FileContents: the file, or standard input for
// "-", is read as the command line is.
func (g *Globals) fileContents(flag, path string) (string, error) {
	if path == "-" {
		b, err := io.ReadAll(g.In)
		if err != nil {
			return "", usagef("argument %s: Unable to read from standard input: %v", flag, err)
		}
		return string(b), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usagef("argument %s: Unable to read file [%s]: %s", flag, path, pyOSError(err))
	}
	return string(b), nil
}

// pyOSError renders a file error as Python's OSError does:
// "[Errno 2] No such file or directory: '/x'".
func pyOSError(err error) string {
	var pe *fs.PathError
	var errno syscall.Errno
	if errors.As(err, &pe) && errors.As(err, &errno) {
		msg := errno.Error()
		return fmt.Sprintf("[Errno %d] %s%s: '%s'", int(errno), strings.ToUpper(msg[:1]), msg[1:], pe.Path)
	}
	return err.Error()
}

// gcloudDuration is gcloud's times.ParseDuration (iso_duration.Duration)
// formatted by times.FormatDurationForJson ("90m" is "5400s"). Its errors
// escape argparse, so gcloud prints them as "(gcloud)" errors, exit 1.
func gcloudDuration(_, v string) (string, error) {
	fail := func(format string, a ...any) (string, error) {
		return "", &OutsideError{Msg: fmt.Sprintf(format, a...)}
	}
	s := strings.ToUpper(v)
	sign := ""
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		s, sign = rest, "-"
	} else {
		s = strings.TrimPrefix(s, "+")
	}
	s, calendarForm := strings.CutPrefix(s, "P")
	tSeen, tImplied := false, !calendarForm
	var years, months, days, hours, minutes, seconds float64
	amount := sign
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			amount += string(c)
		case c == '.' || c == ',':
			amount += "."
		case c == 'T':
			if tSeen {
				return fail("A duration may contain at most one 'T' separator.")
			}
			tSeen, tImplied = true, true
		case amount == sign:
			// Python indexes the original string with s's index.
			return fail("Duration unit '%s' must be preceded by a number.", v[min(i, len(v)):])
		default:
			n, err := strconv.ParseFloat(amount, 64)
			if err != nil {
				return fail("could not convert string to float: '%s'", amount)
			}
			amount = sign
			switch {
			case c == 'Y':
				years += n
			case c == 'W':
				days += n * 7
			case c == 'D':
				days += n
			case strings.IndexByte("MUN", c) >= 0 && i+2 == len(s) && s[i+1] == 'S':
				seconds += n / map[byte]float64{'M': 1e3, 'U': 1e6, 'N': 1e9}[c]
				i = len(s)
			case c == 'M' && !tImplied:
				tImplied = true
				months += n
			default:
				tImplied = true
				switch c {
				case 'H':
					hours += n
				case 'M':
					minutes += n
				case 'S':
					seconds += n
				default:
					return fail("Unknown character '%c' in duration.", c)
				}
			}
		}
	}
	if amount != sign && strings.TrimLeft(strings.ToUpper(v), "+-") != "P0" {
		return fail("Duration must end with time part character.")
	}
	total, err := isoTotalSeconds(years, months, days, hours, minutes, seconds)
	if err != nil {
		return fail("%v", err)
	}
	// '{}'.format(round(total, 6)) without a trailing ".0".
	total = math.Round(total*1e6) / 1e6
	f := byte('f')
	if a := math.Abs(total); a != 0 && (a < 1e-4 || a >= 1e16) {
		f = 'e'
	}
	return strconv.FormatFloat(total, f, -1, 64) + "s", nil
}

// isoTotalSeconds is iso_duration.Duration._Normalize's total_seconds: each
// part's fraction (to 4 places) moves to the next smaller part, and
// durations with days, months or years are calendar ones (a year is
// 365.2422 days, and the total is rounded to whole seconds plus the
// microseconds).
func isoTotalSeconds(years, months, days, hours, minutes, seconds float64) (float64, error) {
	const daysPerYear, secsPerDay = 365.2422, 86400.0
	round4 := func(f float64) float64 { return math.Round(f*1e4) / 1e4 }
	var overflow error
	percolate := func(f float64) (float64, float64) {
		if math.IsInf(f, 0) || math.IsNaN(f) {
			overflow = errors.New("cannot convert float infinity to integer")
			return 0, 0
		}
		w := math.Trunc(f)
		return w, round4(round4(f) - w)
	}
	var frac float64
	if years, frac = percolate(years); frac != 0 {
		days += daysPerYear * frac
	}
	if months, frac = percolate(months); frac != 0 {
		days += math.Trunc(daysPerYear * frac / 12)
	}
	if days, frac = percolate(days); frac != 0 {
		hours += 24 * frac
	}
	if hours, frac = percolate(hours); frac != 0 {
		minutes += 60 * frac
	}
	if minutes, frac = percolate(minutes); frac != 0 {
		seconds += 60 * frac
	}
	micros := 0.0
	if seconds, frac = percolate(seconds); frac != 0 {
		micros = math.Trunc(1e6 * frac)
	}
	if overflow != nil {
		return 0, overflow
	}
	carry := math.Trunc(micros / 1e6)
	micros -= carry * 1e6
	total := micros / 1e6
	seconds += carry
	carry = math.Trunc(seconds / 60)
	seconds -= carry * 60
	total += seconds
	minutes += carry
	carry = math.Trunc(minutes / 60)
	minutes -= carry * 60
	total += minutes * 60
	hours += carry
	if days == 0 && months == 0 && years == 0 {
		return total + hours*3600, nil
	}
	carry = math.Trunc(hours / 24)
	hours -= carry * 24
	total += hours * 3600
	days += carry
	if days >= 366 {
		days, years = days-366, years+1
	} else if days <= -366 {
		days, years = days+366, years-1
	}
	carry = math.Trunc(days / daysPerYear)
	days -= math.Trunc(carry * daysPerYear)
	total += days * secsPerDay
	years += carry
	carry = math.Trunc(months / 12)
	months -= carry * 12
	total += months * secsPerDay * daysPerYear / 12
	years += carry
	total += years * secsPerDay * daysPerYear
	return math.RoundToEven(total) + micros/1e6, nil
}

// lastBool is one side of a gcloud boolean flag and its --no- form: both
// record into one tri-state (nil: neither given), and the last given on
// the command line wins, without error, as in gcloud.
type lastBool struct {
	p    **bool
	val  bool
	name string
}

// Set takes no value of its own: gcloud's are store_true flags, for which
// --gen2=false is an argparse error.
func (b lastBool) Set(s string) error {
	if s != "true" {
		return b.explicit(s)
	}
	v := b.val
	*b.p = &v
	return nil
}

func (b lastBool) explicit(s string) error {
	return usagef("argument --%s: ignored explicit argument '%s'", b.name, s)
}

func (b lastBool) String() string   { return "false" }
func (b lastBool) Type() string     { return "bool" }
func (b lastBool) IsBoolFlag() bool { return true }

// storeTrue is gcloud's store_true flag: given, it is true, and a value of
// its own ("--all=false") is an argparse error. pflag hands a bare "--all"
// to Set as "true", so Set takes "--all=true" too; Execute's scan of the
// line (flagValueError) refuses it, as gcloud does.
type storeTrue struct {
	p     *bool
	label string // "--quiet/-q", as argparse names it
}

func (b storeTrue) Set(s string) error {
	if s != "true" {
		return b.explicit(s)
	}
	*b.p = true
	return nil
}

func (b storeTrue) explicit(s string) error {
	return usagef("argument %s: ignored explicit argument '%s'", b.label, s)
}

// takesNoValue is a flag value of gcloud's that takes none: explicit is
// argparse's error for one given anyway ("--quiet=true" too, which pflag
// hands to Set as it hands it a bare "--quiet").
type takesNoValue interface{ explicit(v string) error }

func (b storeTrue) String() string   { return strconv.FormatBool(*b.p) }
func (b storeTrue) Type() string     { return "bool" }
func (b storeTrue) IsBoolFlag() bool { return true }

// gcloudStoreTrue adds a store_true flag with default def.
func gcloudStoreTrue(fs *pflag.FlagSet, p *bool, name, shorthand string, def bool, usage string) {
	*p = def
	label := "--" + name
	if shorthand != "" {
		label += "/-" + shorthand
	}
	fs.VarPF(storeTrue{p, label}, name, shorthand, usage).NoOptDefVal = "true"
}

// gcloudBoolPair adds --name and --no-name, recording into *p.
func gcloudBoolPair(fs *pflag.FlagSet, p **bool, name, usage, noUsage string) {
	fs.VarPF(lastBool{p, true, name}, name, "", usage).NoOptDefVal = "true"
	fs.VarPF(lastBool{p, false, "no-" + name}, "no-"+name, "", noUsage).NoOptDefVal = "true"
}
