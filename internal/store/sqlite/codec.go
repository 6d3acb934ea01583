package sqlite

import (
	"database/sql"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/oidcron/oidcron/internal/store/rowcodec"
)

// backend starts the errors of the row codec that this backend shares
// with PostgreSQL's (package rowcodec).
const backend = "sqlite"

func encode(what string, m proto.Message) ([]byte, error) { return rowcodec.Encode(backend, what, m) }

func decode[T proto.Message](what string, b []byte, m T) (T, error) {
	return rowcodec.Decode(backend, what, b, m)
}

// timeToDB is a time as stored: int64 nanoseconds, NULL for the zero time.
func timeToDB(t time.Time) (sql.NullInt64, error) { return rowcodec.TimeToDB(backend, t) }
