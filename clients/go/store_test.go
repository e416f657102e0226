package chatstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	chatstore "chatstore/clients/go"

	"github.com/jackc/pgconn"
)

var ctx = context.Background()

// cur is the running test (the tests do not run in parallel), so that
// must can wrap a call's two results: x := must(s.History(...)).
var cur *testing.T

func begin(t *testing.T) { cur = t }

func must[T any](v T, err error) T {
	if err != nil {
		cur.Helper()
		cur.Fatal(err)
	}
	return v
}

func isErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

// asJSON decodes raw JSON into a generic value.
func asJSON(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("bad JSON %s: %v", raw, err)
	}
	return v
}

func sameJSON(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if !reflect.DeepEqual(asJSON(t, got), asJSON(t, []byte(want))) {
		t.Fatalf("%s: got %s, want %s", what, got, want)
	}
}

func contents(ms []chatstore.Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Content)
	}
	return out
}

func seqs(ms []chatstore.Message) []int64 {
	out := []int64{}
	for _, m := range ms {
		out = append(out, m.Seq)
	}
	return out
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: got %#v, want %#v", what, got, want)
	}
}

func TestSaveMessagesAndHistory(t *testing.T) {
	begin(t)
	s := chatstore.New(pool).ForUser("alice")
	th := id("save")
	tokens := 7
	batch := []chatstore.ChatMessage{
		{ID: "m1", Role: "system", Content: "Be terse."},
		{ID: "m2", Role: "user", Content: "Weather in Porto?", Metadata: map[string]any{"lang": "en"}},
		{ID: "m3", Role: "assistant", Content: nil, Model: "gpt-4o",
			ToolCalls: json.RawMessage(`[{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Porto\"}"}}]`),
			Usage:     map[string]any{"input_tokens": 10, "output_tokens": 4}},
		{ID: "m4", Role: "tool", Content: "18C", ToolCallID: "call_1", TokenCount: &tokens},
	}
	r := must(s.SaveMessages(ctx, th, batch))
	eq(t, "first save", r, chatstore.SaveResult{SavedCount: 4, SkippedCount: 0,
		SavedIDs: []string{"m1", "m2", "m3", "m4"}, FirstSeq: 1, LastSeq: 4})

	// the whole conversation re-sent with one new message: only it is saved
	r = must(s.SaveMessages(ctx, th, append(batch, chatstore.ChatMessage{ID: "m5", Role: "assistant", Content: "18C and sunny."})))
	eq(t, "re-send", r, chatstore.SaveResult{SavedCount: 1, SkippedCount: 4, SavedIDs: []string{"m5"}, FirstSeq: 5, LastSeq: 5})
	// nothing new: seqs are 0, saved_ids empty
	r = must(s.SaveMessages(ctx, th, batch[:1]))
	eq(t, "nothing new", r, chatstore.SaveResult{SavedCount: 0, SkippedCount: 1, SavedIDs: []string{}, FirstSeq: 0, LastSeq: 0})

	// raw JSON and maps are accepted as well
	r = must(s.SaveMessages(ctx, th, json.RawMessage(`[{"id": "m6", "role": "user", "content": "thanks"}]`)))
	eq(t, "raw JSON save", r.SavedIDs, []string{"m6"})
	r = must(s.SaveMessages(ctx, th, []map[string]any{{"id": "m7", "type": "ai", "content": "welcome"}}))
	eq(t, "map save (LangChain type)", r.LastSeq, int64(7))

	h := must(s.History(ctx, th, nil))
	eq(t, "history seqs", seqs(h), []int64{1, 2, 3, 4, 5, 6, 7})
	eq(t, "history contents", contents(h), []string{"Be terse.", "Weather in Porto?", "", "18C", "18C and sunny.", "thanks", "welcome"})
	m2, m3, m4 := h[1], h[2], h[3]
	eq(t, "thread id", m2.ThreadID, th)
	eq(t, "id", m2.ID, "m2")
	eq(t, "user id", m2.UserID, "alice")
	sameJSON(t, "metadata", m2.Metadata, `{"lang": "en"}`)
	eq(t, "role", m3.Role, "assistant")
	eq(t, "model", m3.Model, "gpt-4o")
	sameJSON(t, "tool_calls", m3.ToolCalls, `[{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Porto\"}"}}]`)
	sameJSON(t, "usage", m3.Usage, `{"input_tokens": 10, "output_tokens": 4}`)
	if m3.TokenCount == nil || *m3.TokenCount != 4 {
		t.Fatalf("token_count from usage: %v", m3.TokenCount)
	}
	eq(t, "tool_call_id", m4.ToolCallID, "call_1")
	if m4.TokenCount == nil || *m4.TokenCount != 7 {
		t.Fatalf("token_count: %v", m4.TokenCount)
	}
	eq(t, "status of a message saved whole", m4.Status, "")
	if m2.CreatedAt.IsZero() || time.Since(m2.CreatedAt) > time.Hour {
		t.Fatalf("created_at: %v", m2.CreatedAt)
	}
	eq(t, "assistant alias", h[6].Role, "assistant")

	// windows
	h = must(s.History(ctx, th, &chatstore.HistoryOptions{MaxMessages: 2}))
	eq(t, "max_messages", seqs(h), []int64{6, 7})
	h = must(s.History(ctx, th, &chatstore.HistoryOptions{BeforeSeq: 4, MaxMessages: 2}))
	eq(t, "before_seq", seqs(h), []int64{2, 3})
	h = must(s.History(ctx, th, &chatstore.HistoryOptions{AfterSeq: 2, MaxMessages: 2}))
	eq(t, "after_seq (forward)", seqs(h), []int64{3, 4})
	// a budget keeps the leading system message and a newest run that fits
	h = must(s.History(ctx, th, &chatstore.HistoryOptions{MaxTokens: 8}))
	if len(h) == 0 || h[0].Seq != 1 || h[len(h)-1].Seq != 7 || len(h) >= 7 {
		t.Fatalf("max_tokens window: %v", seqs(h))
	}

	// unknown thread: no rows; empty id: ErrInvalidArgument
	h = must(s.History(ctx, id("nope"), nil))
	eq(t, "unknown thread", len(h), 0)
	_, err := s.History(ctx, "", nil)
	isErr(t, err, chatstore.ErrInvalidArgument)

	// a malformed message is ErrInvalidArgument, and errors.As gives the
	// SQLSTATE both ways
	_, err = s.SaveMessages(ctx, th, []map[string]any{{"role": "robot", "content": "x"}})
	isErr(t, err, chatstore.ErrInvalidArgument)
	var ce *chatstore.Error
	var pe *pgconn.PgError
	if !errors.As(err, &ce) || ce.Code != "22023" || !errors.As(err, &pe) || pe.Code != "22023" {
		t.Fatalf("error types: %v", err)
	}

	// another user's thread is refused
	_, err = chatstore.New(pool).ForUser("mallory").SaveMessages(ctx, th, []chatstore.ChatMessage{chatstore.UserMessage("hi")})
	isErr(t, err, chatstore.ErrForbidden)
}

func TestAppendMessages(t *testing.T) {
	begin(t)
	s := chatstore.New(pool)
	th := id("append")
	items := `[{"type": "message", "role": "user", "content": "ok"}, {"type": "message", "role": "user", "content": "ok"}]`
	r := must(s.AppendMessages(ctx, th, json.RawMessage(items)))
	eq(t, "append counts", []any{r.SavedCount, r.SkippedCount, len(r.SavedIDs), r.FirstSeq, r.LastSeq}, []any{2, 0, 2, int64(1), int64(2)})
	// the same batch again is appended again (a log), where a save skips it
	r = must(s.AppendMessages(ctx, th, json.RawMessage(items)))
	eq(t, "append again", r.SavedCount, 2)
	r = must(s.SaveMessages(ctx, th, json.RawMessage(items)))
	eq(t, "save skips the re-sent tail", r.SavedCount, 0)
	// an item's own id stays in the item; the row gets a new id
	r = must(s.AppendMessages(ctx, th, []map[string]any{{"type": "reasoning", "id": "rs_1", "summary": []any{}}}))
	its := must(s.Items(ctx, th, nil))
	eq(t, "items", len(its), 5)
	last := its[4]
	if last.ID != r.SavedIDs[0] || last.ID == "rs_1" {
		t.Fatalf("appended item row id %q, saved %v", last.ID, r.SavedIDs)
	}
	sameJSON(t, "item kept", last.Item, `{"type": "reasoning", "id": "rs_1", "summary": []}`)
	// a chat message id must be new
	_, err := s.AppendMessages(ctx, th, []chatstore.ChatMessage{{ID: "x1", Role: "user", Content: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.AppendMessages(ctx, th, []chatstore.ChatMessage{{ID: "x1", Role: "user", Content: "a"}})
	isErr(t, err, chatstore.ErrAlreadyExists)
}

func toolConversation(t *testing.T, s *chatstore.Store, th string) {
	t.Helper()
	must(s.SaveMessages(ctx, th, []chatstore.ChatMessage{
		chatstore.SystemMessage("You are terse."),
		{ID: "u1", Role: "user", Content: "Weather in Porto?"},
		{ID: "a1", Role: "assistant", Content: nil,
			ToolCalls: json.RawMessage(`[{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]`)},
		chatstore.ToolMessage("call_1", "18C"),
		chatstore.AssistantMessage("18C."),
	}))
}

func TestContext(t *testing.T) {
	begin(t)
	s := chatstore.New(pool)
	th := id("context")
	toolConversation(t, s, th)
	c := must(s.Context(ctx, th, nil))
	sameJSON(t, "chat context", c, `[
		{"role": "system", "content": "You are terse."},
		{"role": "user", "content": "Weather in Porto?"},
		{"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]},
		{"role": "tool", "content": "18C", "tool_call_id": "call_1"},
		{"role": "assistant", "content": "18C."}]`)
	c = must(s.Context(ctx, th, &chatstore.ContextOptions{Format: chatstore.FormatResponses}))
	sameJSON(t, "responses context", c, `[
		{"type": "message", "role": "system", "content": "You are terse."},
		{"type": "message", "role": "user", "content": "Weather in Porto?"},
		{"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{}"},
		{"type": "function_call_output", "call_id": "call_1", "output": "18C"},
		{"type": "message", "role": "assistant", "content": "18C."}]`)
	// a window that starts at the tool answer leaves the orphaned answer out
	c = must(s.Context(ctx, th, &chatstore.ContextOptions{HistoryOptions: chatstore.HistoryOptions{MaxMessages: 2}}))
	sameJSON(t, "window", c, `[{"role": "assistant", "content": "18C."}]`)
	// a token budget keeps the leading system message
	c = must(s.Context(ctx, th, &chatstore.ContextOptions{HistoryOptions: chatstore.HistoryOptions{MaxTokens: 5}}))
	sameJSON(t, "budget", c, `[{"role": "system", "content": "You are terse."}, {"role": "assistant", "content": "18C."}]`)
	c = must(s.Context(ctx, id("nope"), nil))
	sameJSON(t, "unknown thread", c, `[]`)
	_, err := s.Context(ctx, th, &chatstore.ContextOptions{Format: "xml"})
	isErr(t, err, chatstore.ErrInvalidArgument)
}

func TestItems(t *testing.T) {
	begin(t)
	s := chatstore.New(pool)
	th := id("items")
	toolConversation(t, s, th)
	its := must(s.Items(ctx, th, nil))
	eq(t, "item count (the call gives one function_call, no empty text)", len(its), 5)
	sameJSON(t, "user message item", its[1].Item, `{"type": "message", "role": "user", "content": "Weather in Porto?"}`)
	sameJSON(t, "function_call item", its[2].Item, `{"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{}"}`)
	eq(t, "item seq and id", []any{its[2].Seq, its[2].ID}, []any{int64(3), "a1"})
	its = must(s.Items(ctx, th, &chatstore.HistoryOptions{MaxMessages: 2, BeforeSeq: 5}))
	eq(t, "window", []int64{its[0].Seq, its[1].Seq}, []int64{3, 4})
}

func TestThreads(t *testing.T) {
	begin(t)
	alice := chatstore.New(pool).ForUser(id("alice"))
	bob := chatstore.New(pool).ForUser(id("bob"))
	th := id("thread")
	created := must(alice.CreateThread(ctx, chatstore.NewThread{ID: th, Title: "Trip",
		Metadata: map[string]any{"project": "x"}, State: json.RawMessage(`{"step": 1}`)}))
	eq(t, "created", []any{created.ID, created.UserID, created.Title, created.MessageCount}, []any{th, id("alice"), "Trip", int64(0)})
	sameJSON(t, "metadata", created.Metadata, `{"project": "x"}`)
	sameJSON(t, "state", created.State, `{"step": 1}`)
	_, err := alice.CreateThread(ctx, chatstore.NewThread{ID: th})
	isErr(t, err, chatstore.ErrAlreadyExists)
	// a uuid id when none is given
	anon := must(alice.CreateThread(ctx, chatstore.NewThread{}))
	if len(anon.ID) != 36 || anon.Title != "" {
		t.Fatalf("default thread: %+v", anon)
	}

	must(alice.SaveMessages(ctx, th, []chatstore.ChatMessage{{ID: "u", Role: "user", Content: "hi",
		Usage: map[string]any{"prompt_tokens": 3, "completion_tokens": 2}}}))
	got := must(alice.GetThread(ctx, th))
	eq(t, "aggregates", []int64{got.MessageCount, got.LastSeq, got.PromptTokens, got.CompletionTokens, got.TotalTokens},
		[]int64{1, 1, 3, 2, 5})
	if got.LastMessageAt == nil || got.UpdatedAt.Before(got.CreatedAt) {
		t.Fatalf("timestamps: %+v", got)
	}
	_, err = bob.GetThread(ctx, th)
	isErr(t, err, chatstore.ErrNotFound)
	_, err = chatstore.New(pool).GetThread(ctx, th) // trusted code sees it
	if err != nil {
		t.Fatal(err)
	}

	// newest first; a metadata filter; paging
	time.Sleep(2 * time.Millisecond)
	third := must(alice.CreateThread(ctx, chatstore.NewThread{ID: id("thread3"), Metadata: map[string]any{"project": "y"}}))
	list := must(alice.ListThreads(ctx, nil))
	eq(t, "list ids", threadIDs(list), []string{third.ID, th, anon.ID})
	list = must(alice.ListThreads(ctx, &chatstore.ListThreadsOptions{MetadataFilter: map[string]any{"project": "x"}}))
	eq(t, "filtered", threadIDs(list), []string{th})
	list = must(alice.ListThreads(ctx, &chatstore.ListThreadsOptions{MaxThreads: 1}))
	eq(t, "page 1", threadIDs(list), []string{third.ID})
	list = must(alice.ListThreads(ctx, &chatstore.ListThreadsOptions{MaxThreads: 5,
		BeforeUpdatedAt: &list[0].UpdatedAt, BeforeID: list[0].ID}))
	eq(t, "keyset page 2", threadIDs(list), []string{th, anon.ID})
	list = must(alice.ListThreads(ctx, &chatstore.ListThreadsOptions{PageOffset: 2}))
	eq(t, "offset", threadIDs(list), []string{anon.ID})
	eq(t, "bob has none", len(must(bob.ListThreads(ctx, nil))), 0)

	title := "Renamed"
	up := must(alice.UpdateThread(ctx, th, chatstore.ThreadUpdate{Title: &title, Metadata: map[string]any{"pinned": true}}))
	eq(t, "renamed", up.Title, "Renamed")
	sameJSON(t, "metadata merged", up.Metadata, `{"project": "x", "pinned": true}`)
	_, err = bob.UpdateThread(ctx, th, chatstore.ThreadUpdate{Title: &title})
	isErr(t, err, chatstore.ErrNotFound)

	// delete: bob cannot; alice can, once
	eq(t, "bob's delete", must(bob.DeleteThread(ctx, th)), false)
	eq(t, "delete", must(alice.DeleteThread(ctx, th)), true)
	eq(t, "delete again", must(alice.DeleteThread(ctx, th)), false)
	_, err = alice.GetThread(ctx, th)
	isErr(t, err, chatstore.ErrNotFound)
	// a deleted thread refuses saves until it is created again
	_, err = alice.SaveMessages(ctx, th, []chatstore.ChatMessage{chatstore.UserMessage("again")})
	isErr(t, err, chatstore.ErrThreadDeleted)
	var ce *chatstore.Error
	if !errors.As(err, &ce) || ce.Code != "CS002" {
		t.Fatalf("CS002: %v", err)
	}
	_, err = alice.AppendMessages(ctx, th, []chatstore.ChatMessage{chatstore.UserMessage("again")})
	isErr(t, err, chatstore.ErrThreadDeleted)
	_, err = alice.StreamStart(ctx, th, nil)
	isErr(t, err, chatstore.ErrThreadDeleted)
	must(alice.CreateThread(ctx, chatstore.NewThread{ID: th}))
	r := must(alice.SaveMessages(ctx, th, []chatstore.ChatMessage{chatstore.UserMessage("again")}))
	eq(t, "saved after re-creation", []any{r.SavedCount, r.FirstSeq}, []any{1, int64(1)})
}

func threadIDs(ts []chatstore.Thread) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

func TestStreaming(t *testing.T) {
	begin(t)
	s := chatstore.New(pool).ForUser("alice")
	th := id("stream")
	must(s.SaveMessages(ctx, th, []chatstore.ChatMessage{{ID: "u1", Role: "user", Content: "Say hello"}}))
	ref := must(s.StreamStart(ctx, th, &chatstore.StreamStartOptions{MessageID: "a7", Model: "gpt-4o",
		Metadata: map[string]any{"k": 1}}))
	eq(t, "start", ref, chatstore.StreamRef{ID: "a7", Seq: 2})
	// the id of a stream in progress resumes it
	eq(t, "resume", must(s.StreamStart(ctx, th, &chatstore.StreamStartOptions{MessageID: "a7"})), ref)
	eq(t, "append 1", must(s.StreamAppend(ctx, th, "a7", "Hel")), int64(3))
	eq(t, "append 2", must(s.StreamAppend(ctx, th, "a7", "lo, wörld")), int64(12))
	eq(t, "read from 3", must(s.StreamRead(ctx, th, "a7", 3)), chatstore.StreamChunk{Status: "in_progress", Text: "lo, wörld", EndOffset: 12})
	eq(t, "read all", must(s.StreamRead(ctx, th, "a7", 0)).Text, "Hello, wörld")

	h := must(s.History(ctx, th, nil))
	eq(t, "history status", h[1].Status, "in_progress")
	sameJSON(t, "context leaves it out", must(s.Context(ctx, th, nil)), `[{"role": "user", "content": "Say hello"}]`)
	c := must(s.Context(ctx, th, &chatstore.ContextOptions{IncludeIncomplete: true}))
	if len(asJSON(t, c).([]any)) != 2 {
		t.Fatalf("include_incomplete: %s", c)
	}

	m := must(s.StreamFinish(ctx, th, "a7", &chatstore.StreamFinishOptions{FinishReason: "stop",
		Usage: map[string]any{"input_tokens": 8, "output_tokens": 3}}))
	eq(t, "finished", []any{m.ID, m.Seq, m.Status, m.FinishReason, m.Content, m.Model, m.Role},
		[]any{"a7", int64(2), "completed", "stop", "Hello, wörld", "gpt-4o", "assistant"})
	sameJSON(t, "finished usage", m.Usage, `{"input_tokens": 8, "output_tokens": 3}`)
	eq(t, "read finished", must(s.StreamRead(ctx, th, "a7", 7)), chatstore.StreamChunk{Status: "completed", Text: "wörld", EndOffset: 12})
	eq(t, "thread tokens", must(s.GetThread(ctx, th)).TotalTokens, int64(11))

	_, err := s.StreamAppend(ctx, th, "a7", "more")
	isErr(t, err, chatstore.ErrNotStreaming)
	_, err = s.StreamFinish(ctx, th, "a7", nil)
	isErr(t, err, chatstore.ErrNotStreaming)
	_, err = s.StreamStart(ctx, th, &chatstore.StreamStartOptions{MessageID: "a7"})
	isErr(t, err, chatstore.ErrAlreadyExists)
	_, err = s.StreamRead(ctx, th, "nope", 0)
	isErr(t, err, chatstore.ErrNotFound)
	// a message saved whole reads as completed
	eq(t, "read saved", must(s.StreamRead(ctx, th, "u1", 0)), chatstore.StreamChunk{Status: "completed", Text: "Say hello", EndOffset: 9})

	// a stream with the defaults, finished failed
	ref = must(s.StreamStart(ctx, th, nil))
	if ref.ID == "" || ref.Seq != 3 {
		t.Fatalf("default start: %+v", ref)
	}
	m = must(s.StreamFinish(ctx, th, ref.ID, &chatstore.StreamFinishOptions{Status: "failed"}))
	eq(t, "failed", []any{m.Status, m.Content}, []any{"failed", ""})
}

func TestCompact(t *testing.T) {
	begin(t)
	s := chatstore.New(pool)
	th := id("compact")
	msgs := []chatstore.ChatMessage{chatstore.SystemMessage("sys")}
	for _, c := range []string{"a", "b", "c", "d", "e"} {
		msgs = append(msgs, chatstore.UserMessage(c))
	}
	must(s.SaveMessages(ctx, th, msgs))
	sid := must(s.Compact(ctx, th, 4, "The user said a, b, c.", nil))
	eq(t, "summary id", sid, int64(1))
	sameJSON(t, "context after compaction", must(s.Context(ctx, th, nil)),
		`[{"role": "system", "content": "sys"}, {"role": "system", "content": "The user said a, b, c."},
		  {"role": "user", "content": "d"}, {"role": "user", "content": "e"}]`)
	// the summarized messages stay in the history
	eq(t, "history kept", len(must(s.History(ctx, th, nil))), 6)
	sid = must(s.Compact(ctx, th, 5, map[string]any{"type": "compaction", "encrypted_content": "xyz"}, &chatstore.CompactOptions{TokenCount: 12}))
	eq(t, "second summary id", sid, int64(2))
	sums := must(s.Summaries(ctx, th))
	eq(t, "summaries", len(sums), 2)
	eq(t, "up_to_seq", []int64{sums[0].UpToSeq, sums[1].UpToSeq}, []int64{4, 5})
	if sums[1].TokenCount == nil || *sums[1].TokenCount != 12 {
		t.Fatalf("token_count: %v", sums[1].TokenCount)
	}
	sameJSON(t, "opaque item kept", sums[1].Summary, `{"type": "compaction", "encrypted_content": "xyz"}`)
	// an opaque item is left out of the chat format
	sameJSON(t, "context with an opaque summary", must(s.Context(ctx, th, nil)),
		`[{"role": "system", "content": "sys"}, {"role": "user", "content": "e"}]`)
	_, err := s.Compact(ctx, th, 99, "x", nil)
	isErr(t, err, chatstore.ErrInvalidArgument)
}

func TestFeedback(t *testing.T) {
	begin(t)
	alice := chatstore.New(pool).ForUser("alice")
	th := id("feedback")
	must(alice.SaveMessages(ctx, th, []chatstore.ChatMessage{{ID: "u", Role: "user", Content: "q"}, {ID: "a", Role: "assistant", Content: "ans"}}))
	f := must(alice.SetFeedback(ctx, th, "a", -1, &chatstore.FeedbackOptions{Tag: "wrong", Comment: "The date is off."}))
	eq(t, "feedback", []any{f.ThreadID, f.MessageID, f.UserID, f.Rating, f.Tag, f.Comment},
		[]any{th, "a", "alice", -1, "wrong", "The date is off."})
	f = must(alice.SetFeedback(ctx, th, "a", 1, nil)) // replaces
	eq(t, "replaced", []any{f.Rating, f.Tag}, []any{1, ""})
	// trusted code may name another rater
	trusted := chatstore.New(pool)
	must(trusted.SetFeedback(ctx, th, "u", 5, &chatstore.FeedbackOptions{Rater: "reviewer"}))
	fs := must(alice.ListFeedback(ctx, th))
	eq(t, "list (message order)", len(fs), 2)
	eq(t, "list order and raters", []any{fs[0].MessageID, fs[0].UserID, fs[0].Rating, fs[1].MessageID, fs[1].UserID, fs[1].Rating},
		[]any{"u", "reviewer", 5, "a", "alice", 1})
	eq(t, "delete", must(alice.DeleteFeedback(ctx, th, "a", "")), true)
	eq(t, "delete again", must(alice.DeleteFeedback(ctx, th, "a", "")), false)
	eq(t, "delete other rater", must(trusted.DeleteFeedback(ctx, th, "u", "reviewer")), true)
	eq(t, "empty", len(must(alice.ListFeedback(ctx, th))), 0)
	_, err := alice.SetFeedback(ctx, th, "nope", 1, nil)
	isErr(t, err, chatstore.ErrNotFound)
	// an unmapped SQLSTATE comes back as the driver's error
	_, err = alice.SetFeedback(ctx, th, "a", 11, nil)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "22003" {
		t.Fatalf("rating 11: %v", err)
	}
}

// The Store over a *pgx.Conn and inside a pgx.Tx.
func TestStoreOnConnAndTx(t *testing.T) {
	begin(t)
	conn := acquireConn(t)
	s := chatstore.New(conn)
	th := id("conn")
	must(s.SaveMessages(ctx, th, []chatstore.ChatMessage{chatstore.UserMessage("on a conn")}))
	eq(t, "conn history", contents(must(s.History(ctx, th, nil))), []string{"on a conn"})

	tx := beginTx(t)
	st := chatstore.New(tx)
	th2 := id("tx")
	must(st.SaveMessages(ctx, th2, []chatstore.ChatMessage{chatstore.UserMessage("in a tx")}))
	eq(t, "inside the tx", len(must(st.History(ctx, th2, nil))), 1)
	eq(t, "outside the tx", len(must(chatstore.New(pool).History(ctx, th2, nil))), 0)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	eq(t, "rolled back", len(must(chatstore.New(pool).History(ctx, th2, nil))), 0)
}

func TestStoreAccessorsAndErrorText(t *testing.T) {
	begin(t)
	s := chatstore.New(pool)
	eq(t, "no user", s.UserID(), "")
	a := s.ForUser("alice")
	eq(t, "user", a.UserID(), "alice")
	if a.DB() != chatstore.DB(pool) {
		t.Fatal("DB() is not the pool")
	}
	_, err := s.SaveMessages(ctx, "", []chatstore.ChatMessage{chatstore.UserMessage("x")})
	var ce *chatstore.Error
	if !errors.As(err, &ce) || ce.Kind != chatstore.ErrInvalidArgument || ce.Message == "" {
		t.Fatalf("error: %#v", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "chatstore: invalid argument: ") || !strings.Contains(msg, "(SQLSTATE 22023)") {
		t.Fatalf("error text: %q", msg)
	}
}
