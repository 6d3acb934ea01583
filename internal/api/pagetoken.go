package api

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// Page tokens are the last key of the previous page, opaque to clients.
// They do not expire: oidcron pages by key, so a token stays meaningful.

func encodePageToken(after string) string {
	if after == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(after))
}

func decodePageToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	// Every key this server issues is UTF-8 without a NUL; anything else
	// is no token of ours (and PostgreSQL could not compare with it).
	if err != nil || len(b) == 0 || !utf8.Valid(b) || strings.ContainsRune(string(b), 0) {
		return "", invalid("page_token: %q is not a page token this server issued.", tok)
	}
	return string(b), nil
}

// pageSize applies a list method's page size rules: 0 means def, more than
// max is cut to max (fewer than requested may be returned), and a negative
// size is INVALID_ARGUMENT, as AIP-158 asks.
func pageSize(n int32, def, max int) (int, error) {
	switch {
	case n < 0:
		return 0, invalid("page_size: must not be negative.")
	case n == 0:
		return def, nil
	case int(n) > max:
		return max, nil
	}
	return int(n), nil
}

// pageOf cuts a list read with size+1 records into one page and the token
// of the next (empty on the last page).
func pageOf[T any](list []T, size int, key func(T) string) ([]T, string) {
	if len(list) > size {
		return list[:size], encodePageToken(key(list[size-1]))
	}
	return list, ""
}
