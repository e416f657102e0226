/*
 * msg_input.h
 *		Reading and validating the messages of a save call.
 */
#ifndef CHATSTORE_MSG_INPUT_H
#define CHATSTORE_MSG_INPUT_H

#include "postgres.h"
#include "common/cryptohash.h"
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
	text	   *name;
	text	   *model;
	text	   *tool_call_id;
	text	   *parent_id;

	/*
	 * JSON fields.  Read from a batch, they stay in the input (the *_v
	 * values, jbvBinary, or jbvNull when absent) until the message is known
	 * to be inserted: chatstore_materialize() then makes the Jsonb datums.
	 */
	JsonbValue	parts_v;		/* the content array, when content was one */
	JsonbValue	tool_calls_v;	/* absent when null or [] */
	JsonbValue	metadata_v;		/* absent means {} */
	JsonbValue	usage_v;
	JsonbValue	item_v;			/* a Responses item, without what the
								 * columns keep (see read_item) */
	Jsonb	   *parts;
	Jsonb	   *tool_calls;
	Jsonb	   *metadata;
	Jsonb	   *usage;
	Jsonb	   *item;

	bool		has_token_count;
	int32		token_count;
	bool		has_created_at;
	TimestampTz created_at;
	ChatUsage	tokens;			/* sums read from usage */
	bool		has_fingerprint;
	int64		fingerprint;	/* version 2, see chatstore_fingerprint() */

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
 * Check and derive what the fields imply: the content size limit, token sums
 * from usage, the token_count fallback.
 */
extern void chatstore_finish_message(ChatMsgIn *m);

/* make the Jsonb datums of a message that is going to be inserted */
extern void chatstore_materialize(ChatMsgIn *m);

/*
 * The message's fingerprint (computed once): a digest of role, content (or
 * parts), name, tool_call_id and tool_calls, which decides whether two
 * id-less messages are "the same message".  Version 2, defined in
 * msg_input.c (a stable, documented SHA-256 based digest).  ctx: a SHA-256
 * context to reuse, or NULL for a temporary one.
 */
#define CHATSTORE_FINGERPRINT_VERSION 2
extern int64 chatstore_fingerprint(ChatMsgIn *m, pg_cryptohash_ctx *ctx);

/*
 * Fingerprint version 2 of the given fields (any may be NULL; parts, when
 * not NULL, stands for the content; item is NULL for a chat message).  ctx
 * as above.
 */
extern int64 chatstore_fingerprint_v2(pg_cryptohash_ctx *ctx, const char *role, int rolelen,
									  text *content, JsonbContainer *parts, text *name,
									  text *tool_call_id, JsonbContainer *tool_calls,
									  JsonbContainer *item);

/*
 * Check every element of a tool_calls array (an OpenAI or a LangChain tool
 * call, see msg_input.c); index >= 0 names the batch element in errors.
 */
extern void chatstore_check_tool_calls(JsonbContainer *arr, int index);

/* the id given, or an error when it is empty or too long */
extern char *chatstore_check_id(const char *s, int len, const char *what, int index);

#endif							/* CHATSTORE_MSG_INPUT_H */
