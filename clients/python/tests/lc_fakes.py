"""Small stand-ins for LangChain's message classes (langchain_core is not installable
here): the attributes chatstore reads, with LangChain's defaults, and a fake
``langchain_core.messages`` module whose ``messages_from_dict`` builds them."""

import sys
import types
from contextlib import contextmanager


class BaseMessage:
    type = "base"

    def __init__(self, content, *, id=None, name=None, additional_kwargs=None, response_metadata=None, **kw):
        self.content = content
        self.id = id
        self.name = name
        self.additional_kwargs = additional_kwargs or {}
        self.response_metadata = response_metadata or {}
        for k, v in kw.items():
            setattr(self, k, v)

    def fields(self):
        return {k: v for k, v in vars(self).items()}

    def __eq__(self, other):
        return type(self) is type(other) and self.fields() == other.fields()

    def __repr__(self):
        return f"{type(self).__name__}({self.fields()!r})"


class HumanMessage(BaseMessage):
    type = "human"

    def __init__(self, content, **kw):
        kw.setdefault("example", False)
        super().__init__(content, **kw)


class SystemMessage(BaseMessage):
    type = "system"


class AIMessage(BaseMessage):
    type = "ai"

    def __init__(self, content, *, tool_calls=None, invalid_tool_calls=None, usage_metadata=None, **kw):
        kw.setdefault("example", False)
        super().__init__(content, tool_calls=tool_calls or [], invalid_tool_calls=invalid_tool_calls or [],
                         usage_metadata=usage_metadata, **kw)


class ToolMessage(BaseMessage):
    type = "tool"

    def __init__(self, content, *, tool_call_id, artifact=None, status="success", **kw):
        super().__init__(content, tool_call_id=tool_call_id, artifact=artifact, status=status, **kw)


_CLASSES = {"human": HumanMessage, "ai": AIMessage, "system": SystemMessage, "tool": ToolMessage}


def messages_from_dict(dicts):
    out = []
    for d in dicts:
        data = dict(d["data"])
        data.pop("type", None)
        content = data.pop("content")
        out.append(_CLASSES[d["type"]](content, **data))
    return out


@contextmanager
def fake_langchain_core():
    """Make ``from langchain_core.messages import messages_from_dict`` work."""
    saved = {k: sys.modules.get(k) for k in ("langchain_core", "langchain_core.messages")}
    pkg = types.ModuleType("langchain_core")
    mod = types.ModuleType("langchain_core.messages")
    mod.messages_from_dict = messages_from_dict
    pkg.messages = mod
    sys.modules["langchain_core"] = pkg
    sys.modules["langchain_core.messages"] = mod
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
