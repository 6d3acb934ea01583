package scheduler

import (
	"time"

	"google.golang.org/grpc/codes"

	"github.com/oidcron/oidcron/internal/store"
)

// TestSignals are channels on which the engine reports what it did, so that
// tests wait for an event instead of sleeping (River's pattern). Each is
// buffered; the engine never blocks on them: when a buffer is full the event
// is dropped (a test that lets that happen fails by waiting in vain). Nil
// channels are skipped.
type TestSignals struct {
	// Fired: an execution started (a slot claimed, a RunJob, or a recovered
	// execution resumed).
	Fired chan Fire
	// AttemptFinished: an attempt ended; sent after the engine has decided
	// and queued what follows it (the retry timer is armed).
	AttemptFinished chan store.Attempt
	// ExecutionDone: an execution ended (success, no retry left, its job
	// paused or deleted).
	ExecutionDone chan ExecutionDone
	// Flushed: a batch of writes reached the store.
	Flushed chan struct{}
	// Reread: a job whose change could not be read was read again (Err is
	// that read's error, nil when it succeeded and was applied).
	Reread chan Reread
	// Held: an execution did not make its attempt because its job, or a
	// change of it, could not be read; it was queued again.
	Held chan Held
}

// Held describes an execution held back.
type Held struct {
	Job          string
	ScheduleTime time.Time
	Next         time.Time // when it is tried again
	Err          error     // the failed read of its message, if that held it
}

// Reread describes a read of a job whose change could not be read.
type Reread struct {
	Job string
	Err error
}

// Fire describes a started execution.
type Fire struct {
	Job          string
	ScheduleTime time.Time
	Manual       bool
	Recovered    bool // resumed from the store at Start
	Skipped      int  // earlier slots skipped in favour of this one
}

// ExecutionDone describes an ended execution.
type ExecutionDone struct {
	Job          string
	ScheduleTime time.Time
	Manual       bool
	Attempts     int32
	Code         codes.Code // of the last attempt
}

// NewTestSignals returns signals with room for n events each.
func NewTestSignals(n int) *TestSignals {
	return &TestSignals{
		Fired:           make(chan Fire, n),
		AttemptFinished: make(chan store.Attempt, n),
		ExecutionDone:   make(chan ExecutionDone, n),
		Flushed:         make(chan struct{}, n),
		Reread:          make(chan Reread, n),
		Held:            make(chan Held, n),
	}
}

func signal[T any](c chan T, v T) {
	if c == nil {
		return
	}
	select {
	case c <- v:
	default:
	}
}
