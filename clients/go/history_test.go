package chatstore_test

import (
	"testing"

	chatstore "chatstore/clients/go"
)

func TestChatHistory(t *testing.T) {
	begin(t)
	th := id("history")
	h := chatstore.NewChatHistory(pool, th, "alice")
	eq(t, "thread id", h.ThreadID(), th)
	eq(t, "empty before the first save", len(must(h.Messages(ctx))), 0)

	r := must(h.AddMessages(ctx, chatstore.SystemMessage("Be brief."), chatstore.UserMessage("hi")))
	eq(t, "add", []any{r.SavedCount, r.FirstSeq, r.LastSeq}, []any{2, int64(1), int64(2)})
	must(h.AddAIMessage(ctx, "hello"))
	must(h.AddUserMessage(ctx, "bye"))
	eq(t, "no messages is no call", must(h.AddMessages(ctx)).SavedCount, 0)
	ms := must(h.Messages(ctx))
	eq(t, "messages", contents(ms), []string{"Be brief.", "hi", "hello", "bye"})
	eq(t, "roles", []string{ms[0].Role, ms[1].Role, ms[2].Role, ms[3].Role}, []string{"system", "user", "assistant", "user"})
	eq(t, "owner", ms[0].UserID, "alice")
	// ids make repeats exact
	must(h.AddMessages(ctx, chatstore.ChatMessage{ID: "ok1", Role: "user", Content: "ok"}))
	must(h.AddMessages(ctx, chatstore.ChatMessage{ID: "ok2", Role: "user", Content: "ok"}))
	must(h.AddMessages(ctx, chatstore.ChatMessage{ID: "ok2", Role: "user", Content: "ok"}))
	eq(t, "with ids", len(must(h.Messages(ctx))), 6)

	// Clear keeps the thread (id, owner, title, metadata), empty
	s := chatstore.New(pool).ForUser("alice")
	title := "Kept"
	must(s.UpdateThread(ctx, th, chatstore.ThreadUpdate{Title: &title, Metadata: map[string]any{"k": "v"}}))
	if err := h.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	eq(t, "cleared", len(must(h.Messages(ctx))), 0)
	thr := must(s.GetThread(ctx, th))
	eq(t, "thread kept", []any{thr.Title, thr.UserID, thr.MessageCount}, []any{"Kept", "alice", int64(0)})
	sameJSON(t, "metadata kept", thr.Metadata, `{"k": "v"}`)
	r = must(h.AddUserMessage(ctx, "again"))
	eq(t, "seq restarts", r.FirstSeq, int64(1))

	// a thread deleted by someone else refuses adds until Clear
	must(s.DeleteThread(ctx, th))
	_, err := h.AddUserMessage(ctx, "lost?")
	isErr(t, err, chatstore.ErrThreadDeleted)
	if err := h.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	must(h.AddUserMessage(ctx, "back"))
	eq(t, "after clear", contents(must(h.Messages(ctx))), []string{"back"})

	// another user's thread cannot be cleared or added to
	mallory := chatstore.NewChatHistory(pool, th, "mallory")
	isErr(t, mallory.Clear(ctx), chatstore.ErrAlreadyExists)
	_, err = mallory.AddUserMessage(ctx, "x")
	isErr(t, err, chatstore.ErrForbidden)
	eq(t, "untouched", contents(must(h.Messages(ctx))), []string{"back"})

	// Clear of a thread never saved makes it
	fresh := chatstore.New(pool).ChatHistory(id("fresh"))
	if err := fresh.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	must(chatstore.New(pool).GetThread(ctx, fresh.ThreadID()))
}

// Clear on a DB without Begin (a wrapper exposing only the DB methods) and
// inside a caller's transaction.
func TestChatHistoryOnTxAndPlainDB(t *testing.T) {
	begin(t)
	th := id("history-tx")
	plain := struct{ chatstore.DB }{pool}
	h := chatstore.NewChatHistory(plain, th, "")
	must(h.AddUserMessage(ctx, "one"))
	if err := h.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	eq(t, "cleared without a transaction", len(must(h.Messages(ctx))), 0)

	must(h.AddUserMessage(ctx, "two"))
	tx := beginTx(t)
	htx := chatstore.NewChatHistory(tx, th, "")
	if err := htx.Clear(ctx); err != nil { // a savepoint inside tx
		t.Fatal(err)
	}
	eq(t, "cleared in the tx", len(must(htx.Messages(ctx))), 0)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	eq(t, "rolled back", contents(must(h.Messages(ctx))), []string{"two"})
}
