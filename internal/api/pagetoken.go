package api

import (
	"encoding/base64"
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
	if err != nil || len(b) == 0 {
		return "", invalid("page_token: %q is not a page token this server issued.", tok)
	}
	return string(b), nil
}

// pageOf cuts a list read with size+1 records into one page and the token
// of the next (empty on the last page).
func pageOf[T any](list []T, size int, key func(T) string) ([]T, string) {
	if len(list) > size {
		return list[:size], encodePageToken(key(list[size-1]))
	}
	return list, ""
}
