"""Live index reload: one engine reference, swapped whole once a new generation validates."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.answers import AnswerCache
from index.engine import QAEngine
from index.settings import Settings

log = logging.getLogger(__name__)

# A question every valid index can answer (or abstain on) without raising.
PROBE_QUESTION = "测试"

EngineLoader = Callable[[Settings], QAEngine]
GenerationReader = Callable[[Path], "str | None"]


@dataclass(frozen=True)
class Serving:
    """The engine that answers now, the generation it was loaded from, and its answers so far."""

    engine: QAEngine
    generation: str | None
    # What `current` named when this engine was loaded. It differs from `generation` when
    # `current` was refused and an older generation serves instead; comparing with it keeps
    # the bot from reloading the refused generation at every check.
    requested: str | None = None
    # Remembered with the engine, so a swap forgets the old index's answers with it.
    answers: AnswerCache = field(default_factory=AnswerCache, compare=False, repr=False)


class EngineHolder:
    """Holds the serving engine; a handler reads `.serving` once, so a swap never cuts it off."""

    def __init__(self, serving: Serving | None = None) -> None:
        self._serving = serving

    @property
    def serving(self) -> Serving | None:
        return self._serving

    def swap(self, serving: Serving) -> None:
        # One attribute assignment: readers see the old pair or the new pair, never a mix.
        self._serving = serving


class IndexReloader:
    """Loads the current generation when it changes (timer or SIGHUP) and swaps it in."""

    def __init__(
        self,
        settings: Settings,
        holder: EngineHolder,
        load: EngineLoader,
        read_generation: GenerationReader,
        on_reloading: Callable[[], object] = lambda: None,
        on_ready: Callable[[str | None], object] = lambda generation: None,
    ) -> None:
        self._settings = settings
        self._holder = holder
        self._load = load
        self._read_generation = read_generation
        self._on_reloading = on_reloading
        self._on_ready = on_ready
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._refused: str | None = None

    def request(self) -> None:
        """Check now instead of at the next tick (the SIGHUP handler calls this)."""
        self._wake.set()

    async def load_initial(self) -> Serving:
        """Load the current generation at start; errors propagate, there is nothing to keep."""
        generation = await asyncio.to_thread(self._read_generation, self._settings.index_dir)
        serving = await asyncio.to_thread(self._load_and_validate, generation)
        self._holder.swap(serving)
        return serving

    async def check(self, *, forced: bool = False) -> bool:
        """Swap in the current generation if it changed and validates; True if swapped.

        `forced` (SIGHUP) also retries a generation refused before, and always tells systemd
        RELOADING=1 … READY=1, as a reload it asked for expects.
        """
        async with self._lock:
            announced = forced
            if forced:
                self._on_reloading()
            try:
                generation = await asyncio.to_thread(
                    self._read_generation, self._settings.index_dir
                )
                serving = self._holder.serving
                if generation is None or (serving and generation == serving.generation):
                    return False
                if serving and generation == serving.requested and not forced:
                    return False  # `current` is the one refused at the last load
                if generation == self._refused and not forced:
                    return False
                log.info("index generation %s is current; loading it", generation)
                if not announced:
                    self._on_reloading()
                    announced = True
                try:
                    fresh = await asyncio.to_thread(self._load_and_validate, generation)
                except Exception as exc:
                    # Keep answering from the old index; say why the new one was refused.
                    self._refused = generation
                    log.warning(
                        "refused index generation %s, keeping the old one: %s", generation, exc
                    )
                    return False
                self._holder.swap(fresh)
                self._refused = None
                log.info("now serving index generation %s", fresh.generation)
                return True
            finally:
                if announced:
                    current = self._holder.serving
                    self._on_ready(current.generation if current else None)

    async def watch(self) -> None:
        """Check every reload_interval_s, or at once when requested, until cancelled."""
        while True:
            forced = False
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._settings.reload_interval_s)
                forced = True
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.check(forced=forced)
            except Exception:
                log.exception("index reload check failed; will try again")

    def _load_and_validate(self, generation: str | None) -> Serving:
        """Runs in a worker thread: load, then prove the engine answers before it serves."""
        engine = self._load(self._settings)
        loaded = engine.info.generation
        if generation is not None and loaded != generation:
            # `current` was refused (the loader fell back), or moved again while we loaded;
            # only a change of `current` triggers the next load.
            log.warning("serving generation %s although %s is current", loaded, generation)
        engine.answer(PROBE_QUESTION)
        return Serving(engine, loaded, requested=generation)
