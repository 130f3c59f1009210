"""Errors raised inside `index/`: the CLI turns them into one line, the bot into a polite reply."""


class NewsqaError(Exception):
    """Base class for every error newsqa reports to a person."""

    exit_status = 1  # the CLI's exit status; subclasses for other causes pick their own


class InputError(NewsqaError):
    """What the person gave (a question, a file) is not valid text."""

    exit_status = 65  # EX_DATAERR


class IndexNotFoundError(NewsqaError):
    """No usable index generation exists yet."""


class IndexInvalidError(NewsqaError):
    """A generation is partial, corrupt or built for another embedder or schema."""


class BuildError(NewsqaError):
    """A build could not produce a generation; the previous one is untouched."""


class BuildBusyError(BuildError):
    """Another build holds the lock: try again later."""

    exit_status = 75  # EX_TEMPFAIL


class EmbedderError(NewsqaError):
    """The embedding model could not be loaded or used."""


class ConfigError(NewsqaError):
    """A NEWSQA_* setting (or the bot's token) is not valid: fix the configuration, not the
    command line."""

    exit_status = 78  # EX_CONFIG
