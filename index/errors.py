"""Errors raised inside `index/`: the CLI turns them into one line, the bot into a polite reply."""


class NewsqaError(Exception):
    """Base class for every error newsqa reports to a person."""


class IndexNotFoundError(NewsqaError):
    """No usable index generation exists yet."""


class IndexInvalidError(NewsqaError):
    """A generation is partial, corrupt or built for another embedder or schema."""


class BuildError(NewsqaError):
    """A build could not produce a generation; the previous one is untouched."""


class EmbedderError(NewsqaError):
    """The embedding model could not be loaded or used."""
