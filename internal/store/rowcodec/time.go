package rowcodec

import (
	"database/sql"
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oidcron/oidcron/internal/store"
)

// Times are stored as BIGINT nanoseconds since the epoch, the zero
// time.Time as NULL (its nanosecond count overflows int64): the contract
// keeps instants to the nanosecond, which neither SQLite's text dates nor
// PostgreSQL's timestamptz (microseconds) do.
var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// TimeToDB is t as stored: NULL for the zero time, and an error for a
// time outside what int64 nanoseconds can hold.
func TimeToDB(backend string, t time.Time) (sql.NullInt64, error) {
	if t.IsZero() {
		return sql.NullInt64{}, nil
	}
	if t.Before(minNanoTime) || t.After(maxNanoTime) {
		return sql.NullInt64{}, fmt.Errorf("%s: time %s is outside the storable range (years 1678 to 2262)", backend, t.Format(time.RFC3339Nano))
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}, nil
}

// BeforeBound is an upper bound "strictly before t" as stored times can be
// compared with it: no bound (Valid false) for the zero time or a time past
// the storable range, which every stored time is before; empty true for a
// time before the range, which none is.
func BeforeBound(t time.Time) (bound sql.NullInt64, empty bool) {
	switch {
	case t.IsZero() || t.After(maxNanoTime):
		return sql.NullInt64{}, false
	case t.Before(minNanoTime):
		return sql.NullInt64{}, true
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}, false
}

// TimeFromDB is the time TimeToDB stored as n, in UTC.
func TimeFromDB(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// TimestampFromDB is a stored time as a message field: nil for NULL.
func TimestampFromDB(n sql.NullInt64) *timestamppb.Timestamp {
	if !n.Valid {
		return nil
	}
	return timestamppb.New(time.Unix(0, n.Int64))
}

// TimeOf is a message's time field as TimeToDB takes it: zero for nil.
func TimeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

// Limit is a count as a LIMIT argument: no limit for n <= 0. MaxInt64
// rather than SQLite's LIMIT -1, which PostgreSQL refuses.
func Limit(n int) int64 {
	if n <= 0 {
		return math.MaxInt64
	}
	return int64(n)
}

// AttemptTimes checks that a has a job and a start, and returns its times
// as stored. start is never NULL: attempts are ordered and trimmed by it.
func AttemptTimes(backend string, a store.Attempt) (start int64, schedule, end sql.NullInt64, err error) {
	if a.Job == "" {
		return 0, schedule, end, fmt.Errorf("%s: attempt without a job", backend)
	}
	if a.Start.IsZero() {
		// Without a start the order is meaningless.
		return 0, schedule, end, fmt.Errorf("%s: attempt %d of job %q: no start time", backend, a.Number, a.Job)
	}
	s, err := TimeToDB(backend, a.Start)
	if err != nil {
		return 0, schedule, end, fmt.Errorf("attempt of job %q: %w", a.Job, err)
	}
	if schedule, err = TimeToDB(backend, a.ScheduleTime); err != nil {
		return 0, schedule, end, fmt.Errorf("attempt of job %q: %w", a.Job, err)
	}
	if end, err = TimeToDB(backend, a.End); err != nil {
		return 0, schedule, end, fmt.Errorf("attempt of job %q: %w", a.Job, err)
	}
	return s.Int64, schedule, end, nil
}

// SigningKeyTimes checks that k has a key id and a create time, and returns
// its create, activate, retire and delete times as stored.
func SigningKeyTimes(backend string, k store.SigningKey) ([4]sql.NullInt64, error) {
	var times [4]sql.NullInt64
	if k.KeyID == "" {
		return times, fmt.Errorf("%s: signing key without a key id", backend)
	}
	if k.CreateTime.IsZero() {
		// Keys are listed in CreateTime order; without one the order is
		// meaningless (and NULLs sort differently in SQLite and PostgreSQL).
		return times, fmt.Errorf("%s: signing key %q: no create time", backend, k.KeyID)
	}
	for i, t := range []time.Time{k.CreateTime, k.ActivateTime, k.RetireTime, k.DeleteTime} {
		v, err := TimeToDB(backend, t)
		if err != nil {
			return times, fmt.Errorf("signing key %q: %w", k.KeyID, err)
		}
		times[i] = v
	}
	return times, nil
}
