"""The bot's fixed wording in Chinese and English, shared by Telegram and the console chat."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Lang = Literal["zh", "en"]

# CJK ideographs (with extension A and compatibility forms) and CJK punctuation.
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_language(text: str, fallback: Lang = "en") -> Lang:
    """zh if the text has any CJK character, en if it has other letters, else the fallback."""
    if _CJK.search(text):
        return "zh"
    if any(ch.isalpha() for ch in text):
        return "en"
    return fallback


def language_of_user(language_code: str | None) -> Lang:
    """Telegram's IETF language tag of the user, reduced to the two languages the bot speaks."""
    return "zh" if language_code and language_code.lower().startswith("zh") else "en"


@dataclass(frozen=True)
class Texts:
    """Every sentence the bot says in one language; {placeholders} are filled by str.format."""

    start: str
    help: str
    about: str
    abstain: str
    sources: str
    paragraph: str
    passage_label: str
    untitled: str
    more_header: str
    no_more: str
    source_button: str
    more_button: str
    source_gone: str
    passage_cut: str
    context_note: str
    new_conversation: str
    inline_not_found: str
    question_gone: str
    too_long: str
    no_words: str
    empty_question: str
    rate_limited: str
    not_text: str
    not_allowed: str
    thanks_feedback: str
    error: str
    index_unavailable: str
    command_start: str
    command_help: str
    command_ask: str
    command_about: str
    command_new: str


ZH = Texts(
    start=(
        "你好！我回答关于新闻报道的问题，并给出原文出处。\n"
        "直接发送问题即可，例如：聂荣县远程会诊多少场？\n"
        "在群里请用 /ask 提问，或 @我，或回复我的消息。"
    ),
    help=(
        "用法：\n"
        "· 私聊：直接发送问题。\n"
        "· 群聊：/ask 问题，或 @{bot} 问题，或回复我的消息。\n"
        "· 答案下方的「相关来源」点开可看其他段落；「原文 n」显示第 n 篇报道的出处段落，"
        "「更多」列出更多相关段落（私聊），👍/👎 反馈答案质量。\n"
        "· 追问（如“那开到哪天”）接着上一个答案的报道回答；/new 重新开始。\n"
        "· 在任意聊天输入 @{bot} 问题，可把答案分享出去。\n"
        "· /about 查看索引信息。"
    ),
    about=(
        "索引 {generation}（构建于 {built_at}）\n"
        "报道文件 {stories} 个 · 文章 {articles} 篇 · 片段 {chunks} 个\n"
        "向量模型：{embedder}（{index_type}）"
    ),
    abstain="没有在报道中找到这个问题的答案。最接近的段落：",
    sources="相关来源：",
    paragraph="第{n}段",
    passage_label="第{n}段：",
    untitled="无标题报道",
    more_header="更多相关段落：",
    no_more="没有更多相关段落了。",
    source_button="原文 {n}",
    more_button="更多",
    source_gone="这个段落已不在当前索引中，请重新提问。",
    passage_cut="（原文过长，只显示这一条消息放得下的部分。）",
    context_note="（接上文：{article}）",
    new_conversation="好的，重新开始：下一个问题不再接上文。",
    inline_not_found="没有找到答案",
    question_gone="找不到原来的问题了，请重新提问。",
    too_long="问题太长了（最多 {limit} 个字），请精简后再问。",
    no_words="请用文字提问，我才能在报道里查找。",
    empty_question="请在命令后写上问题，例如：/ask 聂荣县远程会诊多少场？",
    rate_limited="提问太快了，请稍等片刻再问。",
    not_text="我只能回答文字问题。",
    not_allowed="抱歉，这个机器人只在指定的聊天中提供服务。",
    thanks_feedback="谢谢反馈！",
    error="抱歉，处理时出了点问题，请稍后再试。",
    index_unavailable="索引暂时不可用，请稍后再试。",
    command_start="开始使用",
    command_help="使用说明",
    command_ask="提问（群聊中使用）",
    command_about="索引信息",
    command_new="重新开始（不接上文）",
)

EN = Texts(
    start=(
        "Hello! I answer questions about the news stories and cite where the answer comes from.\n"
        "Just send a question.\n"
        "In a group, use /ask, mention me, or reply to one of my messages."
    ),
    help=(
        "How to use:\n"
        "· Private chat: send a question.\n"
        "· Group: /ask question, or @{bot} question, or reply to my message.\n"
        "· Under an answer, tap “Sources” to unfold further passages; “Source n” shows the "
        "passage of story n, “More” lists further passages (private chats), 👍/👎 rates the "
        "answer.\n"
        "· A follow-up (“and until when?”) is answered from the last answer's story; /new "
        "starts afresh.\n"
        "· Type @{bot} question in any chat to share an answer.\n"
        "· /about shows the index."
    ),
    about=(
        "Index {generation} (built {built_at})\n"
        "{stories} story files · {articles} articles · {chunks} chunks\n"
        "Embedder: {embedder} ({index_type})"
    ),
    abstain="I could not find the answer in the stories. The nearest passages:",
    sources="Sources:",
    paragraph="para. {n}",
    passage_label="para. {n}: ",
    untitled="untitled story",
    more_header="More passages:",
    no_more="No further passages.",
    source_button="Source {n}",
    more_button="More",
    source_gone="That passage is no longer in the index; please ask again.",
    passage_cut="(The passage is too long for one message; it is cut here.)",
    context_note="(Following on from: {article})",
    new_conversation="OK, starting afresh: the next question stands on its own.",
    inline_not_found="No answer found",
    question_gone="I cannot find the original question any more; please ask again.",
    too_long="That question is too long (at most {limit} characters); please shorten it.",
    no_words="Please ask in words so I can search the stories.",
    empty_question="Please write a question after the command, e.g. /ask How many consultations?",
    rate_limited="You are asking too fast; please wait a moment.",
    not_text="I can only answer text questions.",
    not_allowed="Sorry, this bot only serves selected chats.",
    thanks_feedback="Thanks for the feedback!",
    error="Sorry, something went wrong; please try again later.",
    index_unavailable="The index is not available right now; please try again later.",
    command_start="Start",
    command_help="How to use",
    command_ask="Ask a question (in groups)",
    command_about="About the index",
    command_new="Start afresh (forget the last answer)",
)

TEXTS: dict[Lang, Texts] = {"zh": ZH, "en": EN}


def texts_for(lang: Lang) -> Texts:
    """The wording for one language."""
    return TEXTS[lang]
