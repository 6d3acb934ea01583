// Package clock is the one source of time for oidcron's deterministic parts.
//
// Code that decides anything by time (token expiry, key rotation, schedules,
// retries) takes a Clock instead of calling time.Now, so tests drive a Fake
// through expiries, rotations and DST transitions without sleeping.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and arranges for functions to run later.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has elapsed on this clock.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call; it reports whether the call was still pending.
	Stop() bool
}

// Real is the wall clock.
type Real struct{}

func (Real) Now() time.Time { return time.Now() }

func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Fake is a clock that moves only when told to. It is safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	seq    int
}

// NewFake returns a Fake set to t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// AfterFunc registers f to run when the clock is advanced to now+d or later.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	t := &fakeTimer{clock: f, at: f.now.Add(d), fn: fn, seq: f.seq}
	f.timers = append(f.timers, t)
	return t
}

// Advance moves the clock forward by d and runs, in due order, every timer
// that has come due. Each due function runs synchronously, in the calling
// goroutine, so that a test knows it has run when Advance returns.
func (f *Fake) Advance(d time.Duration) { f.Set(f.Now().Add(d)) }

// Set moves the clock to t (never backwards) and runs the timers due by then.
func (f *Fake) Set(t time.Time) {
	for {
		f.mu.Lock()
		if t.Before(f.now) {
			f.mu.Unlock()
			return
		}
		sort.SliceStable(f.timers, func(i, j int) bool {
			if f.timers[i].at.Equal(f.timers[j].at) {
				return f.timers[i].seq < f.timers[j].seq
			}
			return f.timers[i].at.Before(f.timers[j].at)
		})
		if len(f.timers) == 0 || f.timers[0].at.After(t) {
			f.now = t
			f.mu.Unlock()
			return
		}
		next := f.timers[0]
		f.timers = f.timers[1:]
		if next.at.After(f.now) {
			f.now = next.at
		}
		f.mu.Unlock()
		next.fn()
	}
}

// Pending reports how many timers are waiting.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

type fakeTimer struct {
	clock *Fake
	at    time.Time
	fn    func()
	seq   int
}

func (t *fakeTimer) Stop() bool {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.timers {
		if x == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			return true
		}
	}
	return false
}
