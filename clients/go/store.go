package chatstore

import (
	"context"
	"encoding/json"
	"time"
)

// Store calls chatstore's chat functions. A Store made by ForUser passes
// that user as user_id to every function that takes one (the owner of new
// threads; another user's thread is refused or invisible); a Store without
// a user is trusted code (ListThreads lists everyone's threads).
type Store struct {
	db     DB
	userID string
}

// New returns a Store on db (a *pgxpool.Pool, *pgx.Conn or pgx.Tx).
func New(db DB) *Store { return &Store{db: db} }

// ForUser returns a Store acting as userID ("" is no user).
func (s *Store) ForUser(userID string) *Store { return &Store{db: s.db, userID: userID} }

// UserID is the user the Store acts as ("" when none).
func (s *Store) UserID() string { return s.userID }

// DB is the connection the Store uses.
func (s *Store) DB() DB { return s.db }

// ChatMessage is a message to save, in chatstore's message JSON
// (doc/data-model.md#message-json). Content is a string, an array of parts
// (e.g. []map[string]any or json.RawMessage) or nil (an assistant message
// with only tool calls). Any other JSON-marshalable value (maps, your own
// structs, Responses items) can be passed to SaveMessages as well.
type ChatMessage struct {
	ID         string          `json:"id,omitempty"`
	Role       string          `json:"role,omitempty"`
	Type       string          `json:"type,omitempty"`
	Content    any             `json:"content"`
	Name       string          `json:"name,omitempty"`
	Model      string          `json:"model,omitempty"`
	ToolCalls  json.RawMessage `json:"tool_calls,omitempty"`
	ToolCallID string          `json:"tool_call_id,omitempty"`
	ParentID   string          `json:"parent_id,omitempty"`
	Metadata   map[string]any  `json:"metadata,omitempty"`
	Usage      map[string]any  `json:"usage,omitempty"`
	TokenCount *int            `json:"token_count,omitempty"`
	CreatedAt  *time.Time      `json:"created_at,omitempty"`
}

// UserMessage, AssistantMessage and SystemMessage are text messages
// without ids (chatstore generates them; see dedup in the README).
func UserMessage(text string) ChatMessage      { return ChatMessage{Role: "user", Content: text} }
func AssistantMessage(text string) ChatMessage { return ChatMessage{Role: "assistant", Content: text} }
func SystemMessage(text string) ChatMessage    { return ChatMessage{Role: "system", Content: text} }

// ToolMessage is a tool's answer to the call callID.
func ToolMessage(callID, text string) ChatMessage {
	return ChatMessage{Role: "tool", Content: text, ToolCallID: callID}
}

// SaveResult is chat_save_messages' chat_save_result. FirstSeq and LastSeq
// are 0 when nothing was inserted.
type SaveResult struct {
	SavedCount   int
	SkippedCount int
	SavedIDs     []string
	FirstSeq     int64
	LastSeq      int64
}

// Message is a row of chat_messages (chat_history, chat_stream_finish).
// Text columns that are NULL are "", JSON columns that are NULL are nil.
type Message struct {
	ThreadID     string          `json:"thread_id"`
	ID           string          `json:"id"`
	Seq          int64           `json:"seq"`
	Role         string          `json:"role"`
	Content      string          `json:"content"`
	Parts        json.RawMessage `json:"parts,omitempty"`
	Name         string          `json:"name,omitempty"`
	Model        string          `json:"model,omitempty"`
	ToolCalls    json.RawMessage `json:"tool_calls,omitempty"`
	ToolCallID   string          `json:"tool_call_id,omitempty"`
	Metadata     json.RawMessage `json:"metadata,omitempty"`
	Usage        json.RawMessage `json:"usage,omitempty"`
	TokenCount   *int            `json:"token_count,omitempty"`
	ParentID     string          `json:"parent_id,omitempty"`
	UserID       string          `json:"user_id,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`
	ParentSeq    *int64          `json:"parent_seq,omitempty"`
	EditedAt     *time.Time      `json:"edited_at,omitempty"`
	Item         json.RawMessage `json:"item,omitempty"`
	Status       string          `json:"status,omitempty"`
	FinishReason string          `json:"finish_reason,omitempty"`
}

const messageCols = "thread_id, id, seq, role, content, parts, name, model, tool_calls, tool_call_id, " +
	"metadata, usage, token_count, parent_id, user_id, created_at, parent_seq, edited_at, item, status, finish_reason"

type scanner interface{ Scan(dest ...any) error }

func scanMessage(r scanner) (Message, error) {
	var m Message
	var content, name, model, toolCallID, parentID, userID, status, finish *string
	var parts, toolCalls, metadata, usage, item []byte
	err := r.Scan(&m.ThreadID, &m.ID, &m.Seq, &m.Role, &content, &parts, &name, &model, &toolCalls,
		&toolCallID, &metadata, &usage, &m.TokenCount, &parentID, &userID, &m.CreatedAt, &m.ParentSeq,
		&m.EditedAt, &item, &status, &finish)
	if err != nil {
		return m, err
	}
	m.Content, m.Name, m.Model, m.ToolCallID = str(content), str(name), str(model), str(toolCallID)
	m.ParentID, m.UserID, m.Status, m.FinishReason = str(parentID), str(userID), str(status), str(finish)
	m.Parts, m.ToolCalls, m.Metadata, m.Usage, m.Item = rawJSON(parts), rawJSON(toolCalls), rawJSON(metadata), rawJSON(usage), rawJSON(item)
	return m, nil
}

func (s *Store) save(ctx context.Context, fn, threadID string, messages any) (SaveResult, error) {
	var r SaveResult
	msgs, err := jsonArg(messages)
	if err != nil {
		return r, err
	}
	c := newCall(fn).pos(threadID).pos(msgs).pos(nullable(s.userID))
	var first, last *int64
	err = s.db.QueryRow(ctx, c.from("saved_count, skipped_count, saved_ids, first_seq, last_seq"), c.args...).
		Scan(&r.SavedCount, &r.SkippedCount, &r.SavedIDs, &first, &last)
	if err != nil {
		return SaveResult{}, mapErr(err)
	}
	if first != nil {
		r.FirstSeq = *first
	}
	if last != nil {
		r.LastSeq = *last
	}
	return r, nil
}

// SaveMessages saves a batch (chat_save_messages): messages is anything
// that marshals to a JSON array ([]ChatMessage, []map[string]any, items),
// or the array's JSON text as []byte / json.RawMessage. Messages already
// stored are skipped (by id, or by alignment for messages without ids).
// A deleted thread is ErrThreadDeleted.
func (s *Store) SaveMessages(ctx context.Context, threadID string, messages any) (SaveResult, error) {
	return s.save(ctx, "chat_save_messages", threadID, messages)
}

// AppendMessages appends a batch whole, as a log (chat_append_messages):
// nothing is skipped; an item's "id" stays in the item.
func (s *Store) AppendMessages(ctx context.Context, threadID string, messages any) (SaveResult, error) {
	return s.save(ctx, "chat_append_messages", threadID, messages)
}

// HistoryOptions is the window of History, Context and Items; zero values
// are not set. MaxTokens is not used by Items.
type HistoryOptions struct {
	MaxMessages int
	BeforeSeq   int64
	AfterSeq    int64
	MaxTokens   int
}

func (o *HistoryOptions) add(c *call, tokens bool) {
	if o == nil {
		return
	}
	c.namedIf(o.MaxMessages != 0, "max_messages", o.MaxMessages)
	c.namedIf(o.BeforeSeq != 0, "before_seq", o.BeforeSeq)
	c.namedIf(o.AfterSeq != 0, "after_seq", o.AfterSeq)
	c.namedIf(tokens && o.MaxTokens != 0, "max_tokens", o.MaxTokens)
}

// History is the thread's messages in seq order (chat_history), optionally
// a window; an unknown thread gives none. opts may be nil.
func (s *Store) History(ctx context.Context, threadID string, opts *HistoryOptions) ([]Message, error) {
	c := newCall("chat_history").pos(threadID)
	opts.add(c, true)
	rows, err := s.db.Query(ctx, c.from(messageCols)+" ORDER BY seq", c.args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, mapErr(err)
		}
		out = append(out, m)
	}
	return out, mapErr(rows.Err())
}

// Context formats.
const (
	FormatChat      = "chat"      // Chat Completions messages
	FormatResponses = "responses" // Responses API input items
)

// ContextOptions: the window, the format ("" is FormatChat) and whether
// messages still streaming are included.
type ContextOptions struct {
	HistoryOptions
	Format            string
	IncludeIncomplete bool
}

// Context is the history as one JSON array ready to send to a model
// (chat_context): Chat Completions messages or Responses input items,
// tool calls paired with their answers, the latest summary standing for
// what it covers. "[]" for an unknown thread. opts may be nil.
func (s *Store) Context(ctx context.Context, threadID string, opts *ContextOptions) (json.RawMessage, error) {
	c := newCall("chat_context").pos(threadID)
	if opts != nil {
		opts.HistoryOptions.add(c, true)
		c.namedIf(opts.Format != "", "format", opts.Format)
		c.namedIf(opts.IncludeIncomplete, "include_incomplete", true)
	}
	var b []byte
	if err := c.scalar(ctx, s.db, &b); err != nil {
		return nil, err
	}
	return rawJSON(b), nil
}

// Item is a row of chat_items: a message in Responses item form.
type Item struct {
	Seq  int64
	ID   string
	Item json.RawMessage
}

// Items is the history as Responses items, oldest first, nothing left out
// or paired (chat_items); what a session store reads. opts may be nil
// (MaxTokens is ignored).
func (s *Store) Items(ctx context.Context, threadID string, opts *HistoryOptions) ([]Item, error) {
	c := newCall("chat_items").pos(threadID)
	opts.add(c, false)
	rows, err := s.db.Query(ctx, c.from("seq, id, item")+" ORDER BY seq", c.args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []Item{}
	for rows.Next() {
		var it Item
		var b []byte
		if err := rows.Scan(&it.Seq, &it.ID, &b); err != nil {
			return nil, mapErr(err)
		}
		it.Item = rawJSON(b)
		out = append(out, it)
	}
	return out, mapErr(rows.Err())
}
