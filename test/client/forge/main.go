// Forge AI SDK state store against chatstore, with pgx v4.
//
// Forge keeps agent_states(agent_id, session_id, state jsonb) and performs
// Save (upsert), Load (not-found is distinguishable), Delete, List(agent)
// newest first, Count and HealthCheck.  ChatstoreStateStore below is that
// store written on chatstore, one SQL call per operation, plus the
// optimistic-concurrency save chatstore adds (SaveIfVersion).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sync"
	"time"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
)

var ErrNotFound = errors.New("state not found")
var ErrConflict = errors.New("state was saved by someone else first")

type SessionState struct {
	SessionID string
	State     map[string]interface{}
	Version   int64
	UpdatedAt time.Time
}

type ChatstoreStateStore struct{ db *pgxpool.Pool }

func (s *ChatstoreStateStore) Save(ctx context.Context, agentID, sessionID string, state map[string]interface{}) (int64, error) {
	var v int64
	err := s.db.QueryRow(ctx, "SELECT chat_agent_state_save($1, $2, $3)", agentID, sessionID, state).Scan(&v)
	return v, err
}

func (s *ChatstoreStateStore) SaveIfVersion(ctx context.Context, agentID, sessionID string, state map[string]interface{}, expected int64) (int64, error) {
	var v int64
	err := s.db.QueryRow(ctx, "SELECT chat_agent_state_save($1, $2, $3, $4)", agentID, sessionID, state, expected).Scan(&v)
	var pgErr *pgconn.PgError
	// CS001: chatstore's "stale version" (1.0 and 1.1 raised 40001)
	if errors.As(err, &pgErr) && pgErr.Code == "CS001" {
		return 0, fmt.Errorf("%w: %s (%s)", ErrConflict, pgErr.Message, pgErr.Detail)
	}
	return v, err
}

func (s *ChatstoreStateStore) Load(ctx context.Context, agentID, sessionID string) (*SessionState, error) {
	st := SessionState{SessionID: sessionID}
	err := s.db.QueryRow(ctx, "SELECT state, version, updated_at FROM chat_agent_state_load($1, $2)",
		agentID, sessionID).Scan(&st.State, &st.Version, &st.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &st, nil
}

func (s *ChatstoreStateStore) Delete(ctx context.Context, agentID, sessionID string) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, "SELECT chat_agent_state_delete($1, $2)", agentID, sessionID).Scan(&ok)
	return ok, err
}

func (s *ChatstoreStateStore) List(ctx context.Context, agentID string, limit int) ([]SessionState, error) {
	rows, err := s.db.Query(ctx, "SELECT session_id, state, version, updated_at FROM chat_agent_state_list($1, $2)", agentID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SessionState
	for rows.Next() {
		var st SessionState
		if err := rows.Scan(&st.SessionID, &st.State, &st.Version, &st.UpdatedAt); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

func (s *ChatstoreStateStore) Count(ctx context.Context, agentID string) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, "SELECT chat_agent_state_count($1)", agentID).Scan(&n)
	return n, err
}

func (s *ChatstoreStateStore) HealthCheck(ctx context.Context) error {
	var status string
	if err := s.db.QueryRow(ctx, "SELECT chat_health()->>'status'").Scan(&status); err != nil {
		return err
	}
	if status != "ok" {
		return fmt.Errorf("chatstore status %q", status)
	}
	return nil
}

var passed, failed int

func check(name string, cond bool, detail ...interface{}) {
	if cond {
		passed++
		return
	}
	failed++
	fmt.Fprintln(os.Stderr, "FAIL", name, fmt.Sprint(detail...))
}

func ids(list []SessionState) []string {
	out := []string{}
	for _, s := range list {
		out = append(out, s.SessionID)
	}
	return out
}

func run(ctx context.Context, st *ChatstoreStateStore) error {
	// HealthCheck
	check("health", st.HealthCheck(ctx) == nil)

	// Load of a missing state: ErrNotFound, not an empty state
	_, err := st.Load(ctx, "planner", "s1")
	check("load missing -> ErrNotFound", errors.Is(err, ErrNotFound), err)

	// Save (upsert) and Load; an empty state is found, not "not found"
	v, err := st.Save(ctx, "planner", "s1", map[string]interface{}{})
	check("save empty", err == nil && v == 1, v, err)
	got, err := st.Load(ctx, "planner", "s1")
	check("load empty state is found", err == nil && got != nil && len(got.State) == 0 && got.Version == 1, got, err)
	state := map[string]interface{}{"goal": "ship", "steps": []interface{}{"plan", "build"}, "n": float64(2)}
	v, err = st.Save(ctx, "planner", "s1", state)
	check("save upsert bumps version", err == nil && v == 2, v, err)
	got, err = st.Load(ctx, "planner", "s1")
	check("load round trip", err == nil && reflect.DeepEqual(got.State, state) && got.Version == 2, got, err)

	// optimistic concurrency
	v, err = st.SaveIfVersion(ctx, "planner", "s1", map[string]interface{}{"goal": "ship v2"}, 2)
	check("save with current version", err == nil && v == 3, v, err)
	_, err = st.SaveIfVersion(ctx, "planner", "s1", map[string]interface{}{"goal": "stale"}, 2)
	check("stale version -> ErrConflict", errors.Is(err, ErrConflict), err)
	got, _ = st.Load(ctx, "planner", "s1")
	check("stale save wrote nothing", got.State["goal"] == "ship v2" && got.Version == 3, got)

	// List newest first with a limit, Count
	for _, sid := range []string{"s2", "s3", "s4"} {
		time.Sleep(5 * time.Millisecond)
		if _, err := st.Save(ctx, "planner", sid, map[string]interface{}{"sid": sid}); err != nil {
			return err
		}
	}
	if _, err := st.Save(ctx, "other-agent", "s1", map[string]interface{}{}); err != nil {
		return err
	}
	list, err := st.List(ctx, "planner", 100)
	check("list newest first", err == nil && reflect.DeepEqual(ids(list), []string{"s4", "s3", "s2", "s1"}), ids(list), err)
	list, err = st.List(ctx, "planner", 2)
	check("list limit", err == nil && reflect.DeepEqual(ids(list), []string{"s4", "s3"}), ids(list), err)
	time.Sleep(5 * time.Millisecond)
	st.Save(ctx, "planner", "s1", map[string]interface{}{"touched": true})
	list, _ = st.List(ctx, "planner", 1)
	check("list: re-saved session moves to the front", reflect.DeepEqual(ids(list), []string{"s1"}), ids(list))
	n, err := st.Count(ctx, "planner")
	check("count", err == nil && n == 4, n, err)
	n, _ = st.Count(ctx, "nobody")
	check("count unknown agent", n == 0, n)
	list, _ = st.List(ctx, "nobody", 10)
	check("list unknown agent", len(list) == 0, list)

	// Delete
	ok, err := st.Delete(ctx, "planner", "s2")
	check("delete", err == nil && ok, err)
	ok, _ = st.Delete(ctx, "planner", "s2")
	check("delete again -> false", !ok)
	_, err = st.Load(ctx, "planner", "s2")
	check("deleted -> ErrNotFound", errors.Is(err, ErrNotFound), err)
	n, _ = st.Count(ctx, "planner")
	check("count after delete", n == 3, n)

	// 8 goroutines increment one counter with load / SaveIfVersion / retry:
	// no update is lost
	const workers, per = 8, 15
	if _, err := st.Save(ctx, "counter", "c", map[string]interface{}{"n": float64(0)}); err != nil {
		return err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts, errs := 0, []error{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; {
				cur, err := st.Load(ctx, "counter", "c")
				if err == nil {
					next := map[string]interface{}{"n": cur.State["n"].(float64) + 1}
					_, err = st.SaveIfVersion(ctx, "counter", "c", next, cur.Version)
				}
				if errors.Is(err, ErrConflict) {
					mu.Lock()
					conflicts++
					mu.Unlock()
					continue
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				i++
			}
		}()
	}
	wg.Wait()
	got, err = st.Load(ctx, "counter", "c")
	check("concurrent: no errors", len(errs) == 0, errs)
	check("concurrent: no lost update", err == nil && got.State["n"] == float64(workers*per), got)
	check("concurrent: version counts every save", got != nil && got.Version == int64(workers*per+1), got)
	fmt.Fprintf(os.Stderr, "forge: %d conflicts retried\n", conflicts)

	// state is JSON; a Go struct marshals into it
	type plan struct {
		Goal  string   `json:"goal"`
		Steps []string `json:"steps"`
	}
	b, _ := json.Marshal(plan{"x", []string{"a"}})
	var m map[string]interface{}
	json.Unmarshal(b, &m)
	st.Save(ctx, "planner", "struct", m)
	got, _ = st.Load(ctx, "planner", "struct")
	var back plan
	b, _ = json.Marshal(got.State)
	json.Unmarshal(b, &back)
	check("struct round trip", back.Goal == "x" && len(back.Steps) == 1 && back.Steps[0] == "a", back)
	return nil
}

func main() {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig("")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg.MaxConns = 10
	pool, err := pgxpool.ConnectConfig(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer pool.Close()
	if err := run(ctx, &ChatstoreStateStore{db: pool}); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		failed++
	}
	fmt.Printf("forge: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
