"""Retrieval core of newsqa: load and clean stories, build a hybrid index, answer with citations.

Nothing here imports `telegram` or `bot`; heavy libraries are imported lazily.
"""
