package chatstore

import (
	"context"
	"encoding/json"
	"time"
)

// StreamStartOptions: zero values take the defaults (role assistant, a
// uuid id).
type StreamStartOptions struct {
	Role      string
	MessageID string
	Model     string
	Metadata  any
}

// StreamRef is the message a stream writes.
type StreamRef struct {
	ID  string
	Seq int64
}

// StreamStart starts a streamed message (chat_stream_start): an empty
// message with status in_progress. The id of a stream still in progress
// resumes it; another existing id is ErrAlreadyExists. opts may be nil.
func (s *Store) StreamStart(ctx context.Context, threadID string, opts *StreamStartOptions) (StreamRef, error) {
	c := newCall("chat_stream_start").pos(threadID)
	if opts != nil {
		metadata, err := jsonArg(opts.Metadata)
		if err != nil {
			return StreamRef{}, err
		}
		c.namedIf(opts.Role != "", "role", opts.Role).
			namedIf(opts.MessageID != "", "message_id", opts.MessageID).
			namedIf(opts.Model != "", "model", opts.Model).
			namedIf(metadata != nil, "metadata", metadata)
	}
	c.named("user_id", nullable(s.userID))
	var r StreamRef
	if err := s.db.QueryRow(ctx, c.from("id, seq"), c.args...).Scan(&r.ID, &r.Seq); err != nil {
		return StreamRef{}, mapErr(err)
	}
	return r, nil
}

// StreamAppend appends text to a message being streamed
// (chat_stream_append) and returns the length (characters) of its text so
// far; ErrNotStreaming when it is not in_progress.
func (s *Store) StreamAppend(ctx context.Context, threadID, messageID, delta string) (int64, error) {
	var n int64
	err := newCall("chat_stream_append").pos(threadID).pos(messageID).pos(delta).pos(nullable(s.userID)).
		scalar(ctx, s.db, &n)
	return n, err
}

// StreamChunk is what chat_stream_read gives: the text from the offset
// asked for, the message's status and its length so far.
type StreamChunk struct {
	Status    string
	Text      string
	EndOffset int64
}

// StreamRead reads a streamed message's text from character fromOffset on
// (chat_stream_read); ErrNotFound when the message is not there or not the
// user's.
func (s *Store) StreamRead(ctx context.Context, threadID, messageID string, fromOffset int64) (StreamChunk, error) {
	c := newCall("chat_stream_read").pos(threadID).pos(messageID).pos(fromOffset).pos(nullable(s.userID))
	var ch StreamChunk
	var status, text *string
	if err := s.db.QueryRow(ctx, c.from("status, text, end_offset"), c.args...).Scan(&status, &text, &ch.EndOffset); err != nil {
		return StreamChunk{}, mapErr(err)
	}
	ch.Status, ch.Text = str(status), str(text)
	return ch, nil
}

// StreamFinishOptions: Status "" is completed (else incomplete or
// failed); Usage is counted in the thread's token sums.
type StreamFinishOptions struct {
	Status       string
	FinishReason string
	Usage        any
}

// StreamFinish finishes a stream (chat_stream_finish) and returns the
// message; ErrNotStreaming when it is not in_progress. opts may be nil.
func (s *Store) StreamFinish(ctx context.Context, threadID, messageID string, opts *StreamFinishOptions) (Message, error) {
	c := newCall("chat_stream_finish").pos(threadID).pos(messageID)
	if opts != nil {
		usage, err := jsonArg(opts.Usage)
		if err != nil {
			return Message{}, err
		}
		c.namedIf(opts.Status != "", "status", opts.Status).
			namedIf(opts.FinishReason != "", "finish_reason", opts.FinishReason).
			namedIf(usage != nil, "usage", usage)
	}
	c.named("user_id", nullable(s.userID))
	m, err := scanMessage(s.db.QueryRow(ctx, c.from(messageCols), c.args...))
	if err != nil {
		return Message{}, mapErr(err)
	}
	return m, nil
}

// CompactOptions: TokenCount is what the summary counts against a budget
// (0: the default, its JSON length / 4).
type CompactOptions struct {
	TokenCount int
}

// Compact stores a summary standing for the messages up to upToSeq
// (chat_compact) and returns its id. summary is a Go string (a system
// message with that text), a chat message or an item (a map, struct or
// json.RawMessage). opts may be nil.
func (s *Store) Compact(ctx context.Context, threadID string, upToSeq int64, summary any, opts *CompactOptions) (int64, error) {
	sum, err := jsonArg(summary)
	if err != nil {
		return 0, err
	}
	c := newCall("chat_compact").pos(threadID).pos(upToSeq).pos(sum).pos(nullable(s.userID))
	if opts != nil && opts.TokenCount != 0 {
		c.named("token_count", opts.TokenCount)
	}
	var id int64
	err = c.scalar(ctx, s.db, &id)
	return id, err
}

// Summary is a row of chat_summaries.
type Summary struct {
	ID         int64
	UpToSeq    int64
	Summary    json.RawMessage
	TokenCount *int
	CreatedAt  time.Time
}

// Summaries are the thread's summaries, oldest first (chat_summaries).
func (s *Store) Summaries(ctx context.Context, threadID string) ([]Summary, error) {
	c := newCall("chat_summaries").pos(threadID).pos(nullable(s.userID))
	rows, err := s.db.Query(ctx, c.from("id, up_to_seq, summary, token_count, created_at")+" ORDER BY id", c.args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []Summary{}
	for rows.Next() {
		var sm Summary
		var b []byte
		if err := rows.Scan(&sm.ID, &sm.UpToSeq, &b, &sm.TokenCount, &sm.CreatedAt); err != nil {
			return nil, mapErr(err)
		}
		sm.Summary = rawJSON(b)
		out = append(out, sm)
	}
	return out, mapErr(rows.Err())
}

// FeedbackOptions: an optional tag (1 to 64 bytes) and comment, and the
// rater, which only a Store without a user may name (else the rater is
// the thread's owner).
type FeedbackOptions struct {
	Tag     string
	Comment string
	Rater   string
}

// Feedback is a row of chat_feedback.
type Feedback struct {
	ThreadID  string
	MessageID string
	UserID    string // the rater
	Rating    int
	Tag       string
	Comment   string
	CreatedAt time.Time
	UpdatedAt time.Time
}

const feedbackCols = "thread_id, message_id, user_id, rating, tag, comment, created_at, updated_at"

func scanFeedback(r scanner) (Feedback, error) {
	var f Feedback
	var tag, comment *string
	err := r.Scan(&f.ThreadID, &f.MessageID, &f.UserID, &f.Rating, &tag, &comment, &f.CreatedAt, &f.UpdatedAt)
	f.Tag, f.Comment = str(tag), str(comment)
	return f, err
}

// SetFeedback rates a message (chat_set_feedback): 1 up, -1 down, or
// -10..10; a second call by the same rater replaces the first. opts may
// be nil.
func (s *Store) SetFeedback(ctx context.Context, threadID, messageID string, rating int, opts *FeedbackOptions) (Feedback, error) {
	c := newCall("chat_set_feedback").pos(threadID).pos(messageID).pos(rating)
	if opts != nil {
		c.namedIf(opts.Tag != "", "tag", opts.Tag).
			namedIf(opts.Comment != "", "comment", opts.Comment).
			namedIf(opts.Rater != "", "rater", opts.Rater)
	}
	c.named("user_id", nullable(s.userID))
	f, err := scanFeedback(s.db.QueryRow(ctx, c.from(feedbackCols), c.args...))
	if err != nil {
		return Feedback{}, mapErr(err)
	}
	return f, nil
}

// DeleteFeedback removes a rater's feedback on a message
// (chat_delete_feedback); false when there was none. rater "" is the
// thread's owner.
func (s *Store) DeleteFeedback(ctx context.Context, threadID, messageID, rater string) (bool, error) {
	var ok bool
	err := newCall("chat_delete_feedback").pos(threadID).pos(messageID).pos(nullable(s.userID)).pos(nullable(rater)).
		scalar(ctx, s.db, &ok)
	return ok, err
}

// ListFeedback is the feedback on a thread's messages, in message order
// (chat_list_feedback).
func (s *Store) ListFeedback(ctx context.Context, threadID string) ([]Feedback, error) {
	c := newCall("chat_list_feedback").pos(threadID).pos(nullable(s.userID))
	rows, err := s.db.Query(ctx, c.from(feedbackCols), c.args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []Feedback{}
	for rows.Next() {
		f, err := scanFeedback(rows)
		if err != nil {
			return nil, mapErr(err)
		}
		out = append(out, f)
	}
	return out, mapErr(rows.Err())
}
