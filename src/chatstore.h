/*
 * chatstore.h
 *		Declarations shared by the chatstore C files.
 *
 * One file per concern:
 *	chatstore.c		module init, settings, updated_at trigger, usage helper
 *	spi_util.c		extension schema lookup, kept SPI plans, array building
 *	msg_input.c		reading and validating message JSON
 *	save.c			the write path: chat_save_messages, chat_add_message
 *	history.c		the read path: chat_history
 */
#ifndef CHATSTORE_H
#define CHATSTORE_H

#include "postgres.h"
#include "utils/jsonb.h"

/* fixed limits (the CHECK constraints of the schema say the same) */
#define CHATSTORE_MAX_ID_BYTES 512

/* settings (chatstore.c) */
extern int	chatstore_max_batch_messages;
extern int	chatstore_max_message_bytes;
extern bool chatstore_notify;
extern bool chatstore_touch_updated_at;
extern char *chatstore_tenant;

#define CHATSTORE_NOTIFY_CHANNEL "chatstore_messages"

/* token sums read from a message's usage object */
typedef struct ChatUsage
{
	int64		prompt;			/* input_tokens | prompt_tokens */
	int64		completion;		/* output_tokens | completion_tokens */
	int64		total;			/* total_tokens, else prompt + completion */
	bool		has_completion;
} ChatUsage;

extern void chatstore_read_usage(JsonbContainer *usage, ChatUsage *out, int index);

#endif							/* CHATSTORE_H */
