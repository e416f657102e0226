// LangChain.js chat message history on chatstore: a BaseListChatMessageHistory
// (@langchain/core) whose messages are chatstore messages of one thread.
//
//   addMessages  one chat_save_messages call (ids: the message's own id, else a new uuid,
//                so that a message repeated on purpose is stored again)
//   getMessages  chat_history (the thread's active path)
//   clear        chat_delete_thread + chat_create_thread in one transaction
//
// Each message is stored with role, content (string or content parts),
// tool_calls, tool_call_id and name in chatstore's columns (what chat_context
// sends to a model), and LangChain's own serialized form
// (mapChatMessagesToStoredMessages) in metadata.langchain, which getMessages
// revives: additional_kwargs, response_metadata, usage_metadata, tool call ids
// and the message class come back as they were.
import { randomUUID } from 'node:crypto';
import { BaseListChatMessageHistory } from '@langchain/core/chat_history';
import {
  type BaseMessage, type StoredMessage, AIMessage, HumanMessage, SystemMessage, ToolMessage, ChatMessage,
  mapChatMessagesToStoredMessages, mapStoredMessagesToChatMessages,
} from '@langchain/core/messages';
import { ChatStore, type MessageInput, type Message, type Queryable } from './index.js';

export interface ChatstoreChatMessageHistoryOptions {
  db: Queryable;
  threadId: string;
  userId?: string | null;
  /** read only the newest N messages */
  maxMessages?: number | null;
}

const ROLE_OF: Record<string, string> = { human: 'user', ai: 'assistant', system: 'system', tool: 'tool', developer: 'developer', function: 'function' };

/** The chatstore role of a LangChain message (toChatstoreMessage's). */
export function chatstoreRole(m: BaseMessage): string {
  const type = m.getType();
  return type === 'generic' ? String((m as ChatMessage).role ?? 'user') : (ROLE_OF[type] ?? 'user');
}

/** The chatstore message JSON of a LangChain message. */
export function toChatstoreMessage(m: BaseMessage): MessageInput {
  const [stored] = mapChatMessagesToStoredMessages([m]);
  const type = m.getType();
  const role = chatstoreRole(m);
  const out: MessageInput = {
    id: m.id ?? randomUUID(),
    role,
    content: typeof m.content === 'string' ? m.content : (m.content as unknown[]),
    metadata: { langchain: stored as unknown as Record<string, unknown> },
  };
  if (m.name) out.name = m.name;
  const ai = m as AIMessage;
  if (type === 'ai' && ai.tool_calls && ai.tool_calls.length > 0) {
    out.tool_calls = ai.tool_calls.map((tc) => ({ id: tc.id, type: 'tool_call', name: tc.name, args: tc.args }));
    if (ai.usage_metadata) out.usage = ai.usage_metadata as unknown as Record<string, unknown>;
  } else if (type === 'ai' && ai.usage_metadata) {
    out.usage = ai.usage_metadata as unknown as Record<string, unknown>;
  }
  if (type === 'tool') out.tool_call_id = (m as ToolMessage).tool_call_id;
  return out;
}

/** The LangChain message of a chatstore row (its stored LangChain form when there is one). */
export function fromChatstoreMessage(row: Message): BaseMessage {
  const stored = (row.metadata as Record<string, unknown> | null)?.langchain as StoredMessage | undefined;
  if (stored && typeof stored === 'object' && stored.type && stored.data) {
    const [m] = mapStoredMessagesToChatMessages([stored]);
    return m;
  }
  const content = (row.parts as BaseMessage['content'] | null) ?? row.content ?? '';
  const base = { id: row.id, content: content as string, name: row.name ?? undefined };
  switch (row.role) {
    case 'user': return new HumanMessage(base);
    case 'system': case 'developer': return new SystemMessage(base);
    case 'tool': return new ToolMessage({ ...base, tool_call_id: row.tool_call_id ?? '' });
    case 'assistant': {
      const calls = (row.tool_calls ?? []) as Array<Record<string, any>>;
      return new AIMessage({
        ...base,
        tool_calls: calls.map((c) => c.function
          ? { id: c.id, name: c.function.name, args: safeParse(c.function.arguments), type: 'tool_call' as const }
          : { id: c.id, name: c.name, args: c.args ?? {}, type: 'tool_call' as const }),
      });
    }
    default: return new ChatMessage({ ...base, role: row.role });
  }
}

function safeParse(s: unknown): Record<string, unknown> {
  if (typeof s !== 'string') return (s as Record<string, unknown>) ?? {};
  try { return JSON.parse(s); } catch { return { arguments: s }; }
}

export class ChatstoreChatMessageHistory extends BaseListChatMessageHistory {
  lc_namespace = ['chatstore', 'stores', 'message'];
  readonly store: ChatStore;
  readonly threadId: string;
  readonly userId: string | null;
  readonly maxMessages: number | null;

  constructor(opts: ChatstoreChatMessageHistoryOptions) {
    super(opts);
    this.store = new ChatStore(opts.db);
    this.threadId = opts.threadId;
    this.userId = opts.userId ?? null;
    this.maxMessages = opts.maxMessages ?? null;
  }

  async getMessages(): Promise<BaseMessage[]> {
    const rows = await this.store.history(this.threadId, { maxMessages: this.maxMessages });
    return rows.map(fromChatstoreMessage);
  }

  async addMessage(message: BaseMessage): Promise<void> {
    await this.addMessages([message]);
  }

  async addMessages(messages: BaseMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.store.saveMessages(this.threadId, messages.map(toChatstoreMessage), { userId: this.userId });
  }

  /** Deletes the thread and creates it again, empty (a deleted thread refuses saves with CS002). */
  async clear(): Promise<void> {
    await this.store.resetThread(this.threadId, { userId: this.userId });
  }
}
