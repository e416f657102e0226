#!/usr/bin/python3
"""Property test of tool calls and Responses items in model-ready windows
(chatstore 1.4: chat_save_messages items, chat_items, chat_context formats
'chat' and 'responses', pairing of calls and answers by id, streaming,
chat_compact, chat_history with max_tokens).

Random agent conversations are generated and saved, then read through many
random windows.  A conversation mixes, in one thread:
  * chat messages: user / system / developer (OpenAI role or LangChain type),
    assistant text, assistant messages with 1-3 tool_calls in OpenAI shape
    {id, type: "function", function: {name, arguments}} or LangChain shape
    {name, args, id, type: "tool_call"}, tool answers (role or LangChain
    type 'tool');
  * Responses items: message items (string or part arrays), function_call
    runs (several in a row = parallel calls, sometimes with reasoning items
    between them, sometimes the Agents SDK's callId spelling) answered by
    function_call_output (or the Agents SDK's function_call_result) items,
    reasoning items, custom_tool_call / custom_tool_call_output, other items
    (web_search_call), items carrying the chatstore keys (token_count,
    metadata, model), which are taken out of the stored item;
  * answers in shuffled order, answers deferred and interleaved with other
    messages and with other groups' answers, answers in the other form than
    the call (a chat call answered by an item and the reverse), calls never
    answered, answers whose call id matches nothing, a duplicate answer;
  * streamed messages (chat_stream_start, deltas, sometimes finished with
    completed / incomplete / failed, sometimes left in_progress);
  * compactions (chat_compact at a random up_to_seq, with a string, a chat
    message or a compaction item as summary);
saved in random batch sizes.

After saving: chat_history (seqs, roles, tool_call_id, status) and
chat_items (item rows equal to what was saved less the chatstore keys; chat
rows converted: message item + one function_call per tool call, tool rows one
function_call_output) are compared with the model of the conversation, and
chat_summaries with the summaries given.

Then, for every window (random max_messages / before_seq / after_seq /
max_tokens / include_incomplete), chat_context in both formats, chat_history
with max_tokens and (every 4th window) chat_items are checked:
  pairing   every call in the output has at least one answer in the output,
            every answer has its call in the output and EARLIER than it, and
            a call in the output comes with all of its answers that are in
            the window (chat: tool_calls ids of assistant messages and tool
            messages; responses: call_id / callId of function_call and other
            call items, and of *_output / *_result items; chat_history: an
            assistant row's tool_calls ids and tool_call_id, a tool row's
            tool_call_id);
  adjacency (format 'chat') an assistant message with tool_calls is followed
            by tool messages answering each of its ids before the next
            non-tool message, and every tool message is in such a run: what
            the Chat Completions API requires;
  shape     'chat': valid Chat Completions messages only (role in
            system/developer/user/assistant/tool, only the keys role,
            content, name, tool_calls, tool_call_id, tool_calls in OpenAI
            shape with string arguments equal to what was saved, content
            parts of Chat Completions types), no reasoning or other items;
            'responses': every element has a "type", every element is an
            item chat_items gives for the thread (so an item row is equal to
            what was saved) or the summary, and comes from a row of the
            window (or a leading system message, kept by a budget);
  streaming without include_incomplete no in_progress message;
  history   chat_history with max_tokens: its rows a subsequence of the
            window (plus the leading system messages);
  model     without max_tokens, format 'responses' returns exactly the items
            of the model's window: the window's rows (with a summary: the
            leading system messages up to it, the summary and the newest
            max_messages rows after it; a summary counts when the window has
            no after_seq and reaches past its up_to_seq) less the in_progress
            rows (unless include_incomplete), less the calls not all of whose
            ids are answered in the window and the answers whose call is not
            kept, each row as chat_items gives it; then in the order
            src/sql/10_core.sql documents (each group -- a row and the
            function_call items right after an assistant message -- followed
            by the answers to its calls); format 'chat': the same calls and
            answers, and the same non-tool texts in the same order; chat_items
            on a window equals chat_history's window, converted.

Environment: PGHOST/PGPORT/PGUSER/PGDATABASE; CS_SEED (random by default,
printed: set it to replay a run), CS_CONV (run only conversation k of that
seed), CS_DUMP=1 (print the SQL that builds each conversation run),
PROPERTY_TOOLS_CONVS (210), PROPERTY_TOOLS_WINDOWS (per conversation, 15),
PROPERTY_TOOLS_STRICT (1; 0 reports the checks that go beyond the 1.4
contract's text as KNOWN instead of failing: the Chat Completions adjacency,
and an answer saved before its call coming back before it, which the
contract's pairing "wherever they are" allows and chat_history, in seq
order, cannot avoid), PROPERTY_TOOLS_VERBOSE (3: examples printed per
failure category).
"""
import json
import os
import sys
import time

import psycopg
from psycopg.types.json import Jsonb

N_CONVS = int(os.environ.get("PROPERTY_TOOLS_CONVS", "210"))
N_WINDOWS = int(os.environ.get("PROPERTY_TOOLS_WINDOWS", "15"))
STRICT = os.environ.get("PROPERTY_TOOLS_STRICT", "1") != "0"
VERBOSE = int(os.environ.get("PROPERTY_TOOLS_VERBOSE", "3"))
DUMP = os.environ.get("CS_DUMP", "0") == "1"
ONLY = os.environ.get("CS_CONV")
if os.environ.get("CS_SEED"):
    SEED = int(os.environ["CS_SEED"])
else:
    SEED = int.from_bytes(os.urandom(6), "big")

CHATSTORE_KEYS = ("usage", "metadata", "model", "created_at", "token_count")
CHAT_ROLES = ("system", "developer", "user", "assistant", "tool")
CHAT_KEYS = {"role", "content", "name", "tool_calls", "tool_call_id"}
CHAT_PART_TYPES = {"text", "image_url", "input_audio", "file", "refusal"}
# share of conversations whose calls are numbered per turn (call_0, call_1,
# ...), so that ids repeat across turns
REUSE_IDS = float(os.environ.get("PROPERTY_TOOLS_REUSE_IDS", "0.06"))
ADJACENCY = ("chat: tool messages not right after their assistant call",)
ANSWER_FIRST = "an answer before its call in the output (the answer was saved first)"
# beyond the contract's text (which pairs "wherever they are"): reported as
# KNOWN with PROPERTY_TOOLS_STRICT=0
KNOWABLE = ADJACENCY + tuple(p + ANSWER_FIRST for p in ("chat: ", "responses: ", "chat_history max_tokens: "))


# --------------------------------------------------------------------------
# the random generator: SplitMix64, so a seed replays the same run on any
# Python version
# --------------------------------------------------------------------------
MASK = (1 << 64) - 1


class Rng:
    def __init__(self, seed):
        self.s = seed & MASK

    def next64(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def random(self):
        return (self.next64() >> 11) / float(1 << 53)

    def chance(self, p):
        return self.random() < p

    def randint(self, a, b):
        return a + self.next64() % (b - a + 1)

    def choice(self, seq):
        return seq[self.randint(0, len(seq) - 1)]

    def weighted(self, pairs):
        total = sum(w for w, _ in pairs)
        r = self.random() * total
        for w, v in pairs:
            r -= w
            if r < 0:
                return v
        return pairs[-1][1]

    def shuffle(self, lst):
        for i in range(len(lst) - 1, 0, -1):
            j = self.randint(0, i)
            lst[i], lst[j] = lst[j], lst[i]
        return lst


def conv_seed(k):
    r = Rng(SEED ^ (k * 0x9E3779B97F4A7C15 & MASK))
    r.next64()
    return r.next64()


# --------------------------------------------------------------------------
# reporting
# --------------------------------------------------------------------------
stats = {}
failures = {}           # category -> [count, [examples]]
known = {}
cur_conv = [None]


def count(key, n=1):
    stats[key] = stats.get(key, 0) + n


def fail(category, detail):
    conv = cur_conv[0]
    where = ""
    if conv is not None and conv.reuse_ids:
        category += " [thread reuses call ids]"
    if conv is not None:
        where = "conv %d (thread %s; replay: CS_SEED=%d CS_CONV=%d CS_DUMP=1)\n    " % (
            conv.k, conv.tid, SEED, conv.k)
    if not STRICT and category.split(" [")[0] in KNOWABLE:
        known[category] = known.get(category, 0) + 1
        if known[category] <= VERBOSE:
            print("KNOWN: %s\n    %s%s" % (category, where, detail))
        return
    f = failures.setdefault(category, [0, []])
    f[0] += 1
    if len(f[1]) < VERBOSE:
        f[1].append(detail)
        print("FAIL: %s\n    %s%s" % (category, where, detail), file=sys.stderr)


def short(x, n=900):
    s = json.dumps(x, ensure_ascii=False) if not isinstance(x, str) else x
    return s if len(s) <= n else s[:n] + "...(%d chars)" % len(s)


# --------------------------------------------------------------------------
# the conversation model
# --------------------------------------------------------------------------
class Elem:
    """one stored row, as the model knows it"""

    def __init__(self, kind, payload, role, is_item, calls=(), answer=None, text=None):
        self.kind = kind                  # label for statistics and dumps
        self.payload = payload            # what is sent (None for a stream row)
        self.role = role                  # the row's role
        self.is_item = is_item
        self.calls = list(calls)          # call ids this row makes
        self.answer = answer              # the call id this row answers
        self.text = text                  # text a chat message shows (None: none)
        self.seq = None
        self.stream = None                # {'id', 'text', 'status'} for a streamed row
        if is_item:
            self.item = {k: v for k, v in payload.items() if k not in CHATSTORE_KEYS}
        else:
            self.item = None

    @property
    def in_progress(self):
        return self.stream is not None and self.stream["status"] == "in_progress"

    @property
    def tool_call_id(self):
        if self.answer is not None:
            return self.answer
        if self.is_item and self.calls:
            return self.calls[0]
        return None


class Conv:
    def __init__(self, k):
        self.k = k
        self.seed = conv_seed(k)
        self.rng = Rng(self.seed)
        self.tid = "ptl-%d-%d" % (SEED % 100000, k)
        self.events = []          # ('el', Elem) | ('stream', spec) | ('compact', spec)
        self.calls = {}           # call id -> {'name', 'args', 'args_str', 'form', 'chat'} (the latest)
        self.call_variants = {}   # call id -> every such dict made with that id
        self.reuse_ids = self.rng.chance(REUSE_IDS)
        self.n = 0
        self.rows = []            # Elem in seq order, once saved
        self.summaries = []       # {'up', 'summary', 'text', 'kind'} in the order made
        self.sql = []
        self.notes = set()        # generation features, for the report

    def uniq(self):
        self.n += 1
        return "%d.%d" % (self.k, self.n)


WORDS = ("weather", "Porto", "invoice", "café", "日本", "🦄", "quote \" back \\ slash", "it's",
         "42", "tab\tnew\nline", "ok", "résumé", "$$", "%s", "null", "true", "{}")
NAMES = ("get_weather", "search_docs", "lookup_invoice", "send_mail", "calc", "read_file")


def text(c, tag):
    """unique text: no two rows of a conversation fingerprint alike"""
    words = [c.rng.choice(WORDS) for _ in range(c.rng.randint(0, 12))]
    if c.rng.chance(0.05):
        words.append("x" * c.rng.randint(100, 1500))
    return "%s %s %s" % (tag, c.uniq(), " ".join(words))


def maybe_id(c, p, prefix):
    return prefix + c.uniq().replace(".", "_") if c.rng.chance(p) else None


def chatstore_keys(c, d):
    """sometimes add the keys chatstore takes out of an item"""
    if c.rng.chance(0.15):
        d["token_count"] = c.rng.randint(0, 300)
    if c.rng.chance(0.08):
        d["metadata"] = {"k": c.uniq()}
    if c.rng.chance(0.08):
        d["model"] = "gpt-test"
    return d


def new_args(c):
    args = {"q": text(c, "arg"), "n": c.rng.randint(-5, 1000)}
    if c.rng.chance(0.3):
        args["opts"] = {"deep": c.rng.chance(0.5), "list": [1, "two", None]}
    return args


# ---- plain messages -------------------------------------------------------
def gen_plain(c, role):
    t = text(c, role)
    r = c.rng.random()
    if r < 0.55:
        # chat message
        if role == "user" and c.rng.chance(0.25):
            p = {"role": "user", "content": [{"type": "text", "text": t}]}
        elif c.rng.chance(0.3) and role in ("user", "assistant", "system"):
            p = {"type": {"user": "human", "assistant": "ai", "system": "system"}[role], "content": t}
        else:
            p = {"role": role, "content": t}
        i = maybe_id(c, 0.7, "m")
        if i:
            p["id"] = i
        if c.rng.chance(0.1):
            p["token_count"] = c.rng.randint(0, 300)
        return Elem("chat_" + role, p, role, False, text=t)
    # message item
    p = {"type": "message", "role": role}
    if role == "assistant":
        if c.rng.chance(0.1):
            p["content"] = [{"type": "refusal", "refusal": t}]
        elif c.rng.chance(0.7):
            p["content"] = [{"type": "output_text", "text": t, "annotations": []}]
        else:
            p["content"] = t
        if c.rng.chance(0.5):
            p["status"] = "completed"
    else:
        p["content"] = [{"type": "input_text", "text": t}] if c.rng.chance(0.5) else t
    i = maybe_id(c, 0.5, "msg_")
    if i:
        p["id"] = i
    return Elem("item_message_" + role, chatstore_keys(c, p), role, True, text=t)


def gen_reasoning(c):
    p = {"type": "reasoning", "summary": []}
    if c.rng.chance(0.6):
        p["summary"] = [{"type": "summary_text", "text": text(c, "thought")}]
    if c.rng.chance(0.7):
        p["encrypted_content"] = "gAAAA" + c.uniq()
    i = maybe_id(c, 0.8, "rs_")
    if i:
        p["id"] = i
    else:
        p["summary"].append({"type": "summary_text", "text": text(c, "uniq")})
    return Elem("item_reasoning", chatstore_keys(c, p), "assistant", True)


def gen_other(c):
    p = {"type": "web_search_call", "id": "ws_" + c.uniq().replace(".", "_"), "status": "completed",
         "action": {"type": "search", "query": text(c, "query")}}
    return Elem("item_web_search_call", p, "assistant", True)


# ---- calls and answers ----------------------------------------------------
def new_call(c, form, chat=True, idx=None):
    """a new call; in a conversation that reuses ids (as providers that
    number the calls of a turn do: "call_0", "call_1", ...), idx is its place
    in the turn"""
    if c.reuse_ids and idx is not None:
        cid = "call_%d" % idx
    else:
        cid = "call_" + c.uniq().replace(".", "_")
    args = new_args(c)
    info = {"name": c.rng.choice(NAMES), "args": args, "args_str": None, "form": form, "chat": chat}
    c.calls[cid] = info
    c.call_variants.setdefault(cid, []).append(info)
    return cid, info


def call_problem(c, cid, name, a):
    """None when (name, arguments string a) is what one of the calls with id
    cid was saved with, else what differs"""
    infos = c.call_variants.get(cid)
    if not infos:
        return "unknown call id %s" % cid
    why = None
    for info in infos:
        if name != info["name"]:
            why = why or "name %r, saved %r" % (name, info["name"])
        elif not isinstance(a, str):
            why = why or "arguments not a string: %r" % (a,)
        elif info["args_str"] is not None and a != info["args_str"]:
            why = why or "arguments %r differ from the saved string %r" % (a, info["args_str"])
        else:
            try:
                if json.loads(a) != info["args"]:
                    why = why or "arguments %r do not parse to the saved args %s" % (a, short(info["args"]))
                    continue
            except ValueError:
                why = why or "arguments %r are not JSON" % a
                continue
            return None
    return why


def gen_answer(c, cid, call_form):
    """an answer to call id cid; call_form: 'chat', 'item', 'sdk', 'custom', 'orphan'"""
    t = text(c, "result")
    if call_form == "custom":
        p = {"type": "custom_tool_call_output", "call_id": cid, "output": t}
        return Elem("item_custom_tool_call_output", chatstore_keys(c, p), "tool", True, answer=cid, text=t)
    if call_form == "sdk" and c.rng.chance(0.6):
        p = {"type": "function_call_result", "callId": cid, "name": c.calls[cid]["name"],
             "status": "completed", "output": {"type": "text", "text": t}}
        return Elem("item_function_call_result", p, "tool", True, answer=cid, text=t)
    as_chat = c.rng.chance(0.75 if call_form == "chat" else 0.2 if call_form != "orphan" else 0.5)
    if as_chat:
        if c.rng.chance(0.3):
            p = {"type": "tool", "tool_call_id": cid, "content": t}
        else:
            p = {"role": "tool", "tool_call_id": cid, "content": t}
        if c.rng.chance(0.2) and cid in c.calls:
            p["name"] = c.calls[cid]["name"]
        i = maybe_id(c, 0.5, "m")
        if i:
            p["id"] = i
        return Elem("chat_tool", p, "tool", False, answer=cid, text=t)
    p = {"type": "function_call_output", "call_id": cid,
         "output": [{"type": "input_text", "text": t}] if c.rng.chance(0.2) else t}
    i = maybe_id(c, 0.3, "fco_")
    if i:
        p["id"] = i
    return Elem("item_function_call_output", chatstore_keys(c, p), "tool", True, answer=cid, text=t)


def gen_chat_call_group(c):
    """an assistant chat message with 1-3 tool calls; returns (elements, call ids, form)"""
    n = c.rng.weighted([(5, 1), (3, 2), (2, 3)])
    langchain = c.rng.chance(0.4)
    tcs, cids = [], []
    for j in range(n):
        cid, info = new_call(c, "chat", idx=j)
        lc = (not langchain) if c.rng.chance(0.1) else langchain     # sometimes mixed shapes
        if lc:
            tcs.append({"name": info["name"], "args": info["args"], "id": cid, "type": "tool_call"})
            info["form"] = "chat"
        else:
            s = json.dumps(info["args"], ensure_ascii=c.rng.chance(0.5))
            info["args_str"] = s
            tcs.append({"id": cid, "type": "function", "function": {"name": info["name"], "arguments": s}})
        cids.append(cid)
    content = c.rng.weighted([(4, None), (3, ""), (3, "text")])
    t = None
    if content == "text":
        t = text(c, "assistant-with-calls")
        content = t
    if langchain and c.rng.chance(0.5):
        p = {"type": "ai", "content": content if content is not None else "", "tool_calls": tcs}
    else:
        p = {"role": "assistant", "content": content, "tool_calls": tcs}
    i = maybe_id(c, 0.7, "m")
    if i:
        p["id"] = i
    c.notes.add("langchain tool_calls" if langchain else "openai tool_calls")
    return [Elem("chat_assistant_tool_calls", p, "assistant", False, calls=cids, text=t)], cids, "chat"


def gen_item_call_group(c):
    """[reasoning] [assistant message item] function_call x 1-4 (reasoning between sometimes)"""
    els = []
    if c.rng.chance(0.4):
        els.append(gen_reasoning(c))
    if c.rng.chance(0.2):
        els.append(gen_plain_item_assistant(c))
    sdk = c.rng.chance(0.15)
    n = c.rng.weighted([(4, 1), (3, 2), (2, 3), (1, 4)])
    cids = []
    for j in range(n):
        if j > 0 and c.rng.chance(0.12):
            els.append(gen_reasoning(c))
            c.notes.add("reasoning between parallel function_calls")
        cid, info = new_call(c, "sdk" if sdk else "item", idx=j)
        s = json.dumps(info["args"], ensure_ascii=c.rng.chance(0.5))
        info["args_str"] = s
        p = {"type": "function_call", ("callId" if sdk else "call_id"): cid, "name": info["name"], "arguments": s}
        i = maybe_id(c, 0.6, "fc_")
        if i:
            p["id"] = i
        if c.rng.chance(0.5):
            p["status"] = "completed"
        els.append(Elem("item_function_call" + ("_sdk" if sdk else ""), chatstore_keys(c, p), "assistant", True,
                        calls=[cid]))
        cids.append(cid)
    if n > 1:
        c.notes.add("parallel function_calls")
    return els, cids, "sdk" if sdk else "item"


def gen_plain_item_assistant(c):
    t = text(c, "assistant")
    p = {"type": "message", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": t, "annotations": []}]}
    i = maybe_id(c, 0.5, "msg_")
    if i:
        p["id"] = i
    return Elem("item_message_assistant", p, "assistant", True, text=t)


def gen_custom_call_group(c):
    cid, info = new_call(c, "custom", chat=False)
    p = {"type": "custom_tool_call", "call_id": cid, "name": info["name"], "input": text(c, "input")}
    i = maybe_id(c, 0.5, "ctc_")
    if i:
        p["id"] = i
    return [Elem("item_custom_tool_call", p, "assistant", True, calls=[cid])], [cid], "custom"


def gen_filler(c):
    r = c.rng.random()
    if r < 0.3:
        c.notes.add("reasoning between answers")
        return gen_reasoning(c), "reasoning"
    if r < 0.55:
        return gen_plain(c, "user"), "user message"
    if r < 0.8:
        return gen_plain(c, "assistant"), "assistant text"
    if r < 0.9:
        return gen_plain(c, c.rng.choice(("system", "developer"))), "system/developer message"
    return gen_other(c), "other item"


# ---- a conversation -------------------------------------------------------
def generate(c):
    ev = c.events
    rng = c.rng
    target = rng.randint(4, 48)
    rows = [0]
    pending = []               # (Elem) answers to emit later
    compacts = rng.weighted([(7, 0), (2, 1), (1, 2)])
    streams_left = rng.weighted([(6, 0), (3, 1), (1, 2)])

    def emit(e):
        ev.append(("el", e))
        rows[0] += 1

    if c.reuse_ids:
        c.notes.add("call ids numbered per turn (call_0, ...), so repeated across turns")
    if rng.chance(0.6):
        for _ in range(rng.randint(1, 2)):
            emit(gen_plain(c, rng.choice(("system", "developer", "system"))))
    while rows[0] < target:
        if pending and rng.chance(0.35):
            rng.shuffle(pending)
            k = rng.randint(1, len(pending))
            for e in pending[:k]:
                emit(e)
            del pending[:k]
            continue
        r = rng.random()
        if r < 0.16:
            emit(gen_plain(c, "user"))
        elif r < 0.20:
            emit(gen_plain(c, rng.choice(("system", "developer"))))
        elif r < 0.29:
            if rng.chance(0.3):
                emit(gen_reasoning(c))
            emit(gen_plain(c, "assistant"))
        elif r < 0.33:
            emit(gen_reasoning(c))
        elif r < 0.74:
            if rng.chance(0.06):
                els, cids, form = gen_custom_call_group(c)
            elif rng.chance(0.5):
                els, cids, form = gen_chat_call_group(c)
            else:
                els, cids, form = gen_item_call_group(c)
            answers = [gen_answer(c, cid, form) for cid in cids]
            if rng.chance(0.03):
                c.notes.add("answer saved before its call")
                emit(answers.pop(rng.randint(0, len(answers) - 1)))
            for e in els:
                emit(e)
            if answers and rng.chance(0.07):
                drop = rng.randint(0, len(answers) - 1)
                c.notes.add("a call never answered")
                del answers[drop]
            if answers and rng.chance(0.04):
                j = rng.randint(0, len(answers) - 1)
                answers.insert(j + 1, gen_answer(c, answers[j].answer, form))
                c.notes.add("duplicate answer")
            rng.shuffle(answers)
            mode = rng.weighted([(6, "now"), (2, "defer"), (2, "interleave")])
            if mode == "now":
                for e in answers:
                    emit(e)
            elif mode == "defer":
                c.notes.add("answers deferred past other messages")
                pending.extend(answers)
            else:
                for j, e in enumerate(answers):
                    if j > 0 or rng.chance(0.5):
                        f, what = gen_filler(c)
                        c.notes.add("answer after a " + what)
                        emit(f)
                    emit(e)
        elif r < 0.79:
            cid = "call_orphan_" + c.uniq().replace(".", "_")
            c.notes.add("answer whose call id matches nothing")
            emit(gen_answer(c, cid, "orphan"))
        elif r < 0.83:
            emit(gen_other(c))
        elif r < 0.90:
            if streams_left:
                streams_left -= 1
                deltas = [text(c, "delta") for _ in range(rng.randint(0, 3))]
                finish = rng.weighted([(5, None), (3, "completed"), (1, "incomplete"), (1, "failed")])
                if finish and not deltas:
                    deltas = [text(c, "delta")]
                ev.append(("stream", {"id": "stream_" + c.uniq().replace(".", "_"), "deltas": deltas,
                                      "finish": finish}))
                rows[0] += 1
        else:
            if compacts and rows[0] >= 2:
                compacts -= 1
                kind = rng.weighted([(4, "string"), (3, "message"), (3, "item")])
                t = text(c, "summary")
                if kind == "string":
                    s = t
                elif kind == "message":
                    s = {"role": "system", "content": t}
                else:
                    s = {"type": "compaction", "encrypted_content": t}
                ev.append(("compact", {"summary": s, "text": t, "kind": kind}))
    if pending and rng.chance(0.85):
        rng.shuffle(pending)
        for e in pending:
            emit(e)
    elif pending:
        c.notes.add("a call never answered")
    if rng.chance(0.3):
        emit(gen_plain(c, "user"))


# --------------------------------------------------------------------------
# saving
# --------------------------------------------------------------------------
def sqlq(s):
    return "'" + s.replace("'", "''") + "'"


def sqlj(j):
    return sqlq(json.dumps(j, ensure_ascii=False)) + "::jsonb"


def save(conn, c):
    rng = c.rng
    batch = []
    cap = [rng.choice((1, 2, 3, 5, 8, 1000)) if rng.chance(0.9) else 1000]
    last = [0]
    ok = [True]

    def flush():
        if not batch or not ok[0]:
            batch.clear()
            return
        payloads = [e.payload for e in batch]
        c.sql.append("SELECT * FROM chat_save_messages(%s, %s);" % (sqlq(c.tid), sqlj(payloads)))
        try:
            r = conn.execute("SELECT saved_count, skipped_count, first_seq, last_seq "
                             "FROM chat_save_messages(%s, %s)", (c.tid, Jsonb(payloads))).fetchone()
        except psycopg.Error as ex:
            fail("save: error", "%s: %s\n    batch: %s" % (ex.sqlstate, ex, short(payloads)))
            ok[0] = False
            batch.clear()
            return
        count("batches saved")
        saved, skipped, first, lst = r
        if saved != len(batch) or skipped != 0 or first != last[0] + 1 or lst != last[0] + len(batch):
            fail("save: not every element stored as a new row",
                 "saved %r skipped %r seqs %r..%r, expected %d new rows from seq %d\n    batch: %s"
                 % (saved, skipped, first, lst, len(batch), last[0] + 1, short(payloads)))
            ok[0] = False
            batch.clear()
            return
        for j, e in enumerate(batch):
            e.seq = first + j
            c.rows.append(e)
        last[0] = lst
        batch.clear()
        cap[0] = rng.choice((1, 2, 3, 5, 8, 1000)) if rng.chance(0.9) else 1000

    for kind, x in c.events:
        if not ok[0]:
            break
        if kind == "el":
            batch.append(x)
            count("rows: " + x.kind)
            if len(batch) >= cap[0]:
                flush()
            continue
        flush()
        if not ok[0]:
            break
        if kind == "stream":
            try:
                c.sql.append("SELECT * FROM chat_stream_start(%s, 'assistant', %s);" % (sqlq(c.tid), sqlq(x["id"])))
                sid, seq = conn.execute("SELECT id, seq FROM chat_stream_start(%s, 'assistant', %s)",
                                        (c.tid, x["id"])).fetchone()
                if sid != x["id"] or seq != last[0] + 1:
                    fail("stream: start", "got id %r seq %r, expected %r %d" % (sid, seq, x["id"], last[0] + 1))
                for d in x["deltas"]:
                    c.sql.append("SELECT chat_stream_append(%s, %s, %s);" % (sqlq(c.tid), sqlq(x["id"]), sqlq(d)))
                    conn.execute("SELECT chat_stream_append(%s, %s, %s)", (c.tid, x["id"], d))
                if x["finish"]:
                    c.sql.append("SELECT seq FROM chat_stream_finish(%s, %s, %s);"
                                 % (sqlq(c.tid), sqlq(x["id"]), sqlq(x["finish"])))
                    conn.execute("SELECT seq FROM chat_stream_finish(%s, %s, %s)", (c.tid, x["id"], x["finish"]))
            except psycopg.Error as ex:
                fail("stream: error", "%s: %s" % (ex.sqlstate, ex))
                ok[0] = False
                break
            e = Elem("stream_" + (x["finish"] or "in_progress"), None, "assistant", False,
                     text="".join(x["deltas"]))
            e.stream = {"id": x["id"], "text": "".join(x["deltas"]), "status": x["finish"] or "in_progress"}
            e.seq = seq
            c.rows.append(e)
            last[0] = seq
            count("rows: " + e.kind)
            if e.in_progress:
                c.notes.add("stream left in_progress")
        elif kind == "compact":
            up = rng.randint(1, last[0])
            try:
                c.sql.append("SELECT chat_compact(%s, %d, %s);" % (sqlq(c.tid), up, sqlj(x["summary"])))
                conn.execute("SELECT chat_compact(%s, %s, %s)", (c.tid, up, Jsonb(x["summary"])))
            except psycopg.Error as ex:
                fail("compact: error", "%s: %s" % (ex.sqlstate, ex))
                ok[0] = False
                break
            c.summaries.append({"up": up, "summary": x["summary"], "text": x["text"], "kind": x["kind"]})
            count("compactions")
            c.notes.add("compaction")
    flush()
    return ok[0]


# --------------------------------------------------------------------------
# helpers over outputs
# --------------------------------------------------------------------------
def item_call_id(it):
    if not isinstance(it, dict):
        return None
    v = it.get("call_id", it.get("callId"))
    return v if isinstance(v, str) else None


def is_answer_type(t):
    return isinstance(t, str) and (t.endswith("_output") or t.endswith("_result"))


def content_text(content):
    """the text a chat message's content shows"""
    if content is None:
        return None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for p in content:
            if isinstance(p, str):
                out.append(p)
            elif isinstance(p, dict):
                for k in ("text", "refusal"):
                    if isinstance(p.get(k), str):
                        out.append(p[k])
        return "".join(out)
    return json.dumps(content)


def jkey(x):
    return json.dumps(x, sort_keys=True, ensure_ascii=False)


def item_type(e):
    return e.payload.get("type") if e.is_item else None


def window_rows(c, mm, before, after):
    """chat_history's window (doc/context.md): before/after, then the
    latest mm rows, or with after_seq the first mm after it"""
    rows = [e for e in c.rows if (before is None or e.seq < before) and (after is None or e.seq > after)]
    if mm is not None:
        rows = rows[:mm] if after is not None else rows[-mm:]
    return rows


def lead_rows(c):
    """the thread's leading system / developer messages"""
    out = []
    for e in c.rows:
        if e.role not in ("system", "developer"):
            break
        out.append(e)
    return out


def active_summary(c, w):
    """the summary chat_context starts from: the latest made whose up_to_seq
    the window reaches (below before_seq); none when paging with after_seq
    (src/sql/10_core.sql, chat_context)"""
    if w["after_seq"] is not None:
        return None
    cands = [x for x in c.summaries if w["before_seq"] is None or x["up"] < w["before_seq"]]
    return cands[-1] if cands else None


def effective_window(c, w):
    """(the rows chat_context reads, its summary or None): with a summary,
    the thread's leading system messages up to it and the newest
    max_messages rows after it"""
    sm = active_summary(c, w)
    if sm is None:
        return window_rows(c, w["max_messages"], w["before_seq"], w["after_seq"]), None
    after = [e for e in c.rows if e.seq > sm["up"] and (w["before_seq"] is None or e.seq < w["before_seq"])]
    if w["max_messages"] is not None:
        after = after[-w["max_messages"]:]
    return [e for e in lead_rows(c) if e.seq <= sm["up"]] + after, sm


def summary_element(sm, fmt):
    """the summary as the contract describes it: a string is a system
    message with that text, a chat message is kept, an item is kept (and
    has no chat form)"""
    x = sm["summary"]
    if isinstance(x, str):
        msg = {"role": "system", "content": x}
    elif "type" in x:
        return x if fmt == "responses" else None
    else:
        msg = x
    return dict({"type": "message"}, **msg) if fmt == "responses" else msg


def pair(rows):
    """the pairing of doc/context.md#tool-calls-by-id over rows (in order):
    an answer answers the latest call with its id before it; a call row is
    kept when each of its ids has such an answer in rows, an answer when its
    call row is kept.  Sets e.call_seq on each kept answer."""
    latest = {}                   # call id -> the latest call row so far
    answered = {}                 # (call row seq, id) -> True
    call_of = {}                  # answer row seq -> its call row
    for e in rows:
        if e.answer is not None and not e.calls:
            r = latest.get(e.answer)
            if r is not None:
                answered[(r.seq, e.answer)] = True
                call_of[e.seq] = r
        for cid in e.calls:
            latest[cid] = e
    ok = set(e.seq for e in rows if e.calls and all((e.seq, cid) in answered for cid in e.calls))
    out = []
    for e in rows:
        if e.calls:
            if e.seq in ok:
                out.append(e)
        elif e.answer is not None:
            r = call_of.get(e.seq)
            if r is not None and r.seq in ok:
                e.call_seq = r.seq
                out.append(e)
        else:
            out.append(e)
    return out


def order_responses(kept):
    """the order src/sql/17_model_apis.sql gives (beyond the contract's text):
    groups (a row, and the function_call items right after an assistant
    message, a chat message or a function_call) in seq order, each followed
    by the answers to its calls in seq order"""
    gstart = {}
    prev_assistant = False
    start = None
    for e in kept:
        if not (item_type(e) == "function_call" and prev_assistant) or start is None:
            start = e.seq
        gstart[e.seq] = start
        prev_assistant = e.role == "assistant" and item_type(e) in (None, "message", "function_call")
    def key(e):
        if e.answer is not None and not e.calls:
            return (gstart[e.call_seq], 1, e.seq)
        return (gstart[e.seq], 0, e.seq)
    return sorted(kept, key=key)


def api_item(it):
    """an item as chat_context's format 'responses' gives it
    (_chat_api_item: the Agents SDK's shapes in the Responses API's)"""
    if not isinstance(it, dict):
        return it
    if it.get("type") == "function_call_result":
        out = it.get("output")
        if isinstance(out, str):
            o = out
        elif isinstance(out, dict) and out.get("type") == "text":
            o = out.get("text") if out.get("text") is not None else ""
        else:
            o = json.dumps(out if out is not None else None, separators=(", ", ": "), ensure_ascii=False)
        return {"type": "function_call_output",
                "call_id": it.get("call_id", it.get("callId")), "output": o}
    if "callId" in it or "providerData" in it or isinstance(it.get("content"), list):
        x = {k: v for k, v in it.items() if k not in ("providerData", "callId")}
        if "callId" in it and "call_id" not in it:
            x["call_id"] = it["callId"]
        if isinstance(it.get("content"), list):
            x["content"] = [{k: v for k, v in p.items() if k != "providerData"} if isinstance(p, dict) else p
                            for p in it["content"]]
        return x
    return it


def window_answers(rows):
    """call id -> number of answers in rows"""
    d = {}
    for e in rows:
        if e.answer is not None:
            d[e.answer] = d.get(e.answer, 0) + 1
    return d


def desc_rows(rows):
    out = []
    for e in rows:
        s = "%d:%s" % (e.seq, e.kind)
        if e.calls:
            s += "(calls %s)" % ",".join(e.calls)
        if e.answer:
            s += "(answers %s)" % e.answer
        out.append(s)
    return " ".join(out)


def abbrev_chat(m):
    if not isinstance(m, dict):
        return m
    s = m.get("role", "?")
    if m.get("tool_calls"):
        s += "[" + ",".join(str(tc.get("id", "?")) for tc in m["tool_calls"] if isinstance(tc, dict)) + "]"
    if m.get("tool_call_id"):
        s += "(" + str(m["tool_call_id"]) + ")"
    t = content_text(m.get("content"))
    if t:
        s += ":" + " ".join(t.split(" ")[:2])
    return s


def abbrev_item(it):
    if not isinstance(it, dict):
        return it
    s = str(it.get("type", it.get("role", "?")))
    if it.get("type") == "message":
        s += "/" + str(it.get("role"))
    cid = item_call_id(it)
    if cid:
        s += "(" + cid + ")"
    return s


# --------------------------------------------------------------------------
# checks after saving
# --------------------------------------------------------------------------
def with_stream_text(it, e):
    """the item of an in_progress row as chat_context shows it: with the
    text streamed so far"""
    if isinstance(it, dict) and it.get("type") == "message":
        return dict(it, content=e.stream["text"])
    return it


def check_stored(conn, c):
    rows = conn.execute("SELECT seq, role, tool_call_id, status FROM chat_history(%s) ORDER BY seq",
                        (c.tid,)).fetchall()
    got = [(r[0], r[1], r[2], r[3]) for r in rows]
    exp = [(e.seq, e.role, e.tool_call_id, e.stream["status"] if e.stream else None) for e in c.rows]
    if got != exp:
        diffs = [(g, x) for g, x in zip(got, exp) if g != x][:4]
        fail("chat_history: rows differ from the model (seq, role, tool_call_id, status)",
             "%d rows, model %d; first differences (got, model): %s" % (len(got), len(exp), diffs))
    items = conn.execute("SELECT seq, id, item FROM chat_items(%s)", (c.tid,)).fetchall()
    by_seq = {}
    for seq, _id, it in items:
        by_seq.setdefault(seq, []).append(it)
    c.items_by_seq = by_seq
    c.item_seqs = {}              # item (json, as format 'responses' gives it) -> seqs
    for seq, _id, it in items:
        c.item_seqs.setdefault(jkey(api_item(it)), set()).add(seq)
    for e in c.rows:              # an in_progress row shows its text so far
        if e.in_progress:
            for it in by_seq.get(e.seq, []):
                c.item_seqs.setdefault(jkey(api_item(with_stream_text(it, e))), set()).add(e.seq)
    for e in c.rows:
        got = by_seq.get(e.seq, [])
        count("chat_items rows checked")
        if e.is_item:
            if got != [e.item]:
                fail("chat_items: an item row is not the item saved",
                     "seq %d saved %s (less chatstore keys)\n    got %s" % (e.seq, short(e.item), short(got)))
            continue
        problems = check_converted(c, e, got)
        if problems:
            fail("chat_items: a chat row's conversion", "seq %d %s payload %s\n    got %s\n    %s"
                 % (e.seq, e.kind, short(e.payload), short(got), problems))
        if e.in_progress and e.stream["text"]:
            count("in_progress rows with text streamed so far")
            if not any(e.stream["text"] in json.dumps(x, ensure_ascii=False) for x in got):
                count("in_progress rows whose chat_items item lacks the text streamed so far")
    if c.summaries:
        got = conn.execute("SELECT up_to_seq, summary FROM chat_summaries(%s) ORDER BY id", (c.tid,)).fetchall()
        exp = [(x["up"], summary_element(x, "responses")) for x in c.summaries]
        norm = [(u, dict({"type": "message"}, **s) if "type" not in s else s) for u, s in got]
        if norm != exp:
            fail("chat_compact: summaries stored differ from what was given",
                 "got %s\n    given %s" % (short(got), short([(x["up"], x["summary"]) for x in c.summaries])))


def check_converted(c, e, got):
    if not all(isinstance(x, dict) and isinstance(x.get("type"), str) for x in got):
        return "an element without a type"
    if e.role == "tool":
        if len(got) != 1 or got[0].get("type") != "function_call_output" or got[0].get("call_id") != e.answer:
            return "expected one function_call_output with call_id %s" % e.answer
        if e.text not in json.dumps(got[0].get("output"), ensure_ascii=False) and e.text != got[0].get("output"):
            return "the output does not hold the tool content"
        return None
    fcs = [x for x in got if x.get("type") == "function_call"]
    msgs = [x for x in got if x.get("type") == "message"]
    if [x.get("call_id") for x in fcs] != e.calls:
        return "function_call call_ids %r, expected %r" % ([x.get("call_id") for x in fcs], e.calls)
    for x in fcs:
        why = call_problem(c, x["call_id"], x.get("name"), x.get("arguments"))
        if why:
            return "function_call: " + why
    if len(fcs) + len(msgs) != len(got):
        return "unexpected element types"
    if e.calls:
        want_msg = e.text is not None
        if len(msgs) != (1 if want_msg else 0):
            return "expected %d message item(s) for content %r" % (1 if want_msg else 0, e.payload.get("content"))
    elif len(msgs) != 1:
        return "expected one message item"
    for m in msgs:
        if m.get("role") != e.role:
            return "message role %r, row role %r" % (m.get("role"), e.role)
        if e.in_progress:
            continue
        if e.text and content_text(m.get("content")) != e.text:
            return "message text %r, expected %r" % (content_text(m.get("content")), e.text)
    return None


# --------------------------------------------------------------------------
# window checks
# --------------------------------------------------------------------------
def wdesc(w):
    s = "window %s" % ", ".join("%s=%s" % (k, w[k]) for k in
                                ("max_messages", "before_seq", "after_seq", "max_tokens", "include_incomplete"))
    if w.get("summary_up") is not None:
        s += "; starts from the summary up to seq %d" % w["summary_up"]
    return s


def check_pairs(c, prefix, w, calls, answers, wrows, show):
    """calls: [(output index, call id)]; answers: [(output index, call id)].
    An answer belongs to the nearest call with its id before it (ids can
    repeat across turns in a thread that reuses them)"""
    if not c.reuse_ids:
        seen = set()
        for i, cid in calls:
            if cid in seen:
                fail(prefix + "a call id twice in the output", "%s (%s)\n    output %s" % (cid, wdesc(w), show()))
            seen.add(cid)
    owned = {}                  # index of a call -> number of answers
    per_id = {}
    early = set()               # ids of answers before any call of theirs
    for j, cid in answers:
        per_id[cid] = per_id.get(cid, 0) + 1
        before = [i for i, x in calls if x == cid and i < j]
        if before:
            owned[before[-1]] = owned.get(before[-1], 0) + 1
        elif any(x == cid for _i, x in calls):
            later = min(i for i, x in calls if x == cid)
            early.add(cid)
            fail(prefix + ANSWER_FIRST,
                 "answer %s at %d, its call at %d (%s)\n    window rows %s\n    output %s"
                 % (cid, j, later, wdesc(w), desc_rows(wrows), show()))
        else:
            fail(prefix + "an answer without its call in the output",
                 "answer %s at %d (%s)\n    window rows %s\n    output %s" % (cid, j, wdesc(w), desc_rows(wrows), show()))
    # (the window's answers that answer a call: an answer stored before any
    # call with its id answers nothing)
    wans = window_answers([e for e in pair(list(wrows)) if e.answer is not None and not e.calls])
    for i, cid in calls:
        if not owned.get(i) and cid not in early:
            what = "a call without an answer after it in the output"
            if any(x == cid for j, x in answers):
                what += " (answers of its id are elsewhere)"
            fail(prefix + what, "call %s at %d (%s)\n    window rows %s\n    output %s"
                 % (cid, i, wdesc(w), desc_rows(wrows), show()))
    for cid in set(x for _i, x in calls):
        # (by id: not when ids repeat, where answers of other turns count too)
        if not c.reuse_ids and per_id.get(cid, 0) < wans.get(cid, 0):
            fail(prefix + "a call shown without all its answers of the window",
                 "call %s: %d answers in the output, %d in the window (%s)\n    window rows %s\n    output %s"
                 % (cid, per_id.get(cid, 0), wans[cid], wdesc(w), desc_rows(wrows), show()))


def check_chat(c, w, out, wrows):
    """format 'chat': shape, pairing, adjacency, streaming"""
    if not isinstance(out, list):
        fail("chat: not an array", short(out))
        return
    calls, answers = [], []
    for i, m in enumerate(out):
        if not isinstance(m, dict) or m.get("role") not in CHAT_ROLES:
            fail("chat: element not a Chat Completions message (role)", "%s: %s" % (wdesc(w), short(m)))
            continue
        extra = set(m) - CHAT_KEYS
        if extra:
            fail("chat: element with keys a Chat Completions message does not have",
                 "keys %s in %s (%s)" % (sorted(extra), short(m, 300), wdesc(w)))
        if m.get("type") == "reasoning" or "encrypted_content" in m:
            fail("chat: a reasoning item in format chat", "%s (%s)" % (short(m, 300), wdesc(w)))
        role = m["role"]
        content = m.get("content", "MISSING")
        if content == "MISSING":
            fail("chat: message without content", "%s (%s)" % (short(m), wdesc(w)))
        elif content is None:
            if not (role == "assistant" and m.get("tool_calls")):
                fail("chat: null content outside an assistant tool call message", "%s (%s)" % (short(m), wdesc(w)))
        elif isinstance(content, list):
            for p in content:
                if not isinstance(p, dict) or p.get("type") not in CHAT_PART_TYPES:
                    fail("chat: content part of a type Chat Completions does not know",
                         "part %s in %s message (%s)" % (short(p, 200), role, wdesc(w)))
                    break
        elif not isinstance(content, str):
            fail("chat: content neither string, array nor null", "%s (%s)" % (short(m), wdesc(w)))
        if "tool_calls" in m:
            tcs = m["tool_calls"]
            if role != "assistant" or not isinstance(tcs, list) or not tcs:
                fail("chat: tool_calls not a non-empty array of an assistant message", "%s (%s)" % (short(m), wdesc(w)))
                continue
            for tc in tcs:
                ok = (isinstance(tc, dict) and set(tc) == {"id", "type", "function"} and tc.get("type") == "function"
                      and isinstance(tc.get("id"), str) and isinstance(tc.get("function"), dict)
                      and set(tc["function"]) == {"name", "arguments"}
                      and isinstance(tc["function"].get("name"), str)
                      and isinstance(tc["function"].get("arguments"), str))
                if not ok:
                    fail("chat: tool call not in OpenAI shape", "%s (%s)" % (short(tc), wdesc(w)))
                    continue
                cid = tc["id"]
                info = c.calls.get(cid)
                if info is None:
                    fail("chat: tool call id unknown", "%s (%s)" % (short(tc), wdesc(w)))
                    continue
                if not info["chat"]:
                    fail("chat: a call with no chat form shown as a tool call", "%s (%s)" % (short(tc), wdesc(w)))
                why = call_problem(c, cid, tc["function"]["name"], tc["function"]["arguments"])
                if why:
                    fail("chat: tool call differs from what was saved", "%s: %s (%s)" % (cid, why, wdesc(w)))
                calls.append((i, cid))
        if role == "tool":
            tid = m.get("tool_call_id")
            if not isinstance(tid, str):
                fail("chat: tool message without tool_call_id", "%s (%s)" % (short(m), wdesc(w)))
                continue
            answers.append((i, tid))
        elif "tool_call_id" in m:
            fail("chat: tool_call_id on a %s message" % role, "%s (%s)" % (short(m), wdesc(w)))
    check_pairs(c, "chat: ", w, calls, answers, wrows, lambda: short([abbrev_chat(m) for m in out], 2500))
    # adjacency: what the Chat Completions API requires
    i = 0
    bad = None
    while i < len(out):
        m = out[i]
        if isinstance(m, dict) and m.get("role") == "tool":
            if not bad:
                count("chat adjacency broken by a tool message after a non-call message")
            bad = bad or ("tool message at %d (answer %s) not in the run of tool messages after its assistant call"
                          % (i, m.get("tool_call_id")))
            i += 1
            continue
        if isinstance(m, dict) and m.get("role") == "assistant" and isinstance(m.get("tool_calls"), list):
            ids = [tc.get("id") for tc in m["tool_calls"] if isinstance(tc, dict)]
            j = i + 1
            seen = set()
            while j < len(out) and isinstance(out[j], dict) and out[j].get("role") == "tool":
                tid = out[j].get("tool_call_id")
                if tid not in ids:
                    bad = bad or ("tool message at %d answers %s, not a call of the assistant message at %d"
                                  % (j, tid, i))
                seen.add(tid)
                j += 1
            missing = [x for x in ids if x not in seen]
            if missing:
                nxt = out[j] if j < len(out) else None
                what = "the end" if nxt is None else "a %s message%s" % (
                    nxt.get("role"), " with tool_calls" if nxt.get("tool_calls") else "") if isinstance(nxt, dict) else "?"
                if not bad:
                    count("chat adjacency broken by " + what)
                bad = bad or ("assistant message at %d: calls %s not answered before the next non-tool message (at %d: %s)"
                              % (i, missing, j, what))
            i = j
            continue
        i += 1
    if bad:
        count("chat windows breaking adjacency")
        fail(ADJACENCY[0], "%s (%s)\n    window rows %s\n    output %s"
             % (bad, wdesc(w), desc_rows(wrows), short([abbrev_chat(m) for m in out], 2500)))
    # streaming
    if not w["include_incomplete"]:
        for e in wrows:
            if e.in_progress:
                for m in out:
                    if (isinstance(m, dict) and m.get("role") == "assistant" and not m.get("tool_calls")
                            and (content_text(m.get("content")) or "") in ("", e.stream["text"])):
                        fail("chat: an in_progress message without include_incomplete",
                             "seq %d %s (%s)" % (e.seq, short(m), wdesc(w)))


def check_responses(c, w, out, wrows, allowed, sm):
    if not isinstance(out, list):
        fail("responses: not an array", short(out))
        return
    calls, answers = [], []
    summ = summary_element(sm, "responses") if sm else None
    for i, it in enumerate(out):
        if not isinstance(it, dict) or not isinstance(it.get("type"), str):
            fail("responses: element without a type", "%s (%s)" % (short(it), wdesc(w)))
            continue
        if summ is not None and it == summ:
            pass
        else:
            seqs = c.item_seqs.get(jkey(it))
            if seqs is None:
                fail("responses: element that chat_items does not give (nor the summary)",
                     "%s (%s)" % (short(it), wdesc(w)))
            elif not (seqs & allowed):
                fail("responses: element from a row outside the window" +
                     (" (summary + max_tokens + max_messages)" if sm and w["max_tokens"] is not None
                      and w["max_messages"] is not None else ""),
                     "%s from seq %s (%s)\n    window rows %s\n    output %s"
                     % (abbrev_item(it), sorted(seqs), wdesc(w), desc_rows(wrows),
                        short([abbrev_item(x) for x in out], 1500)))
        cid = item_call_id(it)
        if cid is None:
            continue
        if is_answer_type(it["type"]):
            answers.append((i, cid))
        else:
            calls.append((i, cid))
    check_pairs(c, "responses: ", w, calls, answers, wrows, lambda: short([abbrev_item(x) for x in out], 1500))
    if not w["include_incomplete"]:
        for e in wrows:
            if e.in_progress:
                for it in c.items_by_seq.get(e.seq, []):
                    if api_item(it) in out and c.item_seqs.get(jkey(api_item(it))) == {e.seq}:
                        fail("responses: an in_progress message without include_incomplete",
                             "seq %d %s (%s)" % (e.seq, short(it), wdesc(w)))


def check_model(c, w, out_chat, out_resp, rows, sm):
    """no max_tokens: the exact output (contract: pairing, in_progress;
    order as src/sql/10_core.sql documents it)"""
    inc = w["include_incomplete"]
    rows = [e for e in rows if inc or not e.in_progress]
    kept = pair(rows)
    ordered = order_responses(kept)
    summ = summary_element(sm, "responses") if sm else None
    exp = []
    placed = summ is None
    for e in ordered:
        if not placed and e.seq > sm["up"]:
            exp.append(summ)
            placed = True
        exp.extend(api_item(with_stream_text(x, e) if e.in_progress else x)
                   for x in c.items_by_seq.get(e.seq, []))
    if not placed:
        exp.append(summ)
    tag = " (with a summary)" if sm else ""
    if isinstance(out_resp, list):
        count("exact model comparisons (responses)" + tag)
        if [e.seq for e in ordered] != [e.seq for e in kept]:
            count("windows whose answers the model moves after their call (responses)")
        got_ms = sorted(jkey(x) for x in out_resp)
        exp_ms = sorted(jkey(x) for x in exp)
        if got_ms != exp_ms:
            missing = [abbrev_item(json.loads(x)) for x in exp_ms if x not in got_ms]
            extra = [abbrev_item(json.loads(x)) for x in got_ms if x not in exp_ms]
            fail("model: format 'responses' returns other items than the model" + tag,
                 "%s\n    window rows %s\n    model keeps %s\n    missing %s\n    extra %s\n    got %s"
                 % (wdesc(w), desc_rows(rows), " ".join(str(e.seq) for e in kept), missing, extra,
                    short([abbrev_item(x) for x in out_resp], 1500)))
        elif out_resp != exp:
            fail("model: format 'responses' order differs from the documented order" + tag,
                 "%s\n    window rows %s\n    expected %s\n    got      %s"
                 % (wdesc(w), desc_rows(rows), short([abbrev_item(x) for x in exp], 1500),
                    short([abbrev_item(x) for x in out_resp], 1500)))
    if not isinstance(out_chat, list):
        return
    count("exact model comparisons (chat)" + tag)
    exp_calls = sorted(cid for e in kept for cid in e.calls if c.calls[cid]["chat"])
    exp_answers = sorted(e.answer for e in kept if e.answer is not None and c.calls.get(e.answer, {}).get("chat"))
    got_calls = sorted(str(tc.get("id")) for m in out_chat if isinstance(m, dict)
                       for tc in (m.get("tool_calls") or []) if isinstance(tc, dict))
    got_answers = sorted(str(m.get("tool_call_id")) for m in out_chat
                         if isinstance(m, dict) and m.get("role") == "tool")
    if exp_calls != got_calls or exp_answers != got_answers:
        fail("model: format 'chat' calls/answers differ from the model" + tag,
             "%s\n    window rows %s\n    model keeps %s\n    calls expected %s got %s\n    answers expected %s got %s"
             % (wdesc(w), desc_rows(rows), " ".join(str(e.seq) for e in kept), exp_calls, got_calls,
                exp_answers, got_answers))
    exp_texts = []
    if sm and summary_element(sm, "chat") is not None:
        ls = [e for e in kept if e.seq <= sm["up"]]
        exp_texts = [(e.role, e.text) for e in ls if e.text] + [("system", sm["text"])]
        kept = [e for e in kept if e.seq > sm["up"]]
    exp_texts += [(e.role, e.stream["text"] if e.in_progress else e.text) for e in kept
                  if e.answer is None and (e.stream["text"] if e.in_progress else e.text)
                  and e.kind != "item_custom_tool_call"]
    got_texts = [(m.get("role"), content_text(m.get("content"))) for m in out_chat
                 if isinstance(m, dict) and m.get("role") != "tool" and content_text(m.get("content"))]
    if got_texts != exp_texts:
        ab = lambda ts: short([(r, " ".join((t or "").split(" ")[:2])) for r, t in ts], 1500)
        fail("model: format 'chat' texts differ from the model" + tag,
             "%s\n    window rows %s\n    expected %s\n    got      %s" % (wdesc(w), desc_rows(rows), ab(exp_texts), ab(got_texts)))
    if inc:
        for e in kept:
            if e.in_progress and e.stream["text"]:
                count("include_incomplete windows showing an in_progress row with streamed text")
                if not any(e.stream["text"] == content_text(m.get("content")) for m in out_chat if isinstance(m, dict)):
                    count("include_incomplete: in_progress row shown without the text streamed so far (chat)")


def check_history(c, w, rows, wrows):
    count("chat_history max_tokens windows")
    wseqs = set(e.seq for e in wrows) | set(e.seq for e in lead_rows(c)
                                             if w["before_seq"] is None or e.seq < w["before_seq"])
    seqs = [r[0] for r in rows]
    if seqs != sorted(seqs) or any(s not in wseqs for s in seqs):
        fail("chat_history max_tokens: rows not a subsequence of the window",
             "%s got %s window %s" % (wdesc(w), seqs, sorted(wseqs)))
    calls, answers = [], []
    for i, (seq, role, tcs, tcid) in enumerate(rows):
        if role == "assistant":
            ids = []
            if isinstance(tcs, list):
                ids += [tc.get("id") for tc in tcs if isinstance(tc, dict)]
            if tcid is not None:
                ids.append(tcid)
            for cid in ids:
                calls.append((i, cid))
        elif role == "tool" and tcid is not None:
            answers.append((i, tcid))
    check_pairs(c, "chat_history max_tokens: ", w, calls, answers, wrows, lambda: str(seqs))


def random_window(c):
    rng = c.rng
    last = c.rows[-1].seq if c.rows else 0
    w = {"max_messages": None, "before_seq": None, "after_seq": None, "max_tokens": None,
         "include_incomplete": rng.chance(0.5)}
    if rng.chance(0.5):
        w["max_messages"] = rng.randint(1, min(last + 2, 30))
    if rng.chance(0.35):
        w["before_seq"] = rng.randint(1, last + 2)
    if rng.chance(0.3):
        w["after_seq"] = rng.randint(0, last)
    if rng.chance(0.45):
        w["max_tokens"] = int(2 ** (rng.random() * 12))
    return w


CTX_SQL = ("SELECT w.n, w.fmt, chat_context(%s, max_messages => w.mm, before_seq => w.b, after_seq => w.a, "
           "max_tokens => w.mt, format => w.fmt, include_incomplete => w.inc) "
           "FROM jsonb_to_recordset(%s) AS w(n int, fmt text, mm int, b bigint, a bigint, mt int, inc boolean) "
           "ORDER BY w.n, w.fmt")
HIST_SQL = ("SELECT w.n, h.seq, h.role, h.tool_calls, h.tool_call_id "
            "FROM jsonb_to_recordset(%s) AS w(n int, mm int, b bigint, a bigint, mt int) "
            "CROSS JOIN LATERAL chat_history(%s, w.mm, w.b, w.a, w.mt) WITH ORDINALITY AS h "
            "ORDER BY w.n, h.ordinality")
ITEMS_SQL = ("SELECT w.n, i.seq, i.item "
             "FROM jsonb_to_recordset(%s) AS w(n int, mm int, b bigint, a bigint) "
             "CROSS JOIN LATERAL chat_items(%s, w.mm, w.b, w.a) WITH ORDINALITY AS i "
             "ORDER BY w.n, i.ordinality")


def batch(conn, sql, args, what, per_window):
    """one query for every window of a conversation (a SQL function's plan
    is then made once); on an error, window by window to name it"""
    try:
        return conn.execute(sql, args).fetchall()
    except psycopg.Error:
        rows = []
        for n, one_args in per_window:
            try:
                rows += conn.execute(sql, one_args).fetchall()
            except psycopg.Error as ex:
                fail("%s: error" % what, "%s: %s (window %d: %s)" % (ex.sqlstate, str(ex).strip(), n, short(one_args[-1] if what != "chat_context" else one_args[1])))
        return rows


def run_windows(conn, c):
    ws = [random_window(c) for _ in range(N_WINDOWS)]
    for w in ws:
        w["hist_max_tokens"] = w["max_tokens"] if w["max_tokens"] is not None else int(2 ** (c.rng.random() * 12))
    ctx_params = [{"n": n, "fmt": f, "mm": w["max_messages"], "b": w["before_seq"], "a": w["after_seq"],
                   "mt": w["max_tokens"], "inc": w["include_incomplete"]}
                  for n, w in enumerate(ws) for f in ("chat", "responses")]
    res = batch(conn, CTX_SQL, (c.tid, Jsonb(ctx_params)), "chat_context",
                [(p["n"], (c.tid, Jsonb([p]))) for p in ctx_params])
    outs = {(n, f): o for n, f, o in res}
    hist_params = [{"n": n, "mm": w["max_messages"], "b": w["before_seq"], "a": w["after_seq"],
                    "mt": w["hist_max_tokens"]} for n, w in enumerate(ws)]
    res = batch(conn, HIST_SQL, (Jsonb(hist_params), c.tid), "chat_history",
                [(p["n"], (Jsonb([p]), c.tid)) for p in hist_params])
    hist = {}
    for n, seq, role, tcs, tcid in res:
        hist.setdefault(n, []).append((seq, role, tcs, tcid))
    items_params = [{"n": n, "mm": w["max_messages"], "b": w["before_seq"], "a": w["after_seq"]}
                    for n, w in enumerate(ws) if n % 4 == 0]
    res = batch(conn, ITEMS_SQL, (Jsonb(items_params), c.tid), "chat_items",
                [(p["n"], (Jsonb([p]), c.tid)) for p in items_params])
    items = {}
    for n, seq, it in res:
        items.setdefault(n, []).append((seq, it))
    for n, w in enumerate(ws):
        count("windows")
        rows, sm = effective_window(c, w)
        w["summary_up"] = sm["up"] if sm else None
        allowed = set(e.seq for e in rows)
        if w["max_tokens"] is not None:
            allowed |= set(e.seq for e in lead_rows(c) if w["before_seq"] is None or e.seq < w["before_seq"])
        if sm:
            count("windows starting from a summary")
        if w["max_tokens"] is not None:
            count("windows with max_tokens")
        oc, orr = outs.get((n, "chat")), outs.get((n, "responses"))
        if oc is not None:
            count("context windows (chat)")
            check_chat(c, w, oc, rows)
        if orr is not None:
            count("context windows (responses)")
            check_responses(c, w, orr, rows, allowed, sm)
        if w["max_tokens"] is None:
            check_model(c, w, oc, orr, rows, sm)
        hw = dict(w, max_tokens=w["hist_max_tokens"], summary_up=None)
        hrows = window_rows(c, w["max_messages"], w["before_seq"], w["after_seq"])
        check_history(c, hw, hist.get(n, []), hrows)
        if n % 4:
            continue
        got = items.get(n, [])
        exp = [(e.seq, it) for e in hrows for it in c.items_by_seq.get(e.seq, [])]
        count("chat_items windows")
        if got != exp:
            fail("chat_items: window differs from chat_history's window",
                 "%s got seqs %s expected %s" % (wdesc(w), sorted(set(s for s, _ in got)), [e.seq for e in hrows]))


def dump(c):
    print("-- conversation %d (seed %d), thread %s; features: %s" % (c.k, c.seed, c.tid, ", ".join(sorted(c.notes))))
    for s in c.sql:
        print(s)
    print("-- rows: " + desc_rows(c.rows))


def main():
    t0 = time.time()
    print("seed %d (replay: CS_SEED=%d)" % (SEED, SEED))
    conn = psycopg.connect(autocommit=True)
    ver = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'chatstore'").fetchone()
    print("chatstore %s" % (ver[0] if ver else "?"))
    pid = conn.info.backend_pid
    ks = [int(ONLY)] if ONLY is not None else range(N_CONVS)
    notes_all = {}
    for k in ks:
        c = Conv(k)
        cur_conv[0] = c
        generate(c)
        count("conversations")
        if not save(conn, c):
            if DUMP:
                dump(c)
            continue
        for nt in c.notes:
            notes_all[nt] = notes_all.get(nt, 0) + 1
        count("rows", len(c.rows))
        check_stored(conn, c)
        run_windows(conn, c)
        if DUMP:
            dump(c)
    cur_conv[0] = None
    if conn.info.backend_pid != pid:
        fail("backend changed (a crash?)", "")
    conn.close()
    el = time.time() - t0
    print("seed %d: %d conversations, %d rows, %d windows (each read with chat_context in formats chat and "
          "responses, chat_history with max_tokens and chat_items) in %.1f s"
          % (SEED, stats.get("conversations", 0), stats.get("rows", 0), stats.get("windows", 0), el))
    for k in sorted(stats):
        print("  %7d  %s" % (stats[k], k))
    print("conversations with:")
    for k in sorted(notes_all):
        print("  %7d  %s" % (notes_all[k], k))
    for k in sorted(known):
        print("KNOWN (PROPERTY_TOOLS_STRICT=0): %6d  %s" % (known[k], k))
    if failures:
        print("%d failure categories:" % len(failures))
        for k in sorted(failures):
            print("  %6d  %s" % (failures[k][0], k))
        print("replay: CS_SEED=%d" % SEED)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
