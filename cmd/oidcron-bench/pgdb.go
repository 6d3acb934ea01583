package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
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
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("-store %q: want a postgres:// URL", admin)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "oidcron_bench_" + hex.EncodeToString(b)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("-store: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(cctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("-store: create database: %w", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	stopWatch := make(chan struct{})
	dropDB := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	go func() {
		select {
		case s := <-sigs:
			if err := dropDB(); err != nil {
				fmt.Fprintln(os.Stderr, "oidcron-bench:", err)
			}
			fmt.Fprintf(os.Stderr, "oidcron-bench: %v: dropped %s\n", s, name)
			os.Exit(1)
		case <-stopWatch:
		}
	}()
	drop = func() error {
		signal.Stop(sigs)
		close(stopWatch)
		return dropDB()
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}
