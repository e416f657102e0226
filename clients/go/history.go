package chatstore

import (
	"context"
	"errors"
)

// ChatHistory is one thread as a chat message history (LangChain's
// BaseChatMessageHistory shape): AddMessages, Messages, Clear.
type ChatHistory struct {
	store    *Store
	threadID string
}

// NewChatHistory is the history of threadID, owned by userID ("" for no
// owner).
func NewChatHistory(db DB, threadID, userID string) *ChatHistory {
	return &ChatHistory{store: New(db).ForUser(userID), threadID: threadID}
}

// ChatHistory is the history of threadID as the Store's user.
func (s *Store) ChatHistory(threadID string) *ChatHistory {
	return &ChatHistory{store: s, threadID: threadID}
}

// ThreadID is the history's thread.
func (h *ChatHistory) ThreadID() string { return h.threadID }

// AddMessages saves messages (chat_save_messages; the thread is created on
// the first save). Messages with ids are stored once whatever is re-sent;
// messages without ids are deduplicated by alignment (a re-sent tail is
// skipped), so give ids when the same text may follow itself. After
// someone else's DeleteThread it is ErrThreadDeleted until Clear.
func (h *ChatHistory) AddMessages(ctx context.Context, messages ...ChatMessage) (SaveResult, error) {
	if len(messages) == 0 {
		return SaveResult{SavedIDs: []string{}}, nil
	}
	return h.store.SaveMessages(ctx, h.threadID, messages)
}

// AddUserMessage and AddAIMessage add one text message.
func (h *ChatHistory) AddUserMessage(ctx context.Context, text string) (SaveResult, error) {
	return h.AddMessages(ctx, UserMessage(text))
}

func (h *ChatHistory) AddAIMessage(ctx context.Context, text string) (SaveResult, error) {
	return h.AddMessages(ctx, AssistantMessage(text))
}

// Messages is the thread's messages in order (chat_history); none for a
// thread not saved yet.
func (h *ChatHistory) Messages(ctx context.Context) ([]Message, error) {
	return h.store.History(ctx, h.threadID, nil)
}

// Clear removes every message: the thread is deleted and made again,
// empty, with the same id, owner, title, metadata and state
// (chat_delete_thread then chat_create_thread, in one transaction when
// the DB can begin one). Clearing a thread that does not exist (or was
// deleted) makes it, so saves into it work again.
func (h *ChatHistory) Clear(ctx context.Context) error {
	return inTx(ctx, h.store.db, func(db DB) error {
		s := New(db).ForUser(h.store.userID)
		nt := NewThread{ID: h.threadID}
		t, err := s.GetThread(ctx, h.threadID)
		switch {
		case err == nil:
			nt.Title, nt.Metadata, nt.State = t.Title, t.Metadata, t.State
			if _, err := s.DeleteThread(ctx, h.threadID); err != nil {
				return err
			}
		case !errors.Is(err, ErrNotFound):
			return err
		}
		_, err = s.CreateThread(ctx, nt)
		return err
	})
}
