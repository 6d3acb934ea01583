package postgres

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"google.golang.org/protobuf/proto"

	"github.com/oidcron/oidcron/internal/store"
)

// marshal is deterministic so that equal records are equal blobs.
var marshal = proto.MarshalOptions{Deterministic: true}

func encode(what string, m proto.Message) ([]byte, error) {
	b, err := marshal.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("postgres: encode %s: %w", what, err)
	}
	return b, nil
}

func decode[T proto.Message](what string, b []byte, m T) (T, error) {
	if err := proto.Unmarshal(b, m); err != nil {
		var zero T
		return zero, fmt.Errorf("postgres: decode %s: %w", what, err)
	}
	return m, nil
}

// nonNil stores an empty value as an empty bytea: pgx sends a nil slice as
// NULL, which the NOT NULL columns refuse and which would not come back as
// the empty value the caller stored.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// notFound and alreadyExists wrap the sentinels with the key, for logs.
func notFound(kind, key string) error {
	return fmt.Errorf("%s %q: %w", kind, key, store.ErrNotFound)
}

func alreadyExists(kind, key string) error {
	return fmt.Errorf("%s %q: %w", kind, key, store.ErrAlreadyExists)
}

// SQLSTATEs the store acts on.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

func sqlState(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// isUniqueViolation reports whether err is PostgreSQL refusing a duplicate
// key. Inserts avoid it with ON CONFLICT DO NOTHING and updates check
// first in the same statement, because a failed statement aborts the whole
// transaction it is in; this catches the race that the check cannot.
func isUniqueViolation(err error) bool { return sqlState(err) == codeUniqueViolation }

// Times are stored as BIGINT nanoseconds since the epoch, the zero
// time.Time as NULL: the contract keeps instants to the nanosecond, and
// PostgreSQL's timestamptz keeps microseconds.
var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

func timeToDB(t time.Time) (pgtype.Int8, error) {
	if t.IsZero() {
		return pgtype.Int8{}, nil
	}
	if t.Before(minNanoTime) || t.After(maxNanoTime) {
		return pgtype.Int8{}, fmt.Errorf("postgres: time %s is outside the storable range (years 1678 to 2262)", t.Format(time.RFC3339Nano))
	}
	return pgtype.Int8{Int64: t.UnixNano(), Valid: true}, nil
}

func timeFromDB(n pgtype.Int8) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// limit turns Page.Size into a LIMIT argument: no limit for Size <= 0.
func limit(p store.Page) int64 {
	if p.Size <= 0 {
		return math.MaxInt64
	}
	return int64(p.Size)
}

// after is Page.After as PostgreSQL can take it. A text value cannot hold
// a NUL byte, and no stored key has one; for keys without NUL, "sorts
// after a+NUL+rest" is the same as "sorts after a" (a key equal to a is
// shorter, so before; any other key after a differs from it at or before
// the NUL's position by a byte above NUL). So the key is cut at its first
// NUL.
func after(p store.Page) string {
	a, _, _ := strings.Cut(p.After, "\x00")
	return a
}
