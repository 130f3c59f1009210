"""Loading: encodings, whitespace normalisation, and bad files skipped with a warning."""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
from pathlib import Path

import pytest

from index.cleaning import split_articles
from index.loading import (
    MAX_FOLDER_DEPTH,
    LoadReport,
    SkippedFile,
    UndecodableError,
    decode_story_bytes,
    drop_terminal_escapes,
    load_pages,
    looks_like_text,
    normalize_whitespace,
    read_story,
    safe_name,
)
from index.settings import Settings
from index.stages import load_stories

STORY = "本报拉萨讯(记者 卓嘎)近日,吉崩岗社区开展志愿服务活动。\n\n活动共有30名党员参加。\n"


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_utf8_story_loads_with_hash_and_relative_name(tmp_path: Path) -> None:
    raw = STORY.encode("utf-8")
    write(tmp_path / "sub" / "a.txt", raw)
    report = load_pages(tmp_path)
    (page,) = report.pages
    assert page.file == "sub/a.txt"
    assert page.encoding == "utf-8"
    assert page.sha256 == hashlib.sha256(raw).hexdigest()
    assert page.text == STORY
    assert report.skipped == ()


def test_utf8_with_bom_drops_the_bom(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", codecs.BOM_UTF8 + STORY.encode("utf-8"))
    (page,) = load_pages(tmp_path).pages
    assert page.encoding == "utf-8-sig"
    assert page.text.startswith("本报")


def test_gb18030_story_is_detected(tmp_path: Path) -> None:
    write(tmp_path / "gb.txt", STORY.encode("gb18030"))
    (page,) = load_pages(tmp_path).pages
    assert page.encoding == "gb18030"
    assert "吉崩岗社区" in page.text


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    write(tmp_path / "u16.txt", STORY.encode("utf-16"))
    (page,) = load_pages(tmp_path).pages
    assert page.encoding == "utf-16"
    assert "30名党员" in page.text


def test_binary_is_rejected_even_without_nul_bytes() -> None:
    # 0x81..0xFE pairs are valid GB18030, so this decodes; it must still be refused
    noise = bytes(range(0x81, 0xFF)) * 20 + bytes(range(1, 9)) * 40
    with pytest.raises(UndecodableError, match="binary"):
        decode_story_bytes(noise)


def test_nul_bytes_mean_binary() -> None:
    with pytest.raises(UndecodableError, match="binary"):
        decode_story_bytes(b"PK\x03\x04\x00\x00text")


def test_looks_like_text_accepts_chinese_and_refuses_control_soup() -> None:
    assert looks_like_text("日喀则市榜上有名。\n")
    assert not looks_like_text("\x01\x02\x03\x04abc")


def test_normalize_whitespace_unifies_newlines_and_keeps_spaces_inside_lines() -> None:
    # Indents and trailing spaces go; spaces inside a line are the story's own characters.
    text = "\u3000\u3000第一段\u00a0内容，\u3000“引号”\r\n\r\n第二段  尾\t\r第三段\ufeff\f第四段"
    expected = "第一段\u00a0内容，\u3000“引号”\n\n第二段  尾\n第三段\n第四段\n"
    assert normalize_whitespace(text) == expected


def test_bad_files_are_skipped_with_a_warning_while_others_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path / "good.txt", STORY.encode("utf-8"))
    write(tmp_path / "gb.txt", STORY.encode("gb18030"))
    write(tmp_path / "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    write(tmp_path / "empty.txt", b"")
    write(tmp_path / "blank.txt", " \n\u3000\n".encode())
    (tmp_path / "dir.txt").mkdir()  # unreadable as a file, even for root
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "missing")
    with caplog.at_level(logging.WARNING, logger="index.loading"):
        report = load_pages(tmp_path)

    assert [p.file for p in report.pages] == ["gb.txt", "good.txt"]
    reasons = {s.file: s.reason for s in report.skipped}
    assert set(reasons) == {"binary.txt", "empty.txt", "blank.txt", "dir.txt", "dangling.txt"}
    assert reasons["empty.txt"] == reasons["blank.txt"] == "empty"
    assert reasons["binary.txt"].startswith("binary")
    assert reasons["dir.txt"].startswith("unreadable")
    assert reasons["dangling.txt"].startswith("unreadable")
    for name in reasons:
        assert any(name in r.getMessage() for r in caplog.records), name


def test_permission_denied_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.txt", STORY.encode("utf-8"))
    path.chmod(0)
    try:
        readable = _can_read(path)
        report = load_pages(tmp_path)
    finally:
        path.chmod(0o644)
    if readable:
        pytest.skip("running as a user who can read mode-000 files (root)")
    assert report == LoadReport(pages=(), skipped=(report.skipped[0],))
    assert report.skipped[0].file == "secret.txt"
    assert report.skipped[0].reason.startswith("unreadable")


def _can_read(path: Path) -> bool:
    try:
        path.read_bytes()
    except OSError:
        return False
    return True


def test_undecodable_text_is_skipped(tmp_path: Path) -> None:
    # 0x80 and 0xFF are invalid lead bytes in both UTF-8 and GB18030
    write(tmp_path / "latin.txt", b"caf\xe9 \x80\xff\x80\xff ok")
    report = load_pages(tmp_path)
    assert report.pages == ()
    assert report.skipped == (SkippedFile("latin.txt", report.skipped[0].reason),)
    assert "UTF-8" in report.skipped[0].reason


def test_order_is_sorted_and_pattern_is_respected(tmp_path: Path) -> None:
    for name in ["b.txt", "a.txt", "c.md", "z/y.txt"]:
        write(tmp_path / name, STORY.encode("utf-8"))
    assert [p.file for p in load_pages(tmp_path).pages] == ["a.txt", "b.txt", "z/y.txt"]
    assert [p.file for p in load_pages(tmp_path, "*.md").pages] == ["c.md"]


def test_safe_name_escapes_only_what_is_not_printable_utf8() -> None:
    assert safe_name("新闻/报道.txt") == "新闻/报道.txt"
    assert safe_name(b"caf\xe9.txt".decode("utf-8", "surrogateescape")) == "caf\\xe9.txt"
    assert safe_name("a\x1b[2J.txt") == "a\\x1b[2J.txt"
    safe_name(b"\xff\xfe.txt".decode("utf-8", "surrogateescape")).encode("utf-8")


def test_untrusted_entries_are_skipped_without_being_read(tmp_path: Path) -> None:
    docs, outside = tmp_path / "docs", tmp_path / "outside"
    write(outside / "secret.txt", STORY.encode("utf-8"))
    write(docs / "a.txt", STORY.encode("utf-8"))
    os.mkfifo(docs / "fifo.txt")
    (docs / "out.txt").symlink_to(outside / "secret.txt")
    (docs / "in.txt").symlink_to(docs / "a.txt")
    (docs / "linked").symlink_to(outside, target_is_directory=True)
    write(docs / "big.txt", STORY.encode("utf-8") * 10)

    report = load_pages(docs, max_bytes=len(STORY.encode("utf-8")) * 2)
    assert [p.file for p in report.pages] == ["a.txt", "in.txt"]
    reasons = {s.file: s.reason for s in report.skipped}
    assert reasons == {
        "big.txt": "too large (1,140 bytes; the limit is 228)",
        "fifo.txt": "not a regular file (a FIFO)",
        "linked/": "symlinked folder, not followed",
        "out.txt": "symlink to outside the story folder",
    }
    allowed = load_pages(docs, max_bytes=10_000, follow_outside_symlinks=True)
    assert [p.file for p in allowed.pages] == ["a.txt", "big.txt", "in.txt", "out.txt"]


def test_read_story_is_bounded_and_never_opens_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    assert read_story(tmp_path / "pipe.txt", tmp_path, 100, False) == "not a regular file (a FIFO)"
    write(tmp_path / "ok.txt", b"x" * 100)
    assert read_story(tmp_path / "ok.txt", tmp_path, 100, False) == b"x" * 100
    assert str(read_story(tmp_path / "ok.txt", tmp_path, 99, False)).startswith("too large")


def test_non_utf8_names_load_under_their_escaped_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    name = os.fsdecode("新闻报道.txt".encode("gb18030"))
    write(tmp_path / name, STORY.encode("utf-8"))
    with caplog.at_level(logging.WARNING, logger="index.loading"):
        (page,) = load_pages(tmp_path).pages
    assert page.file == "\\xd0\\xc2\\xce\u0171\\xa8\\xb5\\xc0.txt"
    assert page.file in caplog.text


def test_normalize_whitespace_skips_only_expressions_with_nothing_to_do() -> None:
    from index.loading import INVISIBLE_CHARS, LINE_BREAK

    def by_expressions(text: str) -> str:
        text = INVISIBLE_CHARS.sub("", LINE_BREAK.sub("\n", text))
        return "\n".join(line.strip() for line in text.split("\n")).strip("\n") + "\n"

    samples = [
        "平常的一行。\n第二行\n",
        "a\r\nb\rc\u2028d\u2029e\x85f\x0cg\x0bh",
        "零\u200b宽\u200c连\u200d字\u2060符\ufeff",
        "\ufeff标题\r\n\r\n  正文  \u3000\n",
    ]
    for text in samples:
        assert normalize_whitespace(text) == by_expressions(text)


def nested_folders(top: Path, depth: int) -> list[Path]:
    """`depth` folders one inside the other under `top`, made one level at a time (makedirs
    recurses per level)."""
    top.mkdir()
    folders = [top]
    for _ in range(depth):
        folders.append(folders[-1] / "d")
        folders[-1].mkdir()
    return folders[1:]


def test_a_folder_nested_a_thousand_deep_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    docs = tmp_path / "docs"
    folders = nested_folders(docs, 1_000)
    write(docs / "top.txt", STORY.encode("utf-8"))
    write(folders[2] / "third.txt", STORY.encode("utf-8"))
    write(folders[-1] / "bottom.txt", STORY.encode("utf-8"))
    try:
        with caplog.at_level(logging.WARNING, logger="index.loading"):
            report = load_pages(docs)
    finally:
        for folder in reversed(folders):
            for path in folder.glob("*.txt"):
                path.unlink()
            folder.rmdir()
    assert [p.file for p in report.pages] == ["d/d/d/third.txt", "top.txt"]
    (skip,) = report.skipped
    assert skip.file == "d/" * (MAX_FOLDER_DEPTH + 1)
    assert skip.reason == f"nested deeper than {MAX_FOLDER_DEPTH} folders, not read"
    assert skip.file in caplog.text


def test_a_story_hardlinked_from_outside_is_skipped_like_a_symlink(tmp_path: Path) -> None:
    docs, outside = tmp_path / "docs", tmp_path / "outside"
    secret = write(outside / "secret.txt", STORY.encode("utf-8"))
    story = write(docs / "a.txt", STORY.encode("utf-8"))
    os.link(secret, docs / "leak.txt")
    (docs / "sub").mkdir()
    os.link(story, docs / "sub" / "a-again.txt")
    os.link(story, docs / "a.bak")  # a link under another name, still inside the folder

    report = load_pages(docs)
    assert [p.file for p in report.pages] == ["a.txt", "sub/a-again.txt"]
    assert {s.file: s.reason for s in report.skipped} == {
        "leak.txt": "hardlink to outside the story folder (1 of 2 links in it)"
    }
    allowed = load_pages(docs, follow_outside_symlinks=True)
    assert [p.file for p in allowed.pages] == ["a.txt", "leak.txt", "sub/a-again.txt"]


def test_terminal_escapes_are_dropped_whole_from_story_text() -> None:
    assert drop_terminal_escapes("共\x1b[31m120座\x1b[0m") == "共120座"
    assert drop_terminal_escapes("\x9b1;31m红\x1b[?25l字") == "红字"  # C1 CSI, private mode
    assert drop_terminal_escapes("\x1b]0;owned\x07标题\x1b]8;;http://x\x1b\\链接") == "标题链接"
    assert drop_terminal_escapes("\x1b(B字\x1b7\x1b8") == "字"  # charset, save/restore cursor
    assert drop_terminal_escapes("\x1b]0;没有结尾") == "0;没有结尾"  # an open string: ESC ] goes
    assert drop_terminal_escapes("报道\x1b") == "报道\x1b"  # a lone ESC stays (shown escaped)
    plain = "本报讯（记者 甲）[1] 30m高的塔。"
    assert drop_terminal_escapes(plain) == plain


def test_no_escape_parameter_reaches_an_article(tmp_path: Path) -> None:
    # two escapes among a hundred characters: under the share that reads as binary
    coloured = "据介绍，今年共建成\x1b[1;31m120座\x1b[0m村卫生室。"
    write(tmp_path / "a.txt", f"{STORY * 2}\n{coloured}\n".encode())
    (page,) = load_pages(tmp_path).pages
    assert page.text == f"{STORY * 2}\n据介绍，今年共建成120座村卫生室。\n"
    assert "共建成120座村卫生室。" in split_articles(page)[-1].text


def test_a_short_coloured_story_is_text_not_binary(tmp_path: Path) -> None:
    # four escapes in a story of 30 characters: far over the binary share before dropping
    write(
        tmp_path / "a.txt",
        "今年共建成\x1b[1;31m120座\x1b[0m村卫生室，\x1b[32m覆盖\x1b[0m全县。\n".encode(),
    )
    (page,) = load_pages(tmp_path).pages
    assert page.text == "今年共建成120座村卫生室，覆盖全县。\n"


def test_a_page_of_too_many_lines_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path / "table.txt", "\n".join(["聂荣县"] * 150).encode())
    write(tmp_path / "story.txt", STORY.encode("utf-8"))
    with caplog.at_level(logging.WARNING, logger="index.loading"):
        report = load_stories(Settings(docs_dir=tmp_path, max_story_lines=100))
    assert [p.file for p in report.pages] == ["story.txt"]
    assert report.skipped == (SkippedFile("table.txt", "too many lines (150; the limit is 100)"),)
    assert "table.txt" in caplog.text
    assert len(load_stories(Settings(docs_dir=tmp_path, max_story_lines=150)).pages) == 2
