package chatstore

import (
	"context"
	"encoding/json"
	"time"
)

// Thread is a row of chat_threads.
type Thread struct {
	ID               string          `json:"id"`
	UserID           string          `json:"user_id,omitempty"`
	Title            string          `json:"title"`
	Metadata         json.RawMessage `json:"metadata"`
	State            json.RawMessage `json:"state"`
	MessageCount     int64           `json:"message_count"`
	LastSeq          int64           `json:"last_seq"`
	PromptTokens     int64           `json:"prompt_tokens"`
	CompletionTokens int64           `json:"completion_tokens"`
	TotalTokens      int64           `json:"total_tokens"`
	LastMessageAt    *time.Time      `json:"last_message_at,omitempty"`
	Archived         bool            `json:"archived"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
}

const threadCols = "id, user_id, title, metadata, state, message_count, last_seq, prompt_tokens, " +
	"completion_tokens, total_tokens, last_message_at, archived, created_at, updated_at"

func scanThread(r scanner) (Thread, error) {
	var t Thread
	var user *string
	var metadata, state []byte
	err := r.Scan(&t.ID, &user, &t.Title, &metadata, &state, &t.MessageCount, &t.LastSeq, &t.PromptTokens,
		&t.CompletionTokens, &t.TotalTokens, &t.LastMessageAt, &t.Archived, &t.CreatedAt, &t.UpdatedAt)
	t.UserID, t.Metadata, t.State = str(user), rawJSON(metadata), rawJSON(state)
	return t, err
}

func (s *Store) threads(ctx context.Context, c *call, extra string) ([]Thread, error) {
	rows, err := s.db.Query(ctx, c.from(threadCols)+extra, c.args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []Thread{}
	for rows.Next() {
		t, err := scanThread(rows)
		if err != nil {
			return nil, mapErr(err)
		}
		out = append(out, t)
	}
	return out, mapErr(rows.Err())
}

func (s *Store) thread(ctx context.Context, c *call) (Thread, error) {
	t, err := scanThread(s.db.QueryRow(ctx, c.from(threadCols), c.args...))
	if err != nil {
		return Thread{}, mapErr(err)
	}
	return t, nil
}

// NewThread describes a thread to create; zero fields take the defaults
// (a uuid id, no title, {} metadata and state).
type NewThread struct {
	ID       string
	Title    string
	Metadata any // a JSON object (map, struct, json.RawMessage)
	State    any // a JSON object
}

// CreateThread creates a thread owned by the Store's user
// (chat_create_thread). An existing id is ErrAlreadyExists; the id of a
// deleted thread is allowed (this is how it is made again).
func (s *Store) CreateThread(ctx context.Context, nt NewThread) (Thread, error) {
	metadata, err := jsonArg(nt.Metadata)
	if err != nil {
		return Thread{}, err
	}
	state, err := jsonArg(nt.State)
	if err != nil {
		return Thread{}, err
	}
	c := newCall("chat_create_thread").
		namedIf(nt.ID != "", "id", nt.ID).
		namedIf(s.userID != "", "user_id", s.userID).
		namedIf(nt.Title != "", "title", nt.Title).
		namedIf(metadata != nil, "metadata", metadata).
		namedIf(state != nil, "state", state)
	return s.thread(ctx, c)
}

// GetThread is the thread (chat_get_thread); ErrNotFound when it does not
// exist or is another user's.
func (s *Store) GetThread(ctx context.Context, threadID string) (Thread, error) {
	return s.thread(ctx, newCall("chat_get_thread").pos(threadID).pos(nullable(s.userID)))
}

// ListThreadsOptions: zero values are not set (MaxThreads 0 is the
// function's default, 20).
type ListThreadsOptions struct {
	MaxThreads      int
	BeforeUpdatedAt *time.Time // keyset paging: the last row's UpdatedAt
	BeforeID        string     // and ID
	MetadataFilter  any        // keeps threads whose metadata @> filter
	PageOffset      int
	IncludeArchived bool
}

// ListThreads is the user's threads newest first (chat_list_threads); a
// Store without a user lists everyone's. opts may be nil.
func (s *Store) ListThreads(ctx context.Context, opts *ListThreadsOptions) ([]Thread, error) {
	c := newCall("chat_list_threads").named("user_id", nullable(s.userID))
	if opts != nil {
		filter, err := jsonArg(opts.MetadataFilter)
		if err != nil {
			return nil, err
		}
		c.namedIf(opts.MaxThreads != 0, "max_threads", opts.MaxThreads).
			namedIf(opts.BeforeUpdatedAt != nil, "before_updated_at", opts.BeforeUpdatedAt).
			namedIf(opts.BeforeID != "", "before_id", opts.BeforeID).
			namedIf(filter != nil, "metadata_filter", filter).
			namedIf(opts.PageOffset != 0, "page_offset", opts.PageOffset).
			namedIf(opts.IncludeArchived, "include_archived", true)
	}
	return s.threads(ctx, c, "")
}

// ThreadUpdate: nil fields are not changed. Metadata is merged into the
// thread's (||); State replaces it.
type ThreadUpdate struct {
	Title    *string
	Metadata any
	State    any
}

// UpdateThread changes a thread (chat_update_thread); ErrNotFound when it
// does not exist or is another user's.
func (s *Store) UpdateThread(ctx context.Context, threadID string, u ThreadUpdate) (Thread, error) {
	metadata, err := jsonArg(u.Metadata)
	if err != nil {
		return Thread{}, err
	}
	state, err := jsonArg(u.State)
	if err != nil {
		return Thread{}, err
	}
	c := newCall("chat_update_thread").pos(threadID).
		namedIf(u.Title != nil, "title", u.Title).
		namedIf(metadata != nil, "metadata", metadata).
		namedIf(state != nil, "state", state).
		named("user_id", nullable(s.userID))
	return s.thread(ctx, c)
}

// DeleteThread deletes the thread and its messages (chat_delete_thread);
// false when not found or another user's. Later saves into it are
// ErrThreadDeleted until CreateThread makes it again.
func (s *Store) DeleteThread(ctx context.Context, threadID string) (bool, error) {
	var ok bool
	err := newCall("chat_delete_thread").pos(threadID).pos(nullable(s.userID)).scalar(ctx, s.db, &ok)
	return ok, err
}
