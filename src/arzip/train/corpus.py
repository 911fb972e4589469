"""The shipped model's training corpus, rebuilt reproducibly from Debian packages.

What it does: extracts plain text from the packages named in docs/MODEL.md
(dict-gcide, dict-wn, bible-kjv-text, linux-doc-6.1, manpages, gnu-standards,
debian-reference-en, jargon-text) once they are installed, cuts it into documents,
and writes ``train.txt`` and ``valid.txt`` (every document whose name hashes into
the validation bucket goes to ``valid.txt``: a held-out split that does not move
when a source grows), and on request ``quotes.txt``: the literary quotations and
usage notes of all of gcide's training documents, the corpus's prose (with
``quotes_valid.txt``, those of its validation documents). Run as::

    apt-get install -y dict-gcide dict-wn bible-kjv-text bible-kjv linux-doc manpages \\
        gnu-standards debian-reference-en jargon-text
    python -m arzip.train.corpus /tmp/nncorpus
    python -m arzip.train.corpus /tmp/nncorpus --quotes

What it does not do: download anything, or ever read the benchmark corpus.
The one idea: plain text only (roff rendered by ``man``, HTML tags stripped,
dictzip read as gzip), in a fixed order with a fixed per-source byte budget.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

VALID_PERCENT = 2  # share of documents held out for validation
DOC_BYTES = 32 << 10  # long sources are cut into documents of about this size

# (source, byte budget): how much of each source goes into the corpus, in this order
BUDGETS = {
    "bible": 18 << 20,  # the whole Bible (about 4.4 MB) four times: the one book of prose
    "gcide": 16 << 20,
    "wn": 4 << 20,
    "linux-doc": 16 << 20,
    "manpages": 8 << 20,
    "gnu-standards": 2 << 20,
    "debian-reference": 4 << 20,
    "jargon": 4 << 20,
}


def _gz(path: Path) -> str:
    return gzip.decompress(path.read_bytes()).decode("utf-8", "replace")


def _strip_html(text: str) -> str:
    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", "", text)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</h\d>|</li>|</tr>|</pre>|</div>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text)


def _cut(name: str, text: str) -> Iterator[tuple[str, str]]:
    """Documents of about DOC_BYTES, cut at paragraph breaks."""
    start, part = 0, 0
    while start < len(text):
        end = text.find("\n\n", start + DOC_BYTES, start + 4 * DOC_BYTES)
        if end < 0:  # no paragraph break near: cut at a line break
            end = text.find("\n", start + DOC_BYTES)
        end = len(text) if end < 0 else end + 1
        yield f"{name}#{part}", text[start:end]
        start, part = end, part + 1


def _bible() -> Iterator[tuple[str, str]]:
    out = subprocess.run(["bible", "-f", "-l72", "Genesis1:1-Revelation22:21"], capture_output=True,
                         text=True, check=True, env={**os.environ, "COLUMNS": "72"}).stdout
    for _ in range(4):
        yield from _cut("bible", out)  # one name per part: a held-out part is held out of every copy


def _dict(name: str) -> Iterator[tuple[str, str]]:
    yield from _cut(name, _gz(Path(f"/usr/share/dictd/{name}.dict.dz")))


def _linux_doc() -> Iterator[tuple[str, str]]:
    root = Path("/usr/share/doc/linux-doc-6.1/Documentation")
    for path in sorted(root.rglob("*.gz")):
        if not path.name.endswith((".rst.gz", ".txt.gz")) and "." in path.name[:-3]:
            continue
        text = _gz(path)
        if sum(ch < " " and ch not in "\n\t" for ch in text[:4096]) == 0:
            yield from _cut(str(path.relative_to(root)), text)


def _man_page(path: Path) -> str:
    env = {**os.environ, "MANWIDTH": "78", "MAN_KEEP_FORMATTING": "0"}
    out = subprocess.run(["man", "-l", str(path)], capture_output=True, env=env).stdout
    return re.sub(r".\x08", "", out.decode("utf-8", "replace"))


def _manpages() -> Iterator[tuple[str, str]]:
    pages = sorted(p for p in Path("/usr/share/man").glob("man*/*.gz")
                   if _owned_by_manpages(p))
    with ThreadPoolExecutor(4) as pool:
        for path, text in zip(pages, pool.map(_man_page, pages)):
            yield from _cut(path.name, text)


_MANPAGES_FILES: set[str] | None = None


def _owned_by_manpages(path: Path) -> bool:
    global _MANPAGES_FILES
    if _MANPAGES_FILES is None:
        listing = subprocess.run(["dpkg", "-L", "manpages"], capture_output=True, text=True).stdout
        _MANPAGES_FILES = set(listing.split())
    return str(path) in _MANPAGES_FILES


def _texts(paths: list[str], html_pages: bool = False) -> Iterator[tuple[str, str]]:
    for name in paths:
        path = Path(name)
        text = _gz(path) if name.endswith(".gz") else path.read_text("utf-8", "replace")
        yield from _cut(path.name, _strip_html(text) if html_pages else text)


SOURCES = {
    "bible": _bible,
    "gcide": lambda: _dict("gcide"),
    "wn": lambda: _dict("wn"),
    "linux-doc": _linux_doc,
    "manpages": _manpages,
    "gnu-standards": lambda: _texts(["/usr/share/doc/gnu-standards/standards.text.gz",
                                     "/usr/share/doc/gnu-standards/maintain.text.gz"]),
    "debian-reference": lambda: _texts(["/usr/share/debian-reference/debian-reference.en.txt.gz"]),
    "jargon": lambda: _texts(["/usr/share/doc/jargon-text/jargon.txt.gz"]),
}


QUOTE_INDENT = 9  # gcide indents quotations (and usage notes) by 9 or more spaces
_ATTRIBUTION = re.compile(r"\s*--[A-Z].*$", re.S)  # "--Shak." ending a quotation, perhaps wrapped


def quotations(document: str) -> Iterator[str]:
    """The quotations and usage notes of a gcide document, without their attributions:
    the literary prose of the corpus (Shakespeare, Milton, Scott, Macaulay, ...)."""
    block: list[str] = []
    for line in document.split("\n") + [""]:
        body = line.strip()
        if len(line) - len(line.lstrip(" ")) >= QUOTE_INDENT and body and not body.startswith(("[", "{")):
            block.append(body)
            continue
        if block:
            text = _ATTRIBUTION.sub("", "\n".join(block)).strip()
            if len(text) >= 30 and sum(c.isalpha() for c in text) > 0.6 * len(text) and "\\" not in text:
                yield text
            block = []


def build_quotes(out_dir: Path) -> int:
    """Write ``quotes.txt``: the quotations of gcide's training documents (all of the
    dictionary, not only its budget), one paragraph each, and ``quotes_valid.txt``: those
    of its validation documents (a held-out measure on literary prose); return the size
    of ``quotes.txt`` in bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    parts: dict[bool, list[str]] = {False: [], True: []}
    for name, text in _dict("gcide"):
        parts[is_valid_document(f"gcide/{name}")].extend(quotations(text))
    sizes = {}
    for held_out, file_name in ((False, "quotes.txt"), (True, "quotes_valid.txt")):
        data = ("\n\n".join(parts[held_out]) + "\n").encode("utf-8")
        (out_dir / file_name).write_bytes(data)
        sizes[file_name] = len(data)
        print(f"{file_name}: {len(data)} bytes", file=sys.stderr)
    return sizes["quotes.txt"]


def is_valid_document(name: str) -> bool:
    return hashlib.sha256(name.encode()).digest()[0] * 100 < VALID_PERCENT * 256


def build(out_dir: Path) -> dict[str, int]:
    """Write train.txt and valid.txt under ``out_dir``; return bytes per source."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = {}
    with open(out_dir / "train.txt", "wb") as train, open(out_dir / "valid.txt", "wb") as valid:
        for source, budget in BUDGETS.items():
            used = 0
            for name, text in SOURCES[source]():
                data = text.encode("utf-8")
                if used + len(data) > budget:
                    break
                used += len(data)
                (valid if is_valid_document(f"{source}/{name}") else train).write(data)
            sizes[source] = used
            print(f"{source}: {used} bytes", file=sys.stderr)
    return sizes


if __name__ == "__main__":
    # python -m arzip.train.corpus DIR [--quotes]: the corpus, or only its quotations file
    directory = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/nncorpus")
    if "--quotes" in sys.argv[2:]:
        build_quotes(directory)
    else:
        build(directory)
