package rowcodec

import (
	"database/sql"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oidcron/oidcron/internal/store"
)

func TestTimeRoundTrip(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	for _, in := range []time.Time{
		time.Date(2026, 3, 8, 1, 59, 59, 999_999_999, berlin),
		time.Unix(0, 1),
		time.Unix(0, -1), // before the epoch
		time.Unix(0, math.MinInt64),
		time.Unix(0, math.MaxInt64),
	} {
		n, err := TimeToDB("sqlite", in)
		if err != nil || !n.Valid || n.Int64 != in.UnixNano() {
			t.Errorf("TimeToDB(%v) = %+v, %v", in, n, err)
			continue
		}
		out := TimeFromDB(n)
		if !out.Equal(in) || out.Location() != time.UTC {
			t.Errorf("TimeFromDB(TimeToDB(%v)) = %v, want the same instant in UTC", in, out)
		}
		if ts := TimestampFromDB(n); !ts.AsTime().Equal(in) {
			t.Errorf("TimestampFromDB(TimeToDB(%v)) = %v", in, ts.AsTime())
		}
	}
}

func TestZeroTimeIsNull(t *testing.T) {
	n, err := TimeToDB("sqlite", time.Time{})
	if err != nil || n.Valid {
		t.Fatalf("TimeToDB(zero) = %+v, %v; want NULL", n, err)
	}
	if got := TimeFromDB(sql.NullInt64{}); !got.IsZero() {
		t.Errorf("TimeFromDB(NULL) = %v, want the zero time", got)
	}
	if got := TimestampFromDB(sql.NullInt64{}); got != nil {
		t.Errorf("TimestampFromDB(NULL) = %v, want nil", got)
	}
	if got := TimeOf(nil); !got.IsZero() {
		t.Errorf("TimeOf(nil) = %v, want the zero time", got)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	if got := TimeOf(timestamppb.New(at)); !got.Equal(at) {
		t.Errorf("TimeOf = %v, want %v", got, at)
	}
}

func TestTimeOutsideRange(t *testing.T) {
	for _, in := range []time.Time{
		time.Unix(0, math.MaxInt64).Add(time.Nanosecond),
		time.Unix(0, math.MinInt64).Add(-time.Nanosecond),
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		n, err := TimeToDB("postgres", in)
		if err == nil || !strings.HasPrefix(err.Error(), "postgres: time ") || !strings.Contains(err.Error(), "storable range") {
			t.Errorf("TimeToDB(%v) = %+v, %v; want an error", in, n, err)
		}
	}
}

func TestLimit(t *testing.T) {
	for n, want := range map[int]int64{-1: math.MaxInt64, 0: math.MaxInt64, 1: 1, 501: 501} {
		if got := Limit(n); got != want {
			t.Errorf("Limit(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestAttemptTimes(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 5, time.UTC)
	a := store.Attempt{Job: "j", Number: 2, Start: start, End: start.Add(time.Second)}
	s, sched, end, err := AttemptTimes("sqlite", a)
	if err != nil || s != start.UnixNano() || sched.Valid || !end.Valid || end.Int64 != start.Add(time.Second).UnixNano() {
		t.Fatalf("AttemptTimes = %d, %+v, %+v, %v", s, sched, end, err)
	}
	far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		a    store.Attempt
		want string
	}{
		"no job":       {store.Attempt{Start: start}, "sqlite: attempt without a job"},
		"no start":     {store.Attempt{Job: "j", Number: 2}, `sqlite: attempt 2 of job "j": no start time`},
		"far start":    {store.Attempt{Job: "j", Start: far}, `attempt of job "j": sqlite: time`},
		"far schedule": {store.Attempt{Job: "j", Start: start, ScheduleTime: far}, `attempt of job "j": sqlite: time`},
		"far end":      {store.Attempt{Job: "j", Start: start, End: far}, `attempt of job "j": sqlite: time`},
	} {
		if _, _, _, err := AttemptTimes("sqlite", tc.a); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: AttemptTimes: %v, want an error starting %q", name, err, tc.want)
		}
	}
}

func TestSigningKeyTimes(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	times, err := SigningKeyTimes("postgres", store.SigningKey{KeyID: "k", CreateTime: created, RetireTime: created.Add(time.Hour)})
	want := [4]sql.NullInt64{{Int64: created.UnixNano(), Valid: true}, {}, {Int64: created.Add(time.Hour).UnixNano(), Valid: true}, {}}
	if err != nil || times != want {
		t.Fatalf("SigningKeyTimes = %+v, %v; want %+v", times, err, want)
	}
	for name, tc := range map[string]struct {
		k    store.SigningKey
		want string
	}{
		"no id":          {store.SigningKey{CreateTime: created}, "postgres: signing key without a key id"},
		"no create time": {store.SigningKey{KeyID: "k"}, `postgres: signing key "k": no create time`},
		"far delete":     {store.SigningKey{KeyID: "k", CreateTime: created, DeleteTime: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, `signing key "k": postgres: time`},
	} {
		if _, err := SigningKeyTimes("postgres", tc.k); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: SigningKeyTimes: %v, want an error starting %q", name, err, tc.want)
		}
	}
}
