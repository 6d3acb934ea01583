package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/oidcron/oidcron/internal/store/postgres/pgadmin"
)

// benchDatabase creates an empty database of the run's own on the
// PostgreSQL server that admin (a postgres:// URL to a database the user
// may CREATE DATABASE from) names, so that a run never sees another's jobs
// or replicas and leaves nothing behind. It returns the new database's URL
// and drop, which removes it (WITH (FORCE): a replica that did not shut
// down must not keep it alive). drop is also run on SIGINT and SIGTERM, so
// that an interrupted run does not leave its database either; a killed one
// leaves oidcron_bench_*, which its name makes easy to find.
func benchDatabase(ctx context.Context, admin string) (dbURL string, drop func() error, err error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dbURL, dropDB, err := pgadmin.CreateDatabase(cctx, admin, "oidcron_bench_")
	if err != nil {
		return "", nil, fmt.Errorf("-store: %w", err)
	}
	dropNow := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return dropDB(ctx)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	stopWatch := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			if err := dropNow(); err != nil {
				fmt.Fprintln(os.Stderr, "oidcron-bench:", err)
			}
			fmt.Fprintf(os.Stderr, "oidcron-bench: %v: dropped the run's database\n", s)
			os.Exit(1)
		case <-stopWatch:
		}
	}()
	drop = func() error {
		signal.Stop(sigs)
		close(stopWatch)
		return dropNow()
	}
	return dbURL, drop, nil
}
