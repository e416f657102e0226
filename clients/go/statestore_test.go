package chatstore_test

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	chatstore "chatstore/clients/go"
)

func sessionIDs(list []chatstore.SessionState) []string {
	out := []string{}
	for _, s := range list {
		out = append(out, s.SessionID)
	}
	return out
}

// The Forge AI SDK's StateStore contract (test/client/forge), on this
// package's StateStore.
func TestStateStore(t *testing.T) {
	begin(t)
	st := chatstore.NewStateStore(pool)
	planner, other := id("planner"), id("other")
	allBefore := must(st.CountAll(ctx))

	// HealthCheck and Health
	if err := st.HealthCheck(ctx); err != nil {
		t.Fatal(err)
	}
	h := must(st.Health(ctx))
	if h.Status != "ok" || h.ExtensionVersion == "" || h.Database == "" || h.Now.IsZero() || h.InRecovery {
		t.Fatalf("health: %+v", h)
	}

	// Load of a missing state: ErrNotFound, not an empty state
	_, err := st.Load(ctx, planner, "s1")
	isErr(t, err, chatstore.ErrNotFound)

	// Save (upsert) and Load; an empty state is found
	eq(t, "save empty", must(st.Save(ctx, planner, "s1", map[string]any{})), int64(1))
	got := must(st.Load(ctx, planner, "s1"))
	eq(t, "load empty", []any{got.AgentID, got.SessionID, len(got.State), got.Version}, []any{planner, "s1", 0, int64(1)})
	if got.CreatedAt.IsZero() || got.UpdatedAt.Before(got.CreatedAt) {
		t.Fatalf("timestamps: %+v", got)
	}
	state := map[string]any{"goal": "ship", "steps": []any{"plan", "build"}, "n": float64(2)}
	eq(t, "upsert bumps the version", must(st.Save(ctx, planner, "s1", state)), int64(2))
	got = must(st.Load(ctx, planner, "s1"))
	eq(t, "round trip", got.State, state)
	eq(t, "version", got.Version, int64(2))
	// a nil state is saved as {}
	eq(t, "nil state", must(st.Save(ctx, planner, "nil", nil)), int64(1))
	eq(t, "nil state loads as {}", must(st.Load(ctx, planner, "nil")).State, map[string]any{})
	must(st.Delete(ctx, planner, "nil"))

	// optimistic concurrency
	eq(t, "save with the current version", must(st.SaveIfVersion(ctx, planner, "s1", map[string]any{"goal": "ship v2"}, 2)), int64(3))
	_, err = st.SaveIfVersion(ctx, planner, "s1", map[string]any{"goal": "stale"}, 2)
	isErr(t, err, chatstore.ErrVersionConflict)
	var ce *chatstore.Error
	if !errors.As(err, &ce) || ce.Code != "CS001" {
		t.Fatalf("CS001: %v", err)
	}
	got = must(st.Load(ctx, planner, "s1"))
	eq(t, "a stale save writes nothing", []any{got.State["goal"], got.Version}, []any{"ship v2", int64(3)})
	_, err = st.SaveIfVersion(ctx, planner, "s1", map[string]any{}, 0)
	isErr(t, err, chatstore.ErrVersionConflict) // 0: create only
	eq(t, "create only", must(st.SaveIfVersion(ctx, planner, "fresh", map[string]any{}, 0)), int64(1))
	_, err = st.SaveIfVersion(ctx, planner, "missing", map[string]any{}, 4)
	isErr(t, err, chatstore.ErrVersionConflict) // a missing state
	must(st.Delete(ctx, planner, "fresh"))

	// List newest first with a limit, Count, CountAll
	for _, sid := range []string{"s2", "s3", "s4"} {
		time.Sleep(3 * time.Millisecond)
		must(st.Save(ctx, planner, sid, map[string]any{"sid": sid, "even": sid != "s3"}))
	}
	must(st.Save(ctx, other, "s1", map[string]any{}))
	eq(t, "list newest first", sessionIDs(must(st.List(ctx, planner, 100))), []string{"s4", "s3", "s2", "s1"})
	eq(t, "list limit", sessionIDs(must(st.List(ctx, planner, 2))), []string{"s4", "s3"})
	eq(t, "list default limit", len(must(st.List(ctx, planner, 0))), 4)
	time.Sleep(3 * time.Millisecond)
	must(st.Save(ctx, planner, "s1", map[string]any{"touched": true}))
	eq(t, "a re-saved session moves to the front", sessionIDs(must(st.List(ctx, planner, 1))), []string{"s1"})
	eq(t, "count", must(st.Count(ctx, planner)), int64(4))
	eq(t, "count unknown agent", must(st.Count(ctx, id("nobody"))), int64(0))
	eq(t, "list unknown agent", len(must(st.List(ctx, id("nobody"), 10))), 0)
	eq(t, "count all", must(st.CountAll(ctx))-allBefore, int64(5))

	// ListPage: keyset paging and a state filter
	page := must(st.ListPage(ctx, planner, &chatstore.ListStatesOptions{Limit: 2}))
	eq(t, "page 1", sessionIDs(page), []string{"s1", "s4"})
	page = must(st.ListPage(ctx, planner, &chatstore.ListStatesOptions{Limit: 2,
		BeforeUpdatedAt: &page[1].UpdatedAt, BeforeSessionID: page[1].SessionID}))
	eq(t, "page 2", sessionIDs(page), []string{"s3", "s2"})
	eq(t, "filter", sessionIDs(must(st.ListPage(ctx, planner, &chatstore.ListStatesOptions{StateFilter: map[string]any{"even": true}}))),
		[]string{"s4", "s2"})

	// Delete
	eq(t, "delete", must(st.Delete(ctx, planner, "s2")), true)
	eq(t, "delete again", must(st.Delete(ctx, planner, "s2")), false)
	_, err = st.Load(ctx, planner, "s2")
	isErr(t, err, chatstore.ErrNotFound)
	eq(t, "count after delete", must(st.Count(ctx, planner)), int64(3))

	// an empty agent id is refused
	_, err = st.Save(ctx, "", "s", map[string]any{})
	if err == nil {
		t.Fatal("empty agent id saved")
	}

	// a Go struct through JSON
	type plan struct {
		Goal  string   `json:"goal"`
		Steps []string `json:"steps"`
	}
	b, _ := json.Marshal(plan{"x", []string{"a"}})
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	must(st.Save(ctx, planner, "struct", m))
	b, _ = json.Marshal(must(st.Load(ctx, planner, "struct")).State)
	var back plan
	_ = json.Unmarshal(b, &back)
	eq(t, "struct round trip", back, plan{"x", []string{"a"}})
}

// 8 goroutines increment one counter with Load / SaveIfVersion / retry on
// ErrVersionConflict: no update is lost.
func TestStateStoreConcurrentCounter(t *testing.T) {
	begin(t)
	st := chatstore.NewStateStore(pool)
	agent := id("counter")
	const workers, per = 8, 15
	must(st.Save(ctx, agent, "c", map[string]any{"n": float64(0)}))
	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts, errs := 0, []error{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; {
				cur, err := st.Load(ctx, agent, "c")
				if err == nil {
					_, err = st.SaveIfVersion(ctx, agent, "c", map[string]any{"n": cur.State["n"].(float64) + 1}, cur.Version)
				}
				if errors.Is(err, chatstore.ErrVersionConflict) {
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
	eq(t, "no errors", len(errs), 0)
	got := must(st.Load(ctx, agent, "c"))
	eq(t, "no lost update", got.State["n"], float64(workers*per))
	eq(t, "the version counts every save", got.Version, int64(workers*per+1))
	t.Logf("%d conflicts retried", conflicts)
}
