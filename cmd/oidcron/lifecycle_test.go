package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oidcron/oidcron/internal/store/postgres/pgtest"
)

// runUntilBannerOrExit runs `bin serve args...` and reads its stderr until
// either the banner's API line (started: true) or the end of stderr (the
// process exited; its stderr and exit error are returned). A started
// process is killed when t ends.
func runUntilBannerOrExit(t *testing.T, bin string, env []string, args ...string) (started bool, stderr string, exitErr error) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = append(append(os.Environ(), "OIDCRON_LISTEN=127.0.0.1:0", "OIDCRON_GATEWAY_LISTEN=127.0.0.1:0"), env...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var lines []string
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), "API (gRPC+REST): ") {
			go func() { // keep draining
				for sc.Scan() {
				}
			}()
			return true, strings.Join(lines, "\n"), nil
		}
	}
	return false, strings.Join(lines, "\n"), cmd.Wait()
}

// A second `oidcron serve` on the SQLite file another one is serving must be
// refused with an error naming --data: two processes on one SQLite file each
// run their own engine over the same jobs, so every slot is sent twice
// (README: "Each scheduled time of each job is sent once" holds only for
// replicas on PostgreSQL).
func TestSecondInstanceOnSameSQLiteRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	// The client's global flags in the environment are not serve's:
	// OIDCRON_QUIET=false (--quiet takes no value) must not stop it.
	startServer(t, bin, data, []string{"OIDCRON_QUIET=false"}, nil)
	started, stderr, err := runUntilBannerOrExit(t, bin, nil, "--data", data)
	if started {
		t.Fatalf("a second oidcron started on the same SQLite database %s (both now dispatch every job):\n%s", data, stderr)
	}
	if err == nil || !strings.Contains(stderr, "--data") {
		t.Fatalf("second instance: exit %v, want an error naming --data; stderr:\n%s", err, stderr)
	}
}

// README: the admin token is written to DATA/admin-token (mode 0600), also
// over a token file left with a wider mode (a restore, a copy, an older
// version).
func TestAdminTokenFileMode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join(data, "admin-token")
	if err := os.WriteFile(tok, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tok, 0o644); err != nil {
		t.Fatal(err)
	}
	startServer(t, bin, data, []string{"OIDCRON_REQUIRE_AUTH=true"}, nil)
	fi, err := os.Stat(tok)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(tok)
	if !strings.HasPrefix(string(b), "oidcron-admin.") {
		t.Fatalf("admin-token not rewritten: %q", b)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Fatalf("DATA/admin-token holds the admin token with mode %#o, README says 0600", m)
	}
}

// The SQLite database holds the admin token (setting "admin-token") and the
// issuer's private signing keys: it and its WAL files are the owner's
// alone (0600) whatever the umask, also in a data folder that already
// exists (created by the operator, `--data .`, a shared mount).
func TestSQLiteFilesOwnerOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(data, 0o755); err != nil {
		t.Fatal(err)
	}
	startServer(t, bin, data, []string{"OIDCRON_REQUIRE_AUTH=true"}, nil)
	var bad []string
	for _, name := range []string{"oidcron.db", "oidcron.db-wal", "oidcron.db-shm"} {
		fi, err := os.Stat(filepath.Join(data, name))
		if err != nil {
			continue
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			bad = append(bad, name+" "+fi.Mode().Perm().String())
		}
	}
	di, err := os.Stat(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 && di.Mode().Perm()&0o005 != 0 {
		t.Fatalf("database files readable by others (data folder %s): %v; they hold the admin token and the signing keys, want 0600",
			di.Mode().Perm(), bad)
	}
}

// Misconfiguration must name the flag at fault (the convention serve already
// follows for --store, --log-level, --log-format).
func TestMisconfigurationNamesFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "afile")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	cases := []struct {
		name, flag string
		args       []string
	}{
		{"bad listen", "--listen", []string{"--data", data, "--listen", "bogus"}},
		{"bad gateway listen", "--gateway-listen", []string{"--data", data, "--gateway-listen", "bogus"}},
		{"unusable data dir", "--data", []string{"--data", filepath.Join(file, "data")}},
		{"issuer without a scheme", "--issuer", []string{"--data", data, "--issuer", "oidcron.example"}},
		{"gateway URL with a query", "--gateway-url", []string{"--data", data, "--gateway-url", "http://gw.example/?x=1"}},
		{"no history", "--history-retention", []string{"--data", data, "--history-retention", "0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			started, stderr, err := runUntilBannerOrExit(t, bin, nil, c.args...)
			if started {
				t.Fatalf("started:\n%s", stderr)
			}
			if err == nil {
				t.Fatalf("exit 0; stderr:\n%s", stderr)
			}
			if !strings.Contains(stderr, c.flag) {
				t.Errorf("error does not name %s:\n%s", c.flag, stderr)
			}
		})
	}
}

// With --store postgres:// the data folder holds nothing in dev mode (README:
// --data is the SQLite database and the admin token): a replica in a
// container whose home is not writable starts all the same.
func TestPostgresStartWithoutDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	url := pgtest.NewDatabase(t)
	bin := buildBinary(t)
	file := filepath.Join(t.TempDir(), "afile")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// The default data folder ($XDG_DATA_HOME/oidcron) cannot be created.
	started, stderr, err := runUntilBannerOrExit(t, bin, []string{"XDG_DATA_HOME=" + file, "OIDCRON_STORE=" + url})
	if !started {
		t.Fatalf("serve --store postgres:// did not start (exit %v):\n%s", err, stderr)
	}
}

// The binary exits as gcloud does: 2 for a command line it cannot use, 1
// when a call fails.
func TestExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	for _, c := range []struct {
		want int
		args []string
	}{
		{2, []string{"scheduler", "jobz"}},
		{2, []string{"scheduler", "jobs", "describe", "j", "--location", "us-central1", "--bogus"}},
		{2, []string{"serve", "extra"}},
		// Nothing listens on port 1: the call fails.
		{1, []string{"scheduler", "jobs", "describe", "j", "--location", "us-central1", "--project", "p1", "--endpoint", "http://127.0.0.1:1"}},
	} {
		cmd := exec.Command(bin, c.args...)
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != c.want {
			t.Errorf("oidcron %s: exit %d (%v), want %d\n%s", strings.Join(c.args, " "), code, err, c.want, out)
		}
	}
}
