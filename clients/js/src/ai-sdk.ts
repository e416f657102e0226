// Vercel AI SDK (`ai`) UIMessage persistence on chatstore.
//
// Each UIMessage is one chatstore message:
//   id       the UIMessage's id (chatstore's dedup key)
//   role     its role (system / user / assistant)
//   content  the concatenation of its text parts (what search and chat_context see)
//   metadata {"ui": {"parts": [...the UIMessage's parts, as they are...], "metadata": <its metadata>}}
// loadUIMessages returns the stored parts and metadata, so what is loaded equals what was saved.
//
// The chat route's onFinish re-sends the whole conversation each turn: saveUIMessages is one
// chat_save_messages call that stores only the messages whose ids are new. A message already
// stored whose parts changed (an assistant message continued after a tool approval, with the same
// id) is the last one of the batch: when it was skipped it is updated in place
// (chat_update_message), one more statement only in that case.
import type { UIMessage } from 'ai';
import { ChatStore, type Message, type MessageInput, type Queryable, type SaveResult } from './index.js';

export function uiMessageText(m: UIMessage): string {
  return m.parts.filter((p): p is { type: 'text'; text: string } => p.type === 'text')
    .map((p) => p.text).join('');
}

export function toChatstoreMessage(m: UIMessage): MessageInput {
  const ui: Record<string, unknown> = { parts: m.parts };
  if (m.metadata !== undefined) ui.metadata = m.metadata as unknown;
  return { id: m.id, role: m.role, content: uiMessageText(m), metadata: { ui } };
}

export function fromChatstoreMessage<T extends UIMessage = UIMessage>(row: Message): T {
  const ui = (row.metadata?.ui ?? null) as { parts?: unknown[]; metadata?: unknown } | null;
  const m: Record<string, unknown> = {
    id: row.id,
    role: row.role,
    parts: ui?.parts ?? (row.content ? [{ type: 'text', text: row.content }] : []),
  };
  if (ui && 'metadata' in ui) m.metadata = ui.metadata;
  return m as unknown as T;
}

export class ChatstoreUIMessageStore<T extends UIMessage = UIMessage> {
  readonly store: ChatStore;
  constructor(db: Queryable, readonly opts: { userId?: string | null } = {}) {
    this.store = new ChatStore(db);
  }

  /** Save a conversation (all of it, as onFinish gives it): one chat_save_messages call. */
  async saveUIMessages(chatId: string, messages: T[]): Promise<SaveResult> {
    const r = await this.store.saveMessages(chatId, messages.map(toChatstoreMessage), { userId: this.opts.userId });
    const last = messages[messages.length - 1];
    if (last && !r.savedIds.includes(last.id) && last.role === 'assistant') {
      const m = toChatstoreMessage(last);
      await this.store.updateMessage(chatId, last.id, { content: m.content as string, metadata: m.metadata, userId: this.opts.userId });
    }
    return r;
  }

  /** The conversation as UIMessage[] (the thread's active path), oldest first. */
  async loadUIMessages(chatId: string, opts: { maxMessages?: number } = {}): Promise<T[]> {
    const rows = await this.store.history(chatId, { maxMessages: opts.maxMessages ?? null });
    return rows.map((r) => fromChatstoreMessage<T>(r));
  }

  async createChat(opts: { id?: string; title?: string } = {}): Promise<string> {
    const t = await this.store.createThread({ id: opts.id ?? null, userId: this.opts.userId ?? null, title: opts.title ?? '' });
    return t.id;
  }

  async deleteChat(chatId: string): Promise<boolean> {
    return this.store.deleteThread(chatId, { userId: this.opts.userId });
  }
}
