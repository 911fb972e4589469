"""Where the CLI's bytes go: atomic output files, and progress bars on a terminal.

What it does: :class:`AtomicOutput` writes into a hidden temporary file next to
the target and renames it into place only when the work succeeded, so a failed
or interrupted run leaves no partial output and never clobbers an existing file
without ``--force``. :func:`progress_bar` shows tqdm on a terminal for work over
about a second, and nothing otherwise.
What it does not do: decide names (``arzip.cli.compress`` does).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import IO

from ..errors import OutputExistsError

PROGRESS_DELAY_SECONDS = 1.0


class AtomicOutput:
    """A temporary file that becomes ``path`` on :meth:`commit`, or vanishes."""

    def __init__(self, path: str, *, force: bool) -> None:
        if os.path.lexists(path) and not force:
            raise OutputExistsError(f"{path}: already exists (use -f to overwrite)")
        if os.path.isdir(path):
            raise OutputExistsError(f"{path}: is a directory")
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        fd, self.temp_path = tempfile.mkstemp(
            dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".part"
        )
        self.file: IO[bytes] = os.fdopen(fd, "wb")
        self._force = force

    def commit(self, like: str | None = None) -> None:
        """Make the output visible (with ``like``'s permissions and times, as gzip does)."""
        self.file.close()
        if like is not None:
            with contextlib.suppress(OSError):
                shutil.copystat(like, self.temp_path)
        if not self._force and os.path.lexists(self.path):  # appeared while we worked
            self.discard()
            raise OutputExistsError(f"{self.path}: already exists (use -f to overwrite)")
        os.replace(self.temp_path, self.path)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp_path)


@contextlib.contextmanager
def progress_bar(
    total: int | None, description: str, stream: IO[str], enabled: bool
) -> Iterator[Callable[[int], None]]:
    """A callback taking byte counts; draws a bar only on a terminal after a second."""
    if not enabled or not _is_terminal(stream):
        yield lambda n: None
        return
    from tqdm import tqdm

    with tqdm(
        total=total,
        desc=description,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        delay=PROGRESS_DELAY_SECONDS,
        file=stream,
        leave=False,
    ) as bar:
        yield bar.update


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
