// Package rowcodec is what the store backends share about turning the
// store's values into column values and back, where the rule does not
// depend on the database: protobuf messages as deterministic blobs,
// instants as nanoseconds since the epoch with NULL for the zero time, and
// the checks and key columns of records. Each backend keeps its SQL, its
// driver's glue and its own column structs.
//
// Nullable values are database/sql's Null types. The SQLite backend binds
// and scans them as they are; the PostgreSQL backend converts them to the
// pgtype types of its columns, which have the same fields (pgtype.Int8(n)
// for a sql.NullInt64), so a conversion costs nothing.
//
// The functions that can fail take the backend's name, which starts their
// errors as it starts the backend's own ("sqlite: ...", "postgres: ...").
package rowcodec
