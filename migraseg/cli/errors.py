"""Errors a user can fix, shown as one message and exit status 1 (not a Hydra traceback).

Hydra's ``@hydra.main`` prints "Error executing job with overrides ..." and the whole traceback
for any exception. Our own error types already say what is wrong and with which file, so the
Hydra apps run their body inside :func:`user_errors`, which prints just that message.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


def user_error_types() -> tuple[type[BaseException], ...]:
    """migraseg's error types whose message is the whole story (imported when needed)."""
    from migraseg.data.contract import DatasetError
    from migraseg.export import ExportError
    from migraseg.inference.loading import ModelLoadError
    from migraseg.io import ImageReadError

    return DatasetError, ModelLoadError, ImageReadError, ExportError, FileNotFoundError


@contextlib.contextmanager
def user_errors(prog: str, *extra: type[BaseException]) -> Iterator[None]:
    """Turn migraseg's own errors (and ``extra`` types) into ``prog: message`` on stderr and
    ``SystemExit(1)`` (which Hydra lets through); any other exception keeps its traceback (a bug
    to report)."""
    types = (*user_error_types(), *extra)
    try:
        yield
    except types as err:
        print(f"{prog}: {err}", file=sys.stderr)
        raise SystemExit(1) from None
