package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// With PostgreSQL much of a dispatch's work (the claims, the writes of
// outcomes and attempts) is done in the server's processes, which the
// getrusage of this process does not count. pgProcs reads what they have
// used from /proc, so that a run can report both.

// clockTick is the unit of the CPU times in /proc/<pid>/stat: USER_HZ,
// which Linux fixes at 100 on every architecture for what it reports to
// user space (sysconf(_SC_CLK_TCK) returns it), whatever the kernel's HZ.
const clockTick = 10 * time.Millisecond

// procKey names one process: a pid may be reused, its start time with it
// may not.
type procKey struct {
	pid   int
	start uint64
}

// procCPU is one process's user+system CPU, in ticks, and whether it is a
// backend of the run's database (else the postmaster or a background
// process, which serve every database of the server).
type procCPU struct {
	ticks uint64
	own   bool
}

// pgSnapshot is the CPU of the processes that serve a run at one instant.
type pgSnapshot map[procKey]procCPU

// pgMeter measures the CPU of the PostgreSQL processes that serve a run:
// every process named postgres (the postmaster, its background processes,
// the backends of the run's database) but the backends that
// pg_stat_activity shows serving another database: the server may be
// shared, and other clients' work is not the run's.
type pgMeter struct {
	conn *pgx.Conn // to the admin database: its own backend is not counted
	db   string
}

// newPGMeter connects to the server as admin (a URL) for the run whose
// database is at dbURL.
func newPGMeter(ctx context.Context, admin, dbURL string) (*pgMeter, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("-store: %w", err)
	}
	return &pgMeter{conn: conn, db: strings.TrimPrefix(u.Path, "/")}, nil
}

func (m *pgMeter) close(ctx context.Context) { _ = m.conn.Close(ctx) }

// snapshot reads the CPU of the processes that serve the run. When the
// server cannot say which backends serve which database, all are counted,
// as shared.
func (m *pgMeter) snapshot(ctx context.Context) pgSnapshot {
	own := map[int]bool{} // pid: a backend of the run's database (true) or another's
	rows, err := m.conn.Query(ctx, `SELECT pid, datname = $1 FROM pg_stat_activity WHERE datname IS NOT NULL`, m.db)
	if err == nil {
		var (
			pid  int32
			mine bool
		)
		_, err = pgx.ForEachRow(rows, []any{&pid, &mine}, func() error {
			own[int(pid)] = mine
			return nil
		})
	}
	if err != nil {
		clear(own)
	}
	return pgProcs(own)
}

// pgProcs takes a snapshot of the processes named postgres, less the
// backends of other databases (false in backends). Processes of other
// users are readable to root and, on the usual setup, to the postgres
// user; when none is found (the server is on another machine), the
// snapshot is empty.
func pgProcs(backends map[int]bool) pgSnapshot {
	snap := pgSnapshot{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return snap
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		own, backend := backends[pid]
		if backend && !own {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil || string(bytes.TrimSpace(comm)) != "postgres" {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // ended meanwhile
		}
		// The fields after the command, which is in parentheses and may
		// hold spaces: state is field 3, utime 14, stime 15, starttime 22.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 20 {
			continue
		}
		ut, err1 := strconv.ParseUint(f[11], 10, 64)
		st, err2 := strconv.ParseUint(f[12], 10, 64)
		start, err3 := strconv.ParseUint(f[19], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		snap[procKey{pid, start}] = procCPU{ticks: ut + st, own: own}
	}
	return snap
}

// cpuSince is the CPU the processes used from before to s, in all and in
// the run's own backends: each process's growth, counting one started
// since from zero. A backend that ended in between is missed (its time
// goes to the postmaster's cutime, which is not counted: it would also
// hold the time of every other client's short connections); a run's own
// connections are pooled and outlive the window. ok is false when no
// postgres process was seen.
func (s pgSnapshot) cpuSince(before pgSnapshot) (all, own time.Duration, ok bool) {
	for k, p := range s {
		t0 := before[k].ticks // 0 for a process started since
		if p.ticks < t0 {
			continue
		}
		d := time.Duration(p.ticks-t0) * clockTick
		all += d
		if p.own {
			own += d
		}
	}
	return all, own, len(s) > 0 && len(before) > 0
}
