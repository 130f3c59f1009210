"""Gate: token buckets, the allow-list, who is addressed in a group, question shape."""

from __future__ import annotations

from datetime import datetime, timezone

from telegram import Chat, Message, MessageEntity, Update, User

from bot.gate import (
    FROM_HUMAN,
    AllowList,
    QuestionProblem,
    RateDecision,
    TokenBucket,
    addressed_question,
    question_problem,
    question_text,
)
from bot.texts import detect_language, language_of_user

BOT = User(99, "NewsQA", is_bot=True, username="newsqa_bot")
PERSON = User(1, "Tester", is_bot=False)
GROUP = Chat(-100, Chat.SUPERGROUP)
PRIVATE = Chat(1, Chat.PRIVATE)
NOW = datetime(2026, 11, 23, tzinfo=timezone.utc)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def message(
    text: str,
    chat: Chat = GROUP,
    entities: tuple[MessageEntity, ...] = (),
    reply_to: Message | None = None,
) -> Message:
    return Message(
        1, NOW, chat, from_user=PERSON, text=text, entities=entities, reply_to_message=reply_to
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_tells_once_then_refills() -> None:
    clock = Clock()
    bucket = TokenBucket(per_minute=6, burst=2, clock=clock)
    assert [bucket.take(1) for _ in range(2)] == [RateDecision.ALLOW] * 2
    assert bucket.take(1) is RateDecision.NOTIFY
    assert bucket.take(1) is RateDecision.SILENT
    assert bucket.take(2) is RateDecision.ALLOW  # other users are unaffected
    clock.now = 10.0  # 6 per minute: one token every 10 s
    assert bucket.take(1) is RateDecision.ALLOW
    assert bucket.take(1) is RateDecision.NOTIFY  # a new empty spell is announced again


def test_bucket_table_is_pruned_of_idle_users(monkeypatch: object) -> None:
    import bot.gate as gate

    clock = Clock()
    bucket = TokenBucket(per_minute=60, burst=1, clock=clock)
    original = gate._MAX_TRACKED_USERS
    gate._MAX_TRACKED_USERS = 10
    try:
        for user in range(10):
            bucket.take(user)
        clock.now = 60.0  # everyone refilled
        bucket.take(999)
        assert len(bucket) == 1
    finally:
        gate._MAX_TRACKED_USERS = original


def test_allow_list() -> None:
    assert AllowList([]).allows(12345)
    assert AllowList([1, -100]).allows(-100)
    assert not AllowList([1, -100]).allows(2)


def test_question_problems() -> None:
    assert question_problem("聂荣县远程会诊多少场", 500) is None
    assert question_problem("   ", 500) is QuestionProblem.EMPTY
    assert question_problem("聂" * 501, 500) is QuestionProblem.TOO_LONG
    assert question_problem("🙂🙂 ?!", 500) is QuestionProblem.NO_WORDS


def test_group_messages_need_a_mention_or_a_reply_to_the_bot() -> None:
    assert addressed_question(message("聂荣县远程会诊多少场"), "newsqa_bot", 99) is None
    text = "🙂 @NewsQA_bot 聂荣县远程会诊多少场"
    mention = MessageEntity(MessageEntity.MENTION, utf16("🙂 "), utf16("@NewsQA_bot"))
    assert (
        addressed_question(message(text, entities=(mention,)), "newsqa_bot", 99)
        == "🙂 聂荣县远程会诊多少场"
    )
    other = "@someone_else 聂荣县"
    other_mention = MessageEntity(MessageEntity.MENTION, 0, utf16("@someone_else"))
    assert addressed_question(message(other, entities=(other_mention,)), "newsqa_bot", 99) is None
    bot_message = Message(5, NOW, GROUP, from_user=BOT, text="答案")
    reply = message("那墨脱县呢？", reply_to=bot_message)
    assert addressed_question(reply, "newsqa_bot", 99) == "那墨脱县呢？"
    link = MessageEntity(MessageEntity.TEXT_MENTION, 0, 6, user=BOT)
    assert addressed_question(message("NewsQA 问题", entities=(link,)), "newsqa_bot", 99) == "问题"


def test_private_text_is_always_a_question() -> None:
    assert addressed_question(message("问题", chat=PRIVATE), "newsqa_bot", 99) == "问题"


def test_ask_command_is_stripped() -> None:
    for command in ("/ask", "/ask@newsqa_bot", "/ASK"):
        text = f"{command}  聂荣县 远程会诊"
        entity = MessageEntity(MessageEntity.BOT_COMMAND, 0, len(command))
        assert (
            question_text(message(text, entities=(entity,)), "newsqa_bot", 99) == "聂荣县 远程会诊"
        )


def test_languages() -> None:
    assert detect_language("聂荣县远程会诊多少场") == "zh"
    assert detect_language("How many?") == "en"
    assert detect_language("🙂", fallback="zh") == "zh"
    assert language_of_user("zh-hans") == "zh"
    assert language_of_user("de") == "en"
    assert language_of_user(None) == "en"


def test_people_and_anonymous_admins_count_as_human_bots_and_channels_do_not() -> None:
    assert FROM_HUMAN.check_update(update(message("问题")))
    robot = Message(2, NOW, GROUP, from_user=User(5, "Other", is_bot=True), text="问题")
    assert not FROM_HUMAN.check_update(update(robot))
    anonymous = User(1087968824, "Group", is_bot=True, username="GroupAnonymousBot")
    admin = Message(3, NOW, GROUP, from_user=anonymous, sender_chat=GROUP, text="问题")
    assert FROM_HUMAN.check_update(update(admin))
    channel = Chat(-100777, Chat.CHANNEL)
    forwarded = Message(4, NOW, GROUP, from_user=anonymous, sender_chat=channel, text="问题")
    assert not FROM_HUMAN.check_update(update(forwarded))


def update(message: Message) -> Update:
    return Update(1, message=message)
