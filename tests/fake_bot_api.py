"""A small Telegram Bot API emulator on 127.0.0.1 for end-to-end tests of the real Application.

It speaks the HTTP protocol python-telegram-bot uses (form-encoded parameters, JSON replies),
long-polls getUpdates, checks what Telegram checks that matters here (HTML that parses, 4096
characters, 64-byte callback_data), and records every call so tests can assert on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

BOT_ID = 777000111
BOT_USERNAME = "newsqa_test_bot"
TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijklmn"

# Parameters PTB sends as JSON text inside the form.
_JSON_PARAMS = {
    "reply_markup",
    "reply_parameters",
    "commands",
    "allowed_updates",
    "link_preview_options",
    "entities",
    "scope",
    "results",
    "button",
}
_ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "blockquote",
}
# Attributes Telegram reads on a tag; any other is refused (as "can't parse entities").
_ALLOWED_ATTRS = {"a": {"href"}, "code": {"class"}, "blockquote": {"expandable"}}
_COMMAND = re.compile(r"^/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?")
_MENTION = re.compile(r"@[A-Za-z0-9_]{5,32}")
_MAX_POLL_S = 30.0


class ApiError(Exception):
    """An error the Bot API would answer with."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, Any]


@dataclass
class FakeBotApi:
    """The emulator: start() it, point the bot's base_url at `.base_url`, push updates."""

    token: str = TOKEN
    bot_id: int = BOT_ID
    bot_username: str = BOT_USERNAME
    calls: list[Call] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # messages the bot sent
    sent_at: dict[int, float] = field(default_factory=dict)  # message_id → monotonic time
    pushed_at: dict[int, float] = field(default_factory=dict)  # message_id → monotonic time
    left_chats: list[int] = field(default_factory=list)
    commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    throttled: dict[str, int] = field(default_factory=dict)  # method → 429s still to answer
    stale_queries: int = 0  # answerCallbackQuery calls still to refuse as too old
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _query_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Condition | None = None
    _runner: web.AppRunner | None = None
    port: int = 0
    _closing: bool = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = _bound_port(self._runner)

    async def stop(self) -> None:
        self._closing = True
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()  # long polls return now instead of at their timeout
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what a test does as a Telegram user ---------------------------------------------

    @staticmethod
    def user(
        user_id: int, first_name: str = "Tester", language_code: str = "zh-hans"
    ) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }

    @staticmethod
    def private_chat(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "type": "private", "first_name": "Tester"}

    @staticmethod
    def group_chat(chat_id: int, title: str = "Newsroom") -> dict[str, Any]:
        return {"id": chat_id, "type": "supergroup", "title": title}

    async def send_text(
        self,
        chat: dict[str, Any],
        user: dict[str, Any],
        text: str,
        *,
        reply_to: dict[str, Any] | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A person sends a text message; entities are derived as Telegram derives them."""
        message = self._new_message(chat, user, text=text)
        message["entities"] = entities if entities is not None else _auto_entities(text)
        if not message["entities"]:
            del message["entities"]
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        await self.push_update({"message": message})
        return message

    async def send_sticker(self, chat: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
        message = self._new_message(chat, user)
        message["sticker"] = {
            "file_id": "CAACAgIAAxk",
            "file_unique_id": "AgAD",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        await self.push_update({"message": message})
        return message

    async def send_photo(self, chat: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
        message = self._new_message(chat, user)
        message["photo"] = [
            {"file_id": "AgACAgIAAxk", "file_unique_id": "AQAD", "width": 90, "height": 90}
        ]
        await self.push_update({"message": message})
        return message

    async def edit_text(self, message: dict[str, Any], text: str) -> None:
        edited = dict(message, text=text, edit_date=int(time.time()))
        await self.push_update({"edited_message": edited})

    async def press(self, message: dict[str, Any], data: str, user: dict[str, Any]) -> str:
        """A person presses an inline button under one of the bot's messages."""
        query_id = str(next(self._query_ids))
        await self.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "message": message,
                    "chat_instance": "ci-" + str(message["chat"]["id"]),
                    "data": data,
                }
            }
        )
        return query_id

    async def inline_query(self, user: dict[str, Any], query: str) -> str:
        """A person types `@bot query` in any chat (an inline query carries no chat)."""
        query_id = str(next(self._query_ids))
        await self.push_update(
            {"inline_query": {"id": query_id, "from": user, "query": query, "offset": ""}}
        )
        return query_id

    def inline_answer(self, query_id: str) -> dict[str, Any] | None:
        """The bot's answerInlineQuery for one query, if it answered."""
        for call in self.calls_to("answerInlineQuery"):
            if call.params.get("inline_query_id") == query_id:
                return call.params
        return None

    async def add_bot_to_group(self, chat: dict[str, Any], user: dict[str, Any]) -> None:
        """The bot becomes a member of a group (a my_chat_member update)."""
        bot_user = self._bot_user()
        await self.push_update(
            {
                "my_chat_member": {
                    "chat": chat,
                    "from": user,
                    "date": int(time.time()),
                    "old_chat_member": {"status": "left", "user": bot_user},
                    "new_chat_member": {"status": "member", "user": bot_user},
                }
            }
        )

    async def push_update(self, payload: dict[str, Any]) -> int:
        assert self._changed is not None, "start() the fake API first"
        update_id = next(self._update_ids)
        for kind in ("message", "edited_message"):
            if kind in payload:
                self.pushed_at[payload[kind]["message_id"]] = time.monotonic()
        async with self._changed:
            self._updates.append({"update_id": update_id, **payload})
            self._changed.notify_all()
        return update_id

    # --- what a test asserts ----------------------------------------------------------------

    def replies_to(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """Bot messages sent in reply to `message`."""
        chat_id, message_id = message["chat"]["id"], message["message_id"]
        return [
            m
            for m in self.sent
            if m["chat"]["id"] == chat_id
            and m.get("reply_to_message", {}).get("message_id") == message_id
        ]

    def reply_latency(self, message: dict[str, Any]) -> float:
        """Seconds from a person's message reaching the API to the bot's first reply to it."""
        replies = self.replies_to(message)
        first = min(self.sent_at[r["message_id"]] for r in replies)
        return first - self.pushed_at[message["message_id"]]

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["chat"]["id"] == chat_id]

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(
        self, condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition"
    ) -> None:
        """Wait until `condition()` holds after some request; fail after `timeout` seconds."""
        assert self._changed is not None
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(condition), timeout)
            except asyncio.TimeoutError:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None

    async def settle(self, quiet_s: float = 0.5, timeout: float = 30.0) -> None:
        """Wait until the bot has made no request for `quiet_s` (all updates handled)."""
        deadline = time.monotonic() + timeout
        seen = -1
        while time.monotonic() < deadline:
            pending = bool(self._updates)
            if len(self.calls) == seen and not pending:
                return
            seen = len(self.calls)
            await asyncio.sleep(quiet_s)
        raise AssertionError(f"bot still busy after {timeout}s")

    # --- the HTTP side ----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        if self.throttled.get(method, 0) > 0:
            self.throttled[method] -= 1
            await self._record(Call(method + ":429", params))
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1},
                },
                status=429,
            )
        handler = getattr(self, "_api_" + method, None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        try:
            result = await handler(params)
        except ApiError as exc:
            return _error(exc.code, exc.description)
        if method != "getUpdates":
            await self._record(Call(method, params))
        return web.json_response({"ok": True, "result": result})

    async def _record(self, call: Call) -> None:
        assert self._changed is not None
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        return True

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        assert self._changed is not None
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = min(float(params.get("timeout") or 0), _MAX_POLL_S)
        async with self._changed:
            # Confirmed updates (below the offset) are gone, as on Telegram.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if not self._updates and timeout > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed.wait_for(self._poll_done), timeout)
            return self._updates[:limit]

    def _poll_done(self) -> bool:
        return bool(self._updates) or self._closing

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        text = str(params["text"])
        _check_text(text, params.get("parse_mode"))
        _check_markup(params.get("reply_markup"))
        chat = self._chat_of(chat_id)
        message = self._new_message(chat, self._bot_user(), text=text)
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            replied = self._messages.get((chat_id, int(reply["message_id"])))
            if replied is not None:
                message["reply_to_message"] = {
                    k: v for k, v in replied.items() if k != "reply_to_message"
                }
            elif not reply.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.sent.append(message)
        self.sent_at[message["message_id"]] = time.monotonic()
        return message

    async def _api_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        _check_text(str(params["text"]), params.get("parse_mode"))
        message = self._messages.get((chat_id, message_id))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        message["text"] = params["text"]
        return message

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        if self.stale_queries > 0:
            self.stale_queries -= 1
            raise ApiError(400, "Bad Request: query is too old and response timeout expired")
        if len(str(params.get("text", ""))) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    async def _api_answerInlineQuery(self, params: dict[str, Any]) -> bool:
        results = params.get("results")
        if not isinstance(results, list) or len(results) > 50:
            raise ApiError(400, "Bad Request: RESULTS_TOO_MUCH")
        for result in results:
            if not 1 <= len(str(result.get("id", "")).encode()) <= 64:
                raise ApiError(400, "Bad Request: RESULT_ID_INVALID")
            content = result.get("input_message_content", {})
            _check_text(str(content.get("message_text", "")), content.get("parse_mode"))
        return True

    async def _api_sendChatAction(self, params: dict[str, Any]) -> bool:
        return True

    async def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        self.commands[str(params.get("language_code") or "")] = list(params["commands"])
        return True

    async def _api_getMyCommands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands.get(str(params.get("language_code") or ""), [])

    async def _api_deleteMyCommands(self, params: dict[str, Any]) -> bool:
        self.commands.pop(str(params.get("language_code") or ""), None)
        return True

    async def _api_leaveChat(self, params: dict[str, Any]) -> bool:
        self.left_chats.append(int(params["chat_id"]))
        return True

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "NewsQA",
            "username": self.bot_username,
        }

    def _chat_of(self, chat_id: int) -> dict[str, Any]:
        for (known_chat, _), message in self._messages.items():
            if known_chat == chat_id:
                chat: dict[str, Any] = message["chat"]
                return chat
        if chat_id > 0:
            return self.private_chat(chat_id)
        return self.group_chat(chat_id)

    def _new_message(
        self, chat: dict[str, Any], user: dict[str, Any], text: str | None = None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
        }
        if text is not None:
            message["text"] = text
        self._messages[(chat["id"], message["message_id"])] = message
        return message


def visible_text(message_html: str) -> str:
    """What a person sees: the HTML message with tags removed and entities decoded."""
    parser = _TelegramHtml()
    parser.feed(message_html)
    parser.close()
    return "".join(parser.text)


def bold_parts(message_html: str) -> list[str]:
    """The texts shown in bold."""
    parser = _TelegramHtml()
    parser.feed(message_html)
    parser.close()
    return parser.bold


def block_quotes(message_html: str) -> list[tuple[str, bool]]:
    """The texts shown in block quotes, each with whether it is expandable (collapsed)."""
    parser = _TelegramHtml()
    parser.feed(message_html)
    parser.close()
    return parser.quotes


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


class _TelegramHtml(HTMLParser):
    """Parses a message as Telegram does: only its tags, balanced, with entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.bold: list[str] = []
        self.quotes: list[tuple[str, bool]] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            raise ApiError(
                400, f'Bad Request: can\'t parse entities: unsupported start tag "{tag}"'
            )
        unknown = {name for name, _ in attrs} - _ALLOWED_ATTRS.get(tag, set())
        if unknown:
            raise ApiError(
                400, f"Bad Request: can't parse entities: unsupported attribute {unknown}"
            )
        if tag == "blockquote":
            if "blockquote" in self._open:  # Telegram: block quotes cannot be nested
                raise ApiError(400, "Bad Request: can't parse entities: nested blockquote")
            self.quotes.append(("", any(name == "expandable" for name, _ in attrs)))
        self._open.append(tag)
        if tag in ("b", "strong"):
            self.bold.append("")

    def handle_endtag(self, tag: str) -> None:
        if not self._open or self._open[-1] != tag:
            raise ApiError(400, f'Bad Request: can\'t parse entities: unexpected end tag "{tag}"')
        self._open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if any(t in ("b", "strong") for t in self._open):
            self.bold[-1] += data
        if "blockquote" in self._open:
            text, expandable = self.quotes[-1]
            self.quotes[-1] = (text + data, expandable)

    def close(self) -> None:
        super().close()
        if self._open:
            raise ApiError(400, "Bad Request: can't parse entities: unclosed tag")


def _check_text(text: str, parse_mode: object) -> None:
    shown = visible_text(text) if parse_mode == "HTML" else text
    if not shown.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if _utf16(shown) > 4096:  # Telegram counts UTF-16 code units
        raise ApiError(400, "Bad Request: message is too long")


def _check_markup(markup: object) -> None:
    if not isinstance(markup, dict):
        return
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode("utf-8")) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")


def _auto_entities(text: str) -> list[dict[str, Any]]:
    """bot_command at the start and @mentions, with offsets in UTF-16 code units."""
    entities = []
    command = _COMMAND.match(text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": _utf16(command.group())})
    for mention in _MENTION.finditer(text):
        entities.append(
            {
                "type": "mention",
                "offset": _utf16(text[: mention.start()]),
                "length": _utf16(mention.group()),
            }
        )
    return entities


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        data: dict[str, Any] = await request.json()
        return data
    form = await request.post()
    params: dict[str, Any] = {}
    for key, value in form.items():
        text = value if isinstance(value, str) else ""
        params[key] = json.loads(text) if key in _JSON_PARAMS else text
    params.update({k: v for k, v in request.query.items() if k not in params})
    return params


def _error(code: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": code, "description": description}, status=code
    )


def _bound_port(runner: web.AppRunner) -> int:
    """The port the OS picked for port 0."""
    for address in runner.addresses:
        return int(address[1])
    raise RuntimeError("the fake Bot API is not listening")
