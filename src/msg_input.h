/*
 * msg_input.h
 *		Reading and validating the messages of a save call.
 */
#ifndef CHATSTORE_MSG_INPUT_H
#define CHATSTORE_MSG_INPUT_H

#include "postgres.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "chatstore.h"

/* one message as read from the input, plus what the write path decides */
typedef struct ChatMsgIn
{
	int			index;			/* position in the input array (0-based) */
	char	   *id;				/* NULL when the client gave none */
	const char *role;			/* canonical role (static string) */
	text	   *content;		/* NULL when null */
	Jsonb	   *parts;			/* the content array, when content was one */
	text	   *name;
	text	   *model;
	Jsonb	   *tool_calls;		/* NULL when absent, null or [] */
	text	   *tool_call_id;
	Jsonb	   *metadata;		/* NULL means {} */
	Jsonb	   *usage;
	text	   *parent_id;
	bool		has_token_count;
	int32		token_count;
	bool		has_created_at;
	TimestampTz created_at;
	ChatUsage	tokens;			/* sums read from usage */
	int64		fingerprint;

	/* decided by the write path */
	bool		skip;
	char	   *final_id;
	int64		seq;
} ChatMsgIn;

/*
 * Read a JSON array of message objects; every error names the element.
 * Returns the number of messages; *out is palloc'd in CurrentMemoryContext.
 */
extern int	chatstore_read_messages(Jsonb *messages, ChatMsgIn **out);

/* canonical role for a role or LangChain type name; NULL when unknown */
extern const char *chatstore_canonical_role(const char *s, int len);

/*
 * Fill in what is derived from the fields: token sums from usage, the
 * token_count fallback, the fingerprint.  Checks the content size limit.
 */
extern void chatstore_finish_message(ChatMsgIn *m);

/* the id given, or an error when it is empty or too long */
extern char *chatstore_check_id(const char *s, int len, const char *what, int index);

#endif							/* CHATSTORE_MSG_INPUT_H */
