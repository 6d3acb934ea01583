package scheduler

import "github.com/oidcron/oidcron/internal/cron"

// ParseCron is the ParseFunc of oidcron's schedule grammar (unix-cron and
// the English-like form, with the DST policy of DESIGN.md); New uses it when
// Config.Parse is nil.
func ParseCron(spec, timeZone string) (Schedule, error) {
	loc, err := cron.LoadZone(timeZone)
	if err != nil {
		return nil, err
	}
	return cron.Parse(spec, loc)
}
