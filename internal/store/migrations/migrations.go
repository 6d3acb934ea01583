// Package migrations reads a store backend's schema history: a directory
// of numbered .sql files. Each backend applies them with its own runner
// (its own locking, transactions and Go steps); what a valid set of files
// is, and their order, is the same for all.
package migrations

import (
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
)

// File is one migration.
type File struct {
	// Version is the file's number: it orders the files, and is what a
	// runner records as applied.
	Version int64
	Name    string
	SQL     string
}

// fileName is NNNN_words.sql.
var fileName = regexp.MustCompile(`^([0-9]+)_([a-z0-9_]+)\.sql$`)

// Load reads every file in the top directory of fsys, ordered by version.
// A file that does not follow the naming rule, or two files with one
// version, are errors rather than something to skip: a skipped migration
// is a schema that silently differs between machines. Directories are
// passed over.
//
// The errors do not name the backend; its runner adds that.
func Load(fsys fs.FS) ([]File, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []File
	seen := map[int64]string{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q is not named NNNN_name.sql", e.Name())
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %q: the version must be a positive number", e.Name())
		}
		if prev, ok := seen[v]; ok {
			return nil, fmt.Errorf("migrations %q and %q have the same version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", e.Name(), err)
		}
		out = append(out, File{Version: v, Name: e.Name(), SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}
