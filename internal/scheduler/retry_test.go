package scheduler

import (
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/protobuf/types/known/durationpb"
)

func rc(count int32, maxRetry, minB, maxB time.Duration, doublings int32) *schedulerpb.RetryConfig {
	c := &schedulerpb.RetryConfig{RetryCount: count, MaxDoublings: doublings}
	if maxRetry != 0 {
		c.MaxRetryDuration = durationpb.New(maxRetry)
	}
	if minB != 0 {
		c.MinBackoffDuration = durationpb.New(minB)
	}
	if maxB != 0 {
		c.MaxBackoffDuration = durationpb.New(maxB)
	}
	return c
}

func TestBackoff(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name string
		rc   *schedulerpb.RetryConfig
		want []time.Duration // retries 1, 2, ...
	}{
		{"Google's worked example", rc(5, 0, 10*s, 300*s, 3),
			[]time.Duration{10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 240 * s, 300 * s, 300 * s}},
		{"defaults: 5s doubling 5 times, then +160s, capped at 1h", nil,
			[]time.Duration{5 * s, 10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 320 * s, 480 * s}},
		{"unset durations take the defaults, doublings as stored", rc(1, 0, 0, 0, 5),
			[]time.Duration{5 * s, 10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 320 * s}},
		{"zero doublings grows linearly", rc(1, 0, 5*s, time.Hour, 0),
			[]time.Duration{5 * s, 10 * s, 15 * s, 20 * s}},
		{"max below min caps at max", rc(1, 0, 10*s, 3*s, 2),
			[]time.Duration{3 * s, 3 * s}},
		{"cap inside the doubling phase", rc(1, 0, 10*s, 25*s, 5),
			[]time.Duration{10 * s, 20 * s, 25 * s, 25 * s}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, want := range tc.want {
				if got := Backoff(tc.rc, i+1); got != want {
					t.Errorf("retry %d: %v, want %v", i+1, got, want)
				}
			}
		})
	}
	// Retry numbers past any schedule (an unlimited max_retry_duration)
	// stay at the cap instead of overflowing.
	for _, k := range []int{62, 63, 64, 1000, 1 << 40} {
		if got := Backoff(rc(0, time.Hour, 10*s, 300*s, 3), k); got != 300*s {
			t.Errorf("retry %d: %v, want the cap", k, got)
		}
		if got := Backoff(rc(0, time.Hour, 1*time.Nanosecond, time.Hour, 100), k); got != time.Hour {
			t.Errorf("retry %d with 100 doublings: %v, want the cap", k, got)
		}
	}
	if got := Backoff(nil, 0); got != 5*s {
		t.Errorf("retry 0 is read as the first: %v", got)
	}
	// The default cap is reached: 5s*32*(k-5) passes 3600s at k = 28.
	if got := Backoff(nil, 27); got != 3520*s {
		t.Errorf("retry 27: %v", got)
	}
	if got := Backoff(nil, 28); got != time.Hour {
		t.Errorf("retry 28: %v", got)
	}
}

func TestShouldRetry(t *testing.T) {
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := time.Second
	for _, tc := range []struct {
		name     string
		rc       *schedulerpb.RetryConfig
		attempts int32
		elapsed  time.Duration
		want     bool
	}{
		{"no retry config", nil, 1, 0, false},
		{"retry_count 0 and no duration: never", rc(0, 0, 0, 0, 0), 1, 0, false},
		{"count 3: after the first attempt", rc(3, 0, 0, 0, 5), 1, 0, true},
		{"count 3: after the third attempt", rc(3, 0, 0, 0, 5), 3, time.Hour, true},
		{"count 3: after the fourth attempt (3 retries made)", rc(3, 0, 0, 0, 5), 4, 0, false},
		{"count 0, duration 60s: inside", rc(0, 60*s, 0, 0, 5), 9, 59 * s, true},
		{"count 0, duration 60s: reached", rc(0, 60*s, 0, 0, 5), 2, 60 * s, false},
		{"both: count not reached, duration reached", rc(2, 60*s, 0, 0, 5), 2, 100 * s, true},
		{"both: count reached, duration not", rc(2, 60*s, 0, 0, 5), 3, 10 * s, true},
		{"both reached", rc(2, 60*s, 0, 0, 5), 3, 61 * s, false},
	} {
		if got := ShouldRetry(tc.rc, tc.attempts, first, first.Add(tc.elapsed)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
