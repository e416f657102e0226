package chatstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// SessionState is an agent's stored state for one session.
type SessionState struct {
	AgentID   string
	SessionID string
	State     map[string]any
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// StateStore is the Forge AI SDK's state store on chatstore's agent
// states (chat_agent_state_*): one SQL call per operation, a version per
// state for optimistic concurrency (SaveIfVersion). States are JSON
// objects; numbers come back as float64 (encoding/json).
type StateStore struct {
	db DB
}

// NewStateStore returns a StateStore on db.
func NewStateStore(db DB) *StateStore { return &StateStore{db: db} }

func stateArg(state map[string]any) (any, error) {
	if state == nil {
		state = map[string]any{}
	}
	return jsonArg(state)
}

// Save upserts the state (chat_agent_state_save) and returns its new
// version (1 for a new state). A nil state is saved as {}.
func (s *StateStore) Save(ctx context.Context, agentID, sessionID string, state map[string]any) (int64, error) {
	st, err := stateArg(state)
	if err != nil {
		return 0, err
	}
	var v int64
	err = newCall("chat_agent_state_save").pos(agentID).pos(sessionID).pos(st).scalar(ctx, s.db, &v)
	return v, err
}

// SaveIfVersion saves only when the stored version is expected (0: only
// when no state is stored) and returns the new version; otherwise it
// writes nothing and returns ErrVersionConflict (SQLSTATE CS001). The
// usual loop: Load, change, SaveIfVersion with the loaded Version, and on
// ErrVersionConflict load again.
func (s *StateStore) SaveIfVersion(ctx context.Context, agentID, sessionID string, state map[string]any, expected int64) (int64, error) {
	st, err := stateArg(state)
	if err != nil {
		return 0, err
	}
	var v int64
	err = newCall("chat_agent_state_save").pos(agentID).pos(sessionID).pos(st).pos(expected).scalar(ctx, s.db, &v)
	return v, err
}

const stateCols = "agent_id, session_id, state, version, created_at, updated_at"

func scanState(r scanner) (SessionState, error) {
	var st SessionState
	var b []byte
	if err := r.Scan(&st.AgentID, &st.SessionID, &b, &st.Version, &st.CreatedAt, &st.UpdatedAt); err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st.State); err != nil {
		return st, fmt.Errorf("chatstore: decoding the state of %s/%s: %w", st.AgentID, st.SessionID, err)
	}
	if st.State == nil {
		st.State = map[string]any{}
	}
	return st, nil
}

// Load is the stored state (chat_agent_state_load); ErrNotFound when none
// is stored (a stored {} is found, with an empty State).
func (s *StateStore) Load(ctx context.Context, agentID, sessionID string) (*SessionState, error) {
	c := newCall("chat_agent_state_load").pos(agentID).pos(sessionID)
	st, err := scanState(s.db.QueryRow(ctx, c.from(stateCols), c.args...))
	if err != nil {
		return nil, mapErr(err)
	}
	return &st, nil
}

// Delete deletes the state (chat_agent_state_delete); false when none was
// stored.
func (s *StateStore) Delete(ctx context.Context, agentID, sessionID string) (bool, error) {
	var ok bool
	err := newCall("chat_agent_state_delete").pos(agentID).pos(sessionID).scalar(ctx, s.db, &ok)
	return ok, err
}

// List is the agent's states, most recently saved first, at most limit
// (chat_agent_state_list; limit <= 0 is the function's default, 100).
func (s *StateStore) List(ctx context.Context, agentID string, limit int) ([]SessionState, error) {
	return s.ListPage(ctx, agentID, &ListStatesOptions{Limit: limit})
}

// ListStatesOptions: keyset paging with the last row's UpdatedAt and
// SessionID, and a filter keeping states whose state @> StateFilter.
type ListStatesOptions struct {
	Limit           int
	BeforeUpdatedAt *time.Time
	BeforeSessionID string
	StateFilter     any
}

// ListPage is List with paging and a filter. opts may be nil.
func (s *StateStore) ListPage(ctx context.Context, agentID string, opts *ListStatesOptions) ([]SessionState, error) {
	c := newCall("chat_agent_state_list").pos(agentID)
	if opts != nil {
		filter, err := jsonArg(opts.StateFilter)
		if err != nil {
			return nil, err
		}
		c.namedIf(opts.Limit > 0, "max_sessions", opts.Limit).
			namedIf(opts.BeforeUpdatedAt != nil, "before_updated_at", opts.BeforeUpdatedAt).
			namedIf(opts.BeforeSessionID != "", "before_session_id", opts.BeforeSessionID).
			namedIf(filter != nil, "state_filter", filter)
	}
	rows, err := s.db.Query(ctx, c.from(stateCols), c.args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []SessionState{}
	for rows.Next() {
		st, err := scanState(rows)
		if err != nil {
			return nil, mapErr(err)
		}
		out = append(out, st)
	}
	return out, mapErr(rows.Err())
}

// Count is the number of the agent's stored sessions
// (chat_agent_state_count).
func (s *StateStore) Count(ctx context.Context, agentID string) (int64, error) {
	var n int64
	err := newCall("chat_agent_state_count").pos(agentID).scalar(ctx, s.db, &n)
	return n, err
}

// CountAll is the number of stored states over all agents of the current
// tenant (chat_agent_state_count_all; Forge's Count()).
func (s *StateStore) CountAll(ctx context.Context) (int64, error) {
	var n int64
	err := newCall("chat_agent_state_count_all").scalar(ctx, s.db, &n)
	return n, err
}

// Health is chat_health(): status "ok", the extension's version and
// schema, the server's version, the database, the tenant, whether the
// server is in recovery, and its time.
type Health struct {
	Status           string    `json:"status"`
	ExtensionVersion string    `json:"extension_version"`
	Schema           string    `json:"schema"`
	ServerVersion    string    `json:"server_version"`
	Database         string    `json:"database"`
	Tenant           *string   `json:"tenant"`
	InRecovery       bool      `json:"in_recovery"`
	Now              time.Time `json:"now"`
}

// Health calls chat_health().
func (s *StateStore) Health(ctx context.Context) (Health, error) {
	var h Health
	var b []byte
	if err := newCall("chat_health").scalar(ctx, s.db, &b); err != nil {
		return h, err
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("chatstore: decoding chat_health(): %w", err)
	}
	return h, nil
}

// HealthCheck is nil when chat_health() answers status "ok".
func (s *StateStore) HealthCheck(ctx context.Context) error {
	h, err := s.Health(ctx)
	if err != nil {
		return err
	}
	if h.Status != "ok" {
		return fmt.Errorf("chatstore: health status %q", h.Status)
	}
	return nil
}
