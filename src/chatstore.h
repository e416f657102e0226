/*
 * chatstore.h
 *		Declarations shared by the chatstore C files.
 *
 * One file per concern:
 *	chatstore.c		module init, settings, updated_at trigger, usage helper,
 *					tenant confinement, small internal SQL helpers
 *	spi_util.c		extension schema lookup, kept SPI plans, array building
 *	msg_input.c		reading and validating message JSON, fingerprints
 *	save.c			the write path: chat_save_messages, chat_add_message
 *	history.c		the read path: chat_history
 */
#ifndef CHATSTORE_H
#define CHATSTORE_H

#include "postgres.h"
#include "datatype/timestamp.h"
#include "utils/jsonb.h"

/* fixed limits (the CHECK constraints of the schema say the same) */
#define CHATSTORE_MAX_ID_BYTES 512

/*
 * The largest value chatstore.max_batch_messages accepts.  A batch's
 * per-message arrays (ChatMsgIn is ~300 bytes) must stay well below what one
 * allocation may be, so that the limit, not the allocator, refuses a batch.
 */
#define CHATSTORE_MAX_BATCH_LIMIT 1000000

/* settings (chatstore.c) */
extern int	chatstore_max_batch_messages;
extern int	chatstore_max_message_bytes;
extern int	chatstore_tombstone_retention;

/* chatstore's own SQLSTATEs (class CS; doc/limits-errors-settings.md) */
#define ERRCODE_CHATSTORE_THREAD_DELETED MAKE_SQLSTATE('C', 'S', '0', '0', '2')
extern bool chatstore_notify;
extern bool chatstore_delegate_saves;
extern char *chatstore_tenant;

#define CHATSTORE_NOTIFY_CHANNEL "chatstore_messages"
#define CHATSTORE_STREAM_CHANNEL "chatstore_stream"

/* token sums read from a message's usage object */
typedef struct ChatUsage
{
	int64		prompt;			/* input_tokens | prompt_tokens */
	int64		completion;		/* output_tokens | completion_tokens */
	int64		total;			/* total_tokens, else prompt + completion */
	bool		has_completion;
} ChatUsage;

extern void chatstore_read_usage(JsonbContainer *usage, ChatUsage *out, int index);

/*
 * An array of n elements of elemsize bytes (zeroed when zero), allocated
 * overflow-safely in CurrentMemoryContext; it may exceed 1 GB (the batch
 * limit bounds n).  n < 1 gets room for one element.
 */
extern void *chatstore_alloc_array(Size elemsize, int64 n, bool zero);

/*
 * The tenant the calling role is confined to, or NULL when it is not
 * confined.  Confined means what row-level security would do on
 * nsp.chat_threads for the outer user (the session's role, or the one of
 * SET ROLE; not the owner of a SECURITY DEFINER function running now): the
 * table has row-level security on, and that user is neither a superuser,
 * nor BYPASSRLS, nor the table's owner (unless FORCE ROW LEVEL SECURITY).
 * The result is the setting chatstore.tenant, "" when it is not set.  Costs
 * syscache lookups, no query.
 */
extern const char *chatstore_confined_tenant(Oid nsp);

/*
 * A delegated call (Citus, chatstore 1.7): inside one, the calling
 * session's confined tenant and transaction time, which came with the call
 * (chatstore.c, _chat_delegated_enter)
 */
extern bool chatstore_in_delegated_call(void);
extern TimestampTz chatstore_now(void);
extern void chatstore_send_notify(const char *channel, const char *payload);
extern int	chatstore_enter_session_values(const char *tenant, const char *time_zone,
										   int max_batch_messages, int max_message_bytes,
										   int notify);

#endif							/* CHATSTORE_H */
