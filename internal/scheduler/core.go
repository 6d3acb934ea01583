package scheduler

import (
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
)

// Schedule is a parsed job schedule in its time zone: Next returns the first
// slot strictly after t, or the zero time when there is none.
// internal/cron's Schedule satisfies it.
type Schedule interface {
	Next(t time.Time) time.Time
}

// ParseFunc parses a job's schedule and time_zone (as stored: "" means UTC).
// The server wires it to cron.LoadZone and cron.Parse; the engine takes a
// function so that it depends on the grammar's contract, not its package.
type ParseFunc func(spec, timeZone string) (Schedule, error)

// maxCatchUp bounds the walk over missed slots: a per-minute job down for a
// year is 525,600 slots, well inside it, and a walk past it still fires once
// and reports the bound as the skipped count.
const maxCatchUp = 1 << 20

// catchUp decides what a slot that comes due at now fires, when it fires
// late (the server was down, or the previous execution ran past it): the
// latest slot not after now, once; the earlier ones are skipped, never
// backfilled. next is the slot after it (zero: none).
func catchUp(s Schedule, slot, now time.Time) (fire time.Time, skipped int, next time.Time) {
	fire = slot
	for skipped < maxCatchUp {
		n := s.Next(fire)
		if n.IsZero() || n.After(now) {
			return fire, skipped, n
		}
		fire = n
		skipped++
	}
	// Too many to walk: the slot after now is still right.
	return fire, skipped, s.Next(now)
}

// retryDecision decides what follows a finished attempt of an execution:
// the instant of the next attempt, or zero when the execution ends. Backoff
// counts from the end of the failed attempt (Google does not say start or
// end; from the end the target always gets at least the backoff to recover).
func retryDecision(rc *schedulerpb.RetryConfig, ok bool, attempts int32, first, end time.Time) time.Time {
	if ok || !ShouldRetry(rc, attempts, first, end) {
		return time.Time{}
	}
	return end.Add(Backoff(rc, int(attempts)))
}
