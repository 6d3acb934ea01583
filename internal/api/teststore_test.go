package api

import (
	"path/filepath"
	"testing"

	"github.com/oidcron/oidcron/internal/store/sqlite"
)

// openTestStore opens a SQLite store in t's temporary folder, closed when t
// ends: the in-package tests build their Server over it as each needs.
func openTestStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "oidcron.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
