package postgres

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/rowcodec"
)

// backend starts the errors of the row codec that this backend shares
// with SQLite's (package rowcodec).
const backend = "postgres"

func encode(what string, m proto.Message) ([]byte, error) { return rowcodec.Encode(backend, what, m) }

func decode[T proto.Message](what string, b []byte, m T) (T, error) {
	return rowcodec.Decode(backend, what, b, m)
}

// The time columns are scanned and bound as pgtype.Int8, pgx's own type,
// which has sql.NullInt64's fields: the shared codec's values convert to
// it and back as they are.

// timeToDB is a time as stored: int64 nanoseconds, NULL for the zero time.
func timeToDB(t time.Time) (pgtype.Int8, error) {
	n, err := rowcodec.TimeToDB(backend, t)
	return pgtype.Int8(n), err
}

func timeFromDB(n pgtype.Int8) time.Time { return rowcodec.TimeFromDB(sql.NullInt64(n)) }

func timestampFromDB(n pgtype.Int8) *timestamppb.Timestamp {
	return rowcodec.TimestampFromDB(sql.NullInt64(n))
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
