package rowcodec

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// marshal is deterministic so that equal records are equal blobs.
var marshal = proto.MarshalOptions{Deterministic: true}

// Encode is m as stored; what names the kind of record in an error.
func Encode(backend, what string, m proto.Message) ([]byte, error) {
	b, err := marshal.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%s: encode %s: %w", backend, what, err)
	}
	return b, nil
}

// Decode reads b, a stored what, into m and returns m.
func Decode[T proto.Message](backend, what string, b []byte, m T) (T, error) {
	if err := proto.Unmarshal(b, m); err != nil {
		var zero T
		return zero, fmt.Errorf("%s: decode %s: %w", backend, what, err)
	}
	return m, nil
}

// NonNil stores an empty value as an empty blob: the columns are NOT NULL,
// and a nil slice may reach the database as NULL (pgx sends it so), which
// they refuse and which would not come back as the empty value the caller
// stored.
func NonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
