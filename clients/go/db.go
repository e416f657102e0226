// Package chatstore is a Go client for the chatstore PostgreSQL extension,
// on pgx: typed wrappers over its SQL functions (Store), the Forge AI SDK's
// agent state store (StateStore) and a chat message history (ChatHistory).
//
// This file is the only non-test file that imports pgx. Everything else
// goes through the DB interface below, whose methods have the same
// signatures in pgx v4 and v5: porting to v5 changes the two import lines
// here (and go.mod), nothing else. v5check.sh checks that against a pgx v5
// source tree (README.md#pgx-v5).
package chatstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
)

// DB is what the package needs of a connection: *pgxpool.Pool, *pgx.Conn
// and pgx.Tx satisfy it, in pgx v4 and in v5.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// beginner is what ChatHistory.Clear uses, when the DB has it, to run its
// two statements in one transaction (*pgxpool.Pool, *pgx.Conn and pgx.Tx
// have it, in v4 and v5).
type beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// inTx runs fn in a transaction when db can begin one, else directly on db.
func inTx(ctx context.Context, db DB, fn func(DB) error) error {
	b, ok := db.(beginner)
	if !ok {
		return fn(db)
	}
	tx, err := b.Begin(ctx)
	if err != nil {
		return mapErr(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx)
		return err
	}
	return mapErr(tx.Commit(ctx))
}

// Errors the package maps SQLSTATEs to. Test with errors.Is; errors.As
// with *Error gives the SQLSTATE and the server's message, and with
// *pgconn.PgError the driver's error itself.
var (
	// ErrNotFound: no such thread, message, stream or state (an empty
	// result of a function that returns one row, or SQLSTATE P0002).
	ErrNotFound = errors.New("chatstore: not found")
	// ErrVersionConflict: CS001, chat_agent_state_save's expected_version
	// is not the stored version (or the state does not exist).
	ErrVersionConflict = errors.New("chatstore: version conflict")
	// ErrThreadDeleted: CS002, a save into a deleted thread; create it
	// again (Store.CreateThread, ChatHistory.Clear) to use its id.
	ErrThreadDeleted = errors.New("chatstore: thread was deleted")
	// ErrAlreadyExists: 23505, the thread or message id exists already.
	ErrAlreadyExists = errors.New("chatstore: already exists")
	// ErrInvalidArgument: 22023, an empty id, a malformed message, a bad
	// format or window.
	ErrInvalidArgument = errors.New("chatstore: invalid argument")
	// ErrNotStreaming: 55000, a stream append or finish on a message that
	// is not in_progress.
	ErrNotStreaming = errors.New("chatstore: message is not being streamed")
	// ErrForbidden: 42501, another user's or tenant's thread or row.
	ErrForbidden = errors.New("chatstore: forbidden")
)

var sqlstates = map[string]error{
	"CS001": ErrVersionConflict,
	"CS002": ErrThreadDeleted,
	"P0002": ErrNotFound,
	"23505": ErrAlreadyExists,
	"22023": ErrInvalidArgument,
	"55000": ErrNotStreaming,
	"42501": ErrForbidden,
}

// Error is a server error with one of the sentinel errors above as its
// kind: errors.Is(err, ErrThreadDeleted) and errors.As(err, &pgErr) both
// work on it.
type Error struct {
	Kind    error  // one of the Err* values
	Code    string // the SQLSTATE
	Message string // the server's message
	Detail  string // the server's detail, if any
	err     error  // the driver's error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%v: %s (SQLSTATE %s)", e.Kind, e.Message, e.Code)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Is reports whether target is the error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap gives the driver's error (a *pgconn.PgError).
func (e *Error) Unwrap() error { return e.err }

// mapErr turns pgx.ErrNoRows into ErrNotFound and the SQLSTATEs above into
// an *Error; other errors are returned as they are.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if kind, ok := sqlstates[pgErr.Code]; ok {
			return &Error{Kind: kind, Code: pgErr.Code, Message: pgErr.Message, Detail: pgErr.Detail, err: err}
		}
	}
	return err
}
