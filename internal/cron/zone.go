package cron

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // zones must load on hosts without /usr/share/zoneinfo (distroless images, Windows)
)

// LoadZone resolves a Cloud Scheduler time_zone. Google takes tz database
// names, documents "utc" for UTC and defaults an empty time_zone to UTC
// (gcloud shows it as Etc/UTC); "utc" is accepted in any case. "Local" is
// refused: a job's zone must not depend on the host oidcron runs on.
//
// Locations are cached by name, so the 1,000,000 jobs a scheduler loads at
// start share a handful of Locations (and the transition tables Next builds
// for them) instead of reading zoneinfo once per job.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || strings.EqualFold(name, "utc") {
		return time.UTC, nil
	}
	if v, ok := locations.Load(name); ok {
		return v.(*time.Location), nil
	}
	if name == "Local" {
		return nil, errors.New(`time zone "Local" is not a tz database name`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q is not in the tz database", name)
	}
	v, _ := locations.LoadOrStore(name, loc)
	return v.(*time.Location), nil
}

var locations sync.Map // name -> *time.Location

// CheckZone is LoadZone for a time_zone being set on a job: it also refuses
// names not shaped like tz database names (zoneName). LoadZone itself keeps
// loading them, so that a job stored with one before this rule existed
// keeps firing as it did.
func CheckZone(name string) (*time.Location, error) {
	if name != "" && !strings.EqualFold(name, "utc") && !zoneName(name) {
		return nil, fmt.Errorf("time zone %q is not a tz database name", name)
	}
	return LoadZone(name)
}

// zoneName reports whether name is shaped like a tz database name: parts
// joined by '/', each starting with a letter and holding only ASCII letters,
// digits and "_+-". time.LoadLocation opens any file under the host's
// zoneinfo directory, and that directory holds more than the database's
// names: the host's own zone ("localtime"), leap-second tables ("right/...",
// whose transitions come 27 s late), copies ("posix/..."), and paths such as
// "./UTC"; accepting them would make a job's zone depend on the host.
func zoneName(name string) bool {
	switch name {
	case "localtime", "posixrules":
		return false
	}
	parts := strings.Split(name, "/")
	if len(parts) > 1 && (parts[0] == "right" || parts[0] == "posix") {
		return false
	}
	for _, p := range parts {
		if p == "" || !isLetter(p[0]) {
			return false
		}
		for i := 1; i < len(p); i++ {
			if c := p[i]; !isLetter(c) && (c < '0' || c > '9') && c != '_' && c != '+' && c != '-' {
				return false
			}
		}
	}
	return true
}

const (
	minPeriodStart = math.MinInt64
	maxPeriodEnd   = math.MaxInt64
)

// period is a stretch of instants [start, end) with one UTC offset.
// start is minPeriodStart and end maxPeriodEnd when unbounded.
type period struct {
	start, end int64
	off        int64 // seconds east of UTC
}

// zone answers "which offset, from when to when" for instants in a
// Location. The time package answers it too, but for instants past a zone's
// last listed transition (all of today's, in the slim tzdata format) it
// re-parses the zone's POSIX rule on every call; Next asks a few times per
// call, so a table of the periods from 1970 to 2200 is built once per
// Location, and only instants outside it go to the time package.
type zone struct {
	loc  *time.Location
	once sync.Once
	// periods covers [periods[0].start, periods[len-1].end) without gaps;
	// adjacent periods have different offsets.
	periods []period
}

var (
	zoneTableFrom = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	zoneTableTo   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
)

// zones caches tables by Location pointer. Locations from LoadZone are
// shared, so this stays small; the cap stops callers that make a fresh
// Location per Parse from growing it without bound (they get an uncached
// table, correct but built per schedule).
var (
	zonesMu sync.Mutex
	zones   = map[*time.Location]*zone{}
)

const maxCachedZones = 4096

func zoneFor(loc *time.Location) *zone {
	zonesMu.Lock()
	defer zonesMu.Unlock()
	if z, ok := zones[loc]; ok {
		return z
	}
	z := &zone{loc: loc}
	if len(zones) < maxCachedZones {
		zones[loc] = z
	}
	return z
}

func (z *zone) build() {
	u := zoneTableFrom
	for {
		p := periodAt(z.loc, u)
		if n := len(z.periods); n > 0 && z.periods[n-1].off == p.off {
			// A transition that changes only the abbreviation or the DST
			// flag is no transition for wall-clock arithmetic.
			z.periods[n-1].end = p.end
		} else {
			z.periods = append(z.periods, p)
		}
		if p.end >= zoneTableTo {
			return
		}
		u = p.end
	}
}

func offsetAt(loc *time.Location, u int64) int64 {
	_, off := time.Unix(u, 0).In(loc).Zone()
	return int64(off)
}

// periodAt returns a period containing u with u's offset. It asks
// Time.ZoneBounds, but does not take its word: for instants past a zone's
// last listed transition Go computes the bounds from the POSIX rule, and on
// the last day of a leap year (e.g. 2040-12-31 in Europe/Berlin, Go 1.26) it
// returns an end at or before the instant itself. Such bounds are replaced by
// ones found from offsets alone. A period may be shorter than the zone's true
// one (it then ends where the next, same-offset, period starts), never longer.
func periodAt(loc *time.Location, u int64) period {
	t := time.Unix(u, 0).In(loc)
	_, o := t.Zone()
	off := int64(o)
	s, e := t.ZoneBounds()
	p := period{start: minPeriodStart, end: maxPeriodEnd, off: off}
	if !s.IsZero() {
		p.start = s.Unix()
	}
	if !e.IsZero() {
		p.end = e.Unix()
	}
	if p.start > u {
		p.start = u
	}
	if p.end <= u {
		p.end = nextChange(loc, u, off)
	}
	return p
}

// nextChange finds the first instant after u whose offset is not off,
// looking a day at a time for up to a year, then bisecting to the second.
// Without a change in that year it returns the year's end, a valid (if
// short) end for a period with offset off.
func nextChange(loc *time.Location, u, off int64) int64 {
	const day, limit = 86400, 366
	lo := u
	for i := 0; i < limit; i++ {
		hi := lo + day
		if offsetAt(loc, hi) == off {
			lo = hi
			continue
		}
		// offset at lo is off, at hi it is not: bisect.
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if offsetAt(loc, mid) == off {
				lo = mid
			} else {
				hi = mid
			}
		}
		return hi
	}
	return lo
}

// at returns the period containing instant u (Unix seconds).
func (z *zone) at(u int64) period {
	z.once.Do(z.build)
	ps := z.periods
	if u < ps[0].start || u >= ps[len(ps)-1].end {
		return periodAt(z.loc, u)
	}
	i := sort.Search(len(ps), func(i int) bool { return ps[i].end > u })
	return ps[i]
}

// maxOffset bounds the UTC offset of any zone, past or present (the largest
// in the tz database are local mean times under 16 hours).
const maxOffset = 26 * 3600

// first returns the first instant whose wall clock reads c (civil seconds)
// or later: min{u : u + offset(u) >= c}. This one function is the DST policy.
// A wall time that occurs once maps to its instant; one that occurs twice
// (fall back) maps to its first occurrence; one that does not occur (spring
// forward) maps to the first instant after the gap, the transition itself.
// Because it is non-decreasing in c, slots in a gap all land on the same
// instant and fire once together, and fire times never go backwards.
func (z *zone) first(c int64) int64 {
	u := c - maxOffset // no instant this early reads c or later
	for {
		p := z.at(u)
		v := max(u, c-p.off)
		if v < p.end {
			return v
		}
		u = p.end
	}
}
