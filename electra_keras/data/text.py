"""Reading raw text: finding the input files and streaming them as lines and documents.

Accepted inputs (a path, a directory searched recursively, or a glob):
- plain text, read one of two ways (`text_format`):
  - "lines": one sentence or paragraph per line, a blank line between documents;
  - "paragraphs": prose as books have it, lines hard-wrapped at a fixed width and a blank line
    between paragraphs: a paragraph's lines are joined before sentence splitting, and a
    document ends at a line matching `document_separator` (a regular expression) or at the
    end of the file;
  - "auto" (the default) takes "paragraphs" for a file whose lines are mostly wrapped at a
    fixed width (`looks_wrapped`) and "lines" otherwise;
- JSON Lines: one document per line, its text in a field (``text`` by default);
- gzip of either (``.gz``).

The stream handed to packing is the original's: non-blank lines are sentences and ``""``
marks the end of a document. Errors name the file and the line.
"""

import dataclasses
import glob
import gzip
import json
import os
import re

TEXT_SUFFIXES = (".txt", ".text", ".jsonl", ".txt.gz", ".text.gz", ".jsonl.gz")
TEXT_FORMATS = ("auto", "lines", "paragraphs")

# A sentence ends at . ! or ? (optionally followed by closing quotes or brackets) when the next
# word starts with a capital, a digit or an opening quote. Good enough for packing, which only
# needs sentence boundaries to decide where segment A ends.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])")


class InputError(ValueError):
    """Bad input text: the message names the file (and line) and what was expected."""


@dataclasses.dataclass
class ReadStats:
    files: int = 0
    lines: int = 0
    documents: int = 0
    bytes: int = 0
    replaced_lines: int = 0  # lines with undecodable bytes replaced by U+FFFD

    def add(self, other):
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def split_sentences(text):
    """Split a paragraph into sentences.

    >>> split_sentences("It rains. The sky is grey! Is it? yes.")
    ['It rains.', 'The sky is grey!', 'Is it? yes.']
    """
    return [s for s in (part.strip() for part in _SENTENCE_END.split(text)) if s]


def find_text_files(inputs):
    """Expand files, directories and globs into a sorted list of text files.

    Directories are searched recursively for files ending in one of `TEXT_SUFFIXES`; files
    named explicitly are taken whatever their suffix (read as plain text unless ``.jsonl``).
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    inputs = [os.fspath(p) for p in inputs]
    if not inputs:
        raise InputError("no input given: expected text files, directories or globs")
    found = []
    for item in inputs:
        if os.path.isdir(item):
            in_dir = sorted(
                os.path.join(root, name)
                for root, _, names in os.walk(item)
                for name in names
                if name.endswith(TEXT_SUFFIXES)
            )
            if not in_dir:
                raise InputError(
                    f"{item}: the directory holds no text files (expected names ending in "
                    f"{', '.join(TEXT_SUFFIXES)})"
                )
            found += in_dir
        elif os.path.isfile(item):
            found.append(item)
        elif glob.has_magic(item):
            matches = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
            if not matches:
                raise InputError(f"{item}: the pattern matches no files")
            found += matches
        else:
            raise InputError(f"{item}: no such file or directory")
    files = list(dict.fromkeys(found))  # keep order, drop repeats
    if all(os.path.getsize(f) == 0 for f in files):
        raise InputError(f"the input is empty: {', '.join(files[:3])} hold no text")
    return files


def _open_binary(path):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def _is_jsonl(path):
    return path.removesuffix(".gz").endswith(".jsonl")


def _decode(raw, path, number, errors, stats):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        if errors == "strict":
            raise InputError(
                f"{path}:{number}: not valid UTF-8 (byte {raw[error.start]:#04x} at column "
                f"{error.start + 1}); re-encode the file or pass encoding_errors='replace' "
                f"(--encoding-errors replace) to substitute U+FFFD"
            ) from None
        stats.replaced_lines += 1
        return raw.decode("utf-8", errors="replace")


def read_as(path, text_format="auto"):
    """How `iter_lines` reads `path` under `text_format`: "jsonl", "lines" or "paragraphs"."""
    if _is_jsonl(os.fspath(path)):
        return "jsonl"
    if text_format == "auto":
        try:
            return "paragraphs" if looks_wrapped(path) else "lines"
        except (OSError, EOFError, gzip.BadGzipFile) as error:
            raise InputError(f"{os.fspath(path)}: cannot be read ({error})") from None
    return text_format


def looks_wrapped(path, sample=4000):
    """Whether a plain-text file reads as hard-wrapped prose: of its first `sample` non-blank
    lines, nine in ten are at most 100 characters, almost none is longer than that width plus
    10% (wrapping cuts every line at it, where sentences have a long tail), and most lines
    continue on the next one (paragraphs of several lines)."""
    lines, path = [], os.fspath(path)
    with _open_binary(path) as f:
        for raw in f:
            lines.append(raw.decode("utf-8", errors="replace").strip())
            if len(lines) >= 3 * sample:
                break
    lengths = sorted([len(line) for line in lines if line][:sample])
    if len(lengths) < 20:
        return False
    width, longest = lengths[int(0.9 * (len(lengths) - 1))], lengths[int(0.99 * (len(lengths) - 1))]
    continued = sum(1 for a, b in zip(lines, lines[1:]) if a and b) / len(lengths)
    return width <= 100 and longest <= 1.1 * width and continued >= 0.5


def iter_lines(path, *, text_field="text", encoding_errors="strict", sentences=True, stats=None,
               text_format="auto", document_separator=""):
    """Yield the original's line stream for one file: sentences, and ``""`` after each document.

    Args:
      path: a plain-text or JSON Lines file, optionally gzipped.
      text_field: the JSON field holding a document's text.
      encoding_errors: "strict" (raise, naming file and line) or "replace".
      sentences: split each line into sentences (the original expects one sentence per line;
        splitting a line that already is one sentence changes nothing).
      stats: a `ReadStats` to update.
      text_format: "lines", "paragraphs" or "auto" for plain text (see the module's docstring).
      document_separator: in "paragraphs" mode, a regular expression; a line matching it
        whole ends a document (and is dropped). Empty: a document per file.
    """
    if encoding_errors not in ("strict", "replace"):
        raise ValueError(f"encoding_errors={encoding_errors!r}: expected 'strict' or 'replace'")
    if text_format not in TEXT_FORMATS:
        raise ValueError(f"text_format={text_format!r}: expected one of {', '.join(TEXT_FORMATS)}")
    try:
        separator = re.compile(document_separator) if document_separator else None
    except re.error as error:
        raise ValueError(f"document_separator={document_separator!r}: not a regular expression ({error})") from None
    stats = stats if stats is not None else ReadStats()
    path = os.fspath(path)
    jsonl = _is_jsonl(path)
    try:
        if read_as(path, text_format) == "paragraphs":
            stats.files += 1
            yield from _iter_paragraphs(path, encoding_errors, sentences, stats, separator)
            return
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise InputError(f"{path}: cannot be read ({error})") from None
    stats.files += 1
    in_document = False
    try:
        with _open_binary(path) as f:
            for number, raw in enumerate(f, start=1):
                stats.lines += 1
                stats.bytes += len(raw)
                line = _decode(raw, path, number, encoding_errors, stats).strip()
                if jsonl:
                    if not line:
                        continue
                    paragraphs = _jsonl_text(line, path, number, text_field).split("\n")
                else:
                    paragraphs = [line]
                for paragraph in paragraphs:
                    paragraph = paragraph.strip()
                    if not paragraph:
                        continue
                    for sentence in split_sentences(paragraph) if sentences else [paragraph]:
                        in_document = True
                        yield sentence
                if in_document and (jsonl or not line):
                    stats.documents += 1
                    in_document = False
                    yield ""
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise InputError(f"{path}: cannot be read ({error})") from None
    if in_document:
        stats.documents += 1
        yield ""


def _iter_paragraphs(path, encoding_errors, sentences, stats, separator):
    """`iter_lines` for hard-wrapped prose: a paragraph's lines joined, documents per separator or file."""
    paragraph, in_document = [], False

    def flush():
        text = " ".join(paragraph)
        paragraph.clear()
        return split_sentences(text) if sentences else [text] if text else []

    with _open_binary(path) as f:
        for number, raw in enumerate(f, start=1):
            stats.lines += 1
            stats.bytes += len(raw)
            line = _decode(raw, path, number, encoding_errors, stats).strip()
            if separator is not None and line and separator.fullmatch(line):
                for sentence in flush():
                    in_document = True
                    yield sentence
                if in_document:
                    stats.documents += 1
                    in_document = False
                    yield ""
            elif line:
                paragraph.append(line)
            else:
                for sentence in flush():
                    in_document = True
                    yield sentence
    for sentence in flush():
        in_document = True
        yield sentence
    if in_document:
        stats.documents += 1
        yield ""


def _jsonl_text(line, path, number, field):
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(f"{path}:{number}: not a JSON object ({error.msg})") from None
    if not isinstance(record, dict) or field not in record:
        raise InputError(f"{path}:{number}: no {field!r} field (pass --text-field NAME)")
    text = record[field]
    if not isinstance(text, str):
        raise InputError(f"{path}:{number}: field {field!r} is {type(text).__name__}, expected text")
    return text
