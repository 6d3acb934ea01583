package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDataDir takes DATA/lock for this process: two servers on one SQLite
// database would each run a scheduler and send every job twice. The lock
// is the kernel's (flock), so a process killed with -9 leaves none behind.
func lockDataDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--data %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("--data %s: in use by another oidcron (it holds %s); give this one its own --data, or share a PostgreSQL --store", dir, path)
		}
		return nil, fmt.Errorf("--data %s: locking %s: %w", dir, path, err)
	}
	return f, nil
}
