package scheduler

import (
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
)

// Google's RetryConfig defaults (reference §1.6). The API stores them into
// the job on create; the engine applies them again for a job whose stored
// retry_config lacks them, so that a record written by any path behaves the
// same.
const (
	DefaultMinBackoff   = 5 * time.Second
	DefaultMaxBackoff   = time.Hour
	DefaultMaxDoublings = 5
)

// Backoff returns the wait before retry number retry (1 = the first retry)
// of a failed execution, by Google's documented interval: it starts at
// min_backoff, doubles max_doublings times, then grows linearly by
// 2^max_doublings * min_backoff per retry, capped at max_backoff. With min
// 10s, max 300s and 3 doublings the retries wait 10, 20, 40, 80, 160, 240,
// 300, 300 ... seconds.
//
// A nil rc means every default. Unset or non-positive min/max backoff take
// their defaults (a zero backoff would make retries a busy loop);
// max_doublings is taken as stored when rc is set, because proto3 cannot tell
// an explicit 0 (purely linear growth) from an unset field and the API fills
// the default at create time. No jitter is applied: Google documents none,
// and exact instants are what tests and users can reason about.
func Backoff(rc *schedulerpb.RetryConfig, retry int) time.Duration {
	minB, maxB, d := DefaultMinBackoff, DefaultMaxBackoff, int64(DefaultMaxDoublings)
	if rc != nil {
		if v := rc.GetMinBackoffDuration(); v != nil && v.AsDuration() > 0 {
			minB = v.AsDuration()
		}
		if v := rc.GetMaxBackoffDuration(); v != nil && v.AsDuration() > 0 {
			maxB = v.AsDuration()
		}
		d = int64(rc.GetMaxDoublings())
		if d < 0 {
			d = 0
		}
	}
	if maxB < minB {
		// Google does not say; a maximum below the minimum can only mean
		// "never wait more than this".
		minB = maxB
	}
	if retry < 1 {
		retry = 1
	}
	k := int64(retry)
	// Every product is checked against maxB before it is formed, so that a
	// long max_retry_duration (unbounded retry numbers) never overflows.
	var mult int64 // interval = minB * mult
	if k-1 <= d {
		if k-1 >= 62 || int64(maxB/minB) < int64(1)<<(k-1) {
			return maxB
		}
		mult = int64(1) << (k - 1)
	} else {
		if d >= 62 || int64(maxB/minB) < int64(1)<<d {
			return maxB
		}
		p := int64(1) << d
		if (k - d) > int64(maxB/minB)/p {
			return maxB
		}
		mult = p * (k - d)
	}
	iv := minB * time.Duration(mult)
	if iv > maxB {
		return maxB
	}
	return iv
}

// ShouldRetry reports whether an execution that has made attemptsMade
// attempts, the first at firstAttempt, is retried after a failure decided at
// now.
//
// Google: retry_count retries, and max_retry_duration measured from the first
// attempt; "if specified with retry_count, the job will be retried until both
// limits are reached"; max_retry_duration 0 means no time limit; retry_count
// 0 with max_retry_duration 0 means no retry. We read "until both limits are
// reached" as: retry while either limit is not yet reached, where an unset
// (0) duration counts as reached, so that retry_count 3 alone gives exactly 3
// retries.
//
// UNCONFIRMED choice: retry_count 0 with a non-zero max_retry_duration retries
// (with the usual backoff) until the duration has elapsed, as Google's retry
// page implies ("if retryCount is 0 (and if maxRetryDuration is also 0), a job
// attempt won't be retried").
//
// The duration is compared at the moment of the decision (the end of the
// failed attempt), not at the instant the retry would start.
func ShouldRetry(rc *schedulerpb.RetryConfig, attemptsMade int32, firstAttempt, now time.Time) bool {
	if rc == nil {
		return false
	}
	retries := attemptsMade - 1
	if retries < rc.GetRetryCount() {
		return true
	}
	if d := rc.GetMaxRetryDuration().AsDuration(); d > 0 && now.Sub(firstAttempt) < d {
		return true
	}
	return false
}
