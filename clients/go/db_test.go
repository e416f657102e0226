package chatstore_test

// The only test file that depends on pgx v4 beyond the import paths: it
// opens the pool (v5: pgxpool.NewWithConfig instead of pgxpool.ConnectConfig;
// v5check.sh makes that change and the import rewrites, and nothing else).

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	chatstore "chatstore/clients/go"

	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
)

// What satisfies DB, checked at compile time.
var (
	_ chatstore.DB = (*pgxpool.Pool)(nil)
	_ chatstore.DB = (*pgx.Conn)(nil)
	_ chatstore.DB = pgx.Tx(nil)
)

var pool *pgxpool.Pool

// run is a per-run prefix, so that reruns against one database do not
// meet earlier rows.
var run = fmt.Sprintf("r%d", time.Now().UnixNano())

func id(name string) string { return run + "-" + name }

// TestMain connects with libpq's environment (PGHOST, PGPORT, PGUSER,
// PGDATABASE, ...); the database must have the chatstore extension.
func TestMain(m *testing.M) {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig("")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chatstore tests:", err)
		os.Exit(2)
	}
	cfg.MaxConns = 10
	pool, err = pgxpool.ConnectConfig(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chatstore tests: connecting (set PGHOST/PGPORT/PGUSER/PGDATABASE):", err)
		os.Exit(2)
	}
	var ext string
	if err := pool.QueryRow(ctx, "SELECT extversion FROM pg_extension WHERE extname = 'chatstore'").Scan(&ext); err != nil {
		fmt.Fprintln(os.Stderr, "chatstore tests: the database has no chatstore extension:", err)
		os.Exit(2)
	}
	code := m.Run()
	pool.Close()
	os.Exit(code)
}

// acquireConn is one *pgx.Conn of the pool, to use as a DB.
func acquireConn(t *testing.T) *pgx.Conn {
	t.Helper()
	c, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Release)
	return c.Conn()
}

// beginTx is a transaction, to use as a DB; rolled back at the end.
func beginTx(t *testing.T) pgx.Tx {
	t.Helper()
	tx, err := pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}
