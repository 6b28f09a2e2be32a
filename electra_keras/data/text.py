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
- either compressed: gzip (``.gz``), bzip2 (``.bz2``), xz (``.xz``) or Zstandard (``.zst``,
  with the ``zstandard`` package);
- Parquet (``.parquet``): one document per row, its text in a column (``text_field``), read a
  record batch at a time (with ``pyarrow``);
- Arrow IPC streams (``.arrow``), as Hugging Face ``datasets`` writes them: a directory made by
  ``Dataset.save_to_disk`` is read through the files its ``state.json`` lists, in order,
  without the ``datasets`` package.

Every format streams: memory holds a line or a record batch, never a file. The stream handed to
packing is the original's: non-blank lines are sentences and ``""`` marks the end of a
document. Errors name the file and the line (or row).
"""

import bz2
import dataclasses
import glob
import gzip
import importlib
import io
import json
import lzma
import os
import re
import zlib

import numpy as np

TEXT_BASES = (".txt", ".text", ".jsonl")
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst")
RECORD_SUFFIXES = (".parquet", ".arrow")  # columnar files: one document per row
TEXT_SUFFIXES = (
    TEXT_BASES + tuple(base + c for c in COMPRESSIONS for base in TEXT_BASES) + RECORD_SUFFIXES
)
TEXT_FORMATS = ("auto", "lines", "paragraphs")
EXTRA = "pip install 'electra-keras[corpora]'"  # the extra with the optional readers
RECORD_BATCH_ROWS = 1024  # Parquet rows decoded at a time: a batch of documents, never a file
_TELL_EVERY = 256  # lines of a compressed file between two looks at how much of it was read
_HEAD_BYTES = 1024  # of a line, what `looks_wrapped` decodes first
_WRAP_WIDTH, _WRAP_SLACK = 100, 1.1  # `looks_wrapped`: the widest wrapping, and how far past it lines may run
DATASET_STATE = "state.json"  # written by datasets' save_to_disk beside its data-*.arrow files

# A sentence ends at . ! or ? (optionally followed by a closing quote or bracket) when the next
# word starts with a capital, a digit or an opening quote; group 1 is the space between the two.
# Good enough for packing, which only needs sentence boundaries to decide where segment A ends.
# (Starting at the punctuation, not behind it, lets the regex engine skip ahead: 4x faster.)
_SENTENCE_END = re.compile(r"[.!?][\"')\]]?(\s+)(?=[\"'(\[]?[A-Z0-9])")

# What a damaged compressed file raises while it is read (zstd errors become OSError below).
_READ_ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error)


class InputError(ValueError):
    """Bad input text: the message names the file (and line) and what was expected."""


@dataclasses.dataclass
class ReadStats:
    files: int = 0
    lines: int = 0  # lines of text files, rows of Parquet and Arrow files
    documents: int = 0
    bytes: int = 0  # text read, after decompression
    replaced_lines: int = 0  # lines with undecodable bytes replaced by U+FFFD
    input_bytes: int = 0  # bytes of the input files consumed (compressed size): a whole file adds its size

    def add(self, other):
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def split_sentences(text):
    """Split a paragraph into sentences.

    >>> split_sentences("It rains. The sky is grey! Is it? yes.")
    ['It rains.', 'The sky is grey!', 'Is it? yes.']
    """
    parts, start = [], 0
    for end in _SENTENCE_END.finditer(text):
        parts.append(text[start:end.start(1)])
        start = end.end(1)
    parts.append(text[start:])
    return [s for s in (part.strip() for part in parts) if s]


# `_SENTENCE_END` as array operations (`sentences_of_lines`): str.isspace() of every code point up
# to U+3000, the last whitespace; a larger code point is looked up at U+3001 (not whitespace).
_SPACE = np.array([chr(c).isspace() for c in range(0x3002)])
# Lines split at a time: at most 4 MB of code points whatever the shard size (a longer line goes
# alone), and faster than 4M characters at a time (0.038 s against 0.066 s on 12 MB in 4 MB shards).
SENTENCE_BATCH_CHARS = 1 << 20


def sentences_of_lines(lines):
    """`split_sentences` of each line, and ``""`` for each empty line, in one list:
    ``[s for line in lines for s in (split_sentences(line) if line else [""])]``.

    `_SENTENCE_END`'s matches are found with array operations over the code points of all the
    lines at once, about twice as fast as the regular expression line by line. Each ``.``,
    ``!`` or ``?`` is a candidate: an optional closing quote or bracket follows, then a run of
    whitespace, then a capital or digit (optionally behind an opening quote or bracket).
    Lines are joined with NUL, which is neither whitespace nor in any of those classes, so no
    match crosses two lines.

    >>> sentences_of_lines(["It rains. The sky is grey!", "", "  Is it? yes.  "])
    ['It rains.', 'The sky is grey!', '', 'Is it? yes.']
    """
    lengths = np.fromiter(map(len, lines), np.int64, count=len(lines))
    sentences = []
    for batch in block_slices(lengths, SENTENCE_BATCH_CHARS):
        sentences += _sentences_of_batch(lines[batch], lengths[batch])
    return sentences


def block_slices(sizes, per_block):
    """Slices that cut a sequence of items of `sizes` (an array) into blocks of whole items, each
    ending with the item that reaches a multiple of `per_block` (an item larger than that goes
    alone); none empty."""
    cuts = np.searchsorted(np.cumsum(sizes), np.arange(per_block, int(np.sum(sizes)), per_block)) + 1
    bounds = [0, *np.unique(cuts).tolist(), len(sizes)]
    return [slice(low, high) for low, high in zip(bounds, bounds[1:]) if low < high]


def _sentences_of_batch(lines, lengths):
    text = "\0".join(lines) + "\0\0"  # two more NULs: a candidate near the end looks two ahead
    codes = _code_points(text)
    end = np.cumsum(lengths + 1) - 1
    start = end - lengths
    # Each line stripped (its sentences are); a line of whitespace only gives no sentence.
    while (lead := (start < end) & _is_space(codes[start])).any():
        start[lead] += 1
    while (trail := (end > start) & _is_space(codes[end - 1])).any():
        end[trail] -= 1
    kept = (lengths == 0) | (end > start)
    # Sentence ends: a sentence ends at `stop` and the next starts at `resume`, after the space.
    stop = np.flatnonzero(_is_any(codes, ".!?")) + 1
    stop += _is_any(codes[stop], "\"')]")
    resume, running = stop.copy(), _is_space(codes[stop])
    found = running.copy()
    while running.any():
        resume[running] += 1
        running[running] = _is_space(codes[resume[running]])
    after = codes[resume]
    found &= _is_capital_or_digit(after) | (_is_any(after, "\"'([") & _is_capital_or_digit(codes[resume + 1]))
    starts = np.sort(np.concatenate([start[kept], resume[found]])).tolist()
    ends = np.sort(np.concatenate([end[kept], stop[found]])).tolist()
    return [text[a:b] for a, b in zip(starts, ends)]


def _code_points(text):
    """The code points of `text` as an array (one byte each when they fit: a copy of the string)."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), np.uint8)
    try:
        return np.frombuffer(text.encode("latin-1"), np.uint8)
    except UnicodeEncodeError:
        return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)


def _is_space(codes):
    return _SPACE[codes] if codes.dtype == np.uint8 else _SPACE[np.minimum(codes, np.uint32(len(_SPACE) - 1))]


def _is_any(codes, chars):
    found = codes == ord(chars[0])
    for char in chars[1:]:
        found |= codes == ord(char)
    return found


def _is_capital_or_digit(codes):
    return ((codes >= ord("A")) & (codes <= ord("Z"))) | ((codes >= ord("0")) & (codes <= ord("9")))


def _compression(path):
    return next((c for c in COMPRESSIONS if path.endswith(c)), "")


def file_kind(path):
    """How a file is read, by its name: "jsonl", "parquet", "arrow" or "text".

    >>> [file_kind(p) for p in ("a.jsonl.zst", "b.parquet", "data-00000-of-00001.arrow", "c.txt.xz", "notes")]
    ['jsonl', 'parquet', 'arrow', 'text', 'text']
    """
    path = os.fspath(path)
    name = path.removesuffix(_compression(path))
    for kind in ("jsonl", "parquet", "arrow"):
        if name.endswith(f".{kind}"):
            return kind
    return "text"


def _dataset_files(directory, names):
    """The Arrow files of a `datasets` save_to_disk directory, in its order, as its state.json
    lists them (`datasets` may have left cache-*.arrow files of later transforms beside them)."""
    state_path = os.path.join(directory, DATASET_STATE)
    try:
        with open(state_path, encoding="utf-8") as f:
            listed = [entry["filename"] for entry in json.load(f)["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(
            f"{state_path}: not a datasets state file (expected a JSON object whose _data_files lists "
            f"{{'filename': ...}} entries; {type(error).__name__}: {error})"
        ) from None
    missing = [name for name in listed if name not in names]
    if missing:
        raise InputError(f"{state_path}: lists {missing[0]}, which is not in {directory}")
    return [os.path.join(directory, name) for name in listed]


def _search(directory):
    """Input files under `directory`, sorted by path; a save_to_disk directory's files in its order."""
    found = []  # (sort key, path)
    for root, _, names in os.walk(directory):
        names = set(names)
        arrow = {name for name in names if name.endswith(".arrow")}
        if arrow and DATASET_STATE in names:
            listed = _dataset_files(root, arrow)
            if listed:  # kept together, in order
                found += [((listed[0], i), path) for i, path in enumerate(listed)]
            names -= arrow
        found += [((path, 0), path) for path in (os.path.join(root, n) for n in names) if path.endswith(TEXT_SUFFIXES)]
    return [path for _, path in sorted(found)]


def find_text_files(inputs):
    """Expand files, directories and globs into a list of input files, in a fixed order.

    Directories are searched recursively for files ending in one of `TEXT_SUFFIXES`, sorted by
    path; a directory written by `datasets`' ``save_to_disk`` contributes the Arrow files its
    state.json lists. Files named explicitly are taken whatever their suffix (read as plain
    text unless `file_kind` says otherwise). A format whose optional package is missing is an
    error here, before anything is read.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    inputs = [os.fspath(p) for p in inputs]
    if not inputs:
        raise InputError("no input given: expected text files, directories or globs")
    found = []
    for item in inputs:
        if os.path.isdir(item):
            in_dir = _search(item)
            if not in_dir:
                raise InputError(
                    f"{item}: the directory holds no text files (expected names ending in "
                    f"{', '.join(TEXT_SUFFIXES)}, or a datasets save_to_disk directory)"
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
    for path in files:
        _check_readable(path)
    return files


def _check_readable(path):
    kind, compression = file_kind(path), _compression(path)
    if kind in ("parquet", "arrow"):
        if compression:
            raise InputError(
                f"{path}: {kind} files are read as they are ({kind} compresses inside); "
                f"decompress the file or rename it without {compression}"
            )
        _optional("pyarrow", path)
    if compression == ".zst":
        _optional("zstandard", path)


def _optional(module, path):
    """Import an optional reader's package; its absence is an error naming the file and the extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"{path}: reading this file needs the {module} package: {EXTRA}") from None


class _ZstdReader(io.RawIOBase):
    """A Zstandard stream of one or more frames (as ``zstd`` and ``pzstd`` write them).

    zstandard's own stream_reader ends quietly inside a truncated frame; a cut file is an
    error here. The input is decompressed 8 KB at a time, so memory holds 8 KB times the
    compression ratio. Windows up to 2 GiB are accepted (``zstd --long=31`` corpora).
    """

    def __init__(self, raw, path):
        self._zstd = _optional("zstandard", path)
        self._raw, self._frame, self._out, self._at = raw, None, b"", 0

    def readable(self):
        return True

    def readinto(self, buffer):
        while self._at == len(self._out):
            chunk = self._raw.read(1 << 13)
            if not chunk:
                if self._frame is not None:
                    raise EOFError("compressed file ended before the end of its last zstd frame")
                return 0
            out = []
            while chunk:
                if self._frame is None:
                    self._frame = self._zstd.ZstdDecompressor(max_window_size=1 << 31).decompressobj()
                try:
                    out.append(self._frame.decompress(chunk))
                except self._zstd.ZstdError as error:
                    raise OSError(f"not Zstandard data, or damaged ({error})") from None
                chunk = b""
                if self._frame.eof:  # a frame ends; what follows it starts the next one
                    chunk, self._frame = self._frame.unused_data, None
            self._out, self._at = b"".join(out), 0
        n = min(len(buffer), len(self._out) - self._at)
        buffer[:n] = self._out[self._at : self._at + n]
        self._at += n
        return n


def _decompressed(raw, path):
    compression = _compression(path)
    if compression == ".gz":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if compression == ".bz2":
        return bz2.BZ2File(raw)
    if compression == ".xz":
        return lzma.LZMAFile(raw)
    if compression == ".zst":
        return io.BufferedReader(_ZstdReader(raw, path), buffer_size=1 << 17)
    return raw


def _raw_lines(path, stats=None):
    """Yield the lines of a text file, decompressed, as bytes.

    `stats.input_bytes` follows the bytes taken from disk (for a compressed file, checked every
    `_TELL_EVERY` lines) and reaches the file's size once the file is read to its end: progress
    over compressed inputs ends at their total size.
    """
    try:
        with open(path, "rb") as raw, _decompressed(raw, path) as f:
            if stats is None:
                yield from f
                return
            compressed, done = f is not raw, 0
            for number, line in enumerate(f, start=1):
                if not compressed:
                    stats.input_bytes += len(line)
                elif number % _TELL_EVERY == 0:
                    position = raw.tell()
                    stats.input_bytes += position - done
                    done = position
                yield line
            if compressed:
                stats.input_bytes += os.fstat(raw.fileno()).st_size - done
    except _READ_ERRORS as error:
        raise InputError(f"{path}: cannot be read ({error})") from None


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
    """How `iter_lines` reads `path` under `text_format`: "jsonl", "parquet", "arrow", "lines"
    or "paragraphs"."""
    kind = file_kind(path)
    if kind != "text":
        return kind
    if text_format == "auto":
        return "paragraphs" if looks_wrapped(path) else "lines"
    return text_format


def looks_wrapped(path, sample=4000):
    """Whether a plain-text file reads as hard-wrapped prose: of its first `sample` non-blank
    lines, nine in ten are at most 100 characters, almost none is longer than that width plus
    10% (wrapping cuts every line at it, where sentences have a long tail), and most lines
    continue on the next one (paragraphs of several lines)."""
    # The rule asks of a line over 110 characters no more than that, which its first kilobyte
    # tells: a file of a few long lines is not decoded whole. And once more than a tenth of the
    # sample is over 100 characters (as many as the 90th percentile needs of the largest sample),
    # no later line can make the file look wrapped: a file of many long lines is judged on its
    # first few hundred.
    lines, nonblank, long, enough_long = [], 0, 0, sample - int(0.9 * (sample - 1))
    for raw in _raw_lines(os.fspath(path)):
        line = raw[:_HEAD_BYTES].decode("utf-8", errors="replace").strip()
        if len(raw) > _HEAD_BYTES and len(line) <= _WRAP_SLACK * _WRAP_WIDTH + 1:  # the head may end inside a character
            line = raw.decode("utf-8", errors="replace").strip()
        lines.append(line)
        if line and nonblank < sample:
            nonblank += 1
            long += len(line) > _WRAP_WIDTH
            if long >= enough_long:
                return False
        if len(lines) >= 3 * sample:
            break
    return _read_as_wrapped(lines, sample)


def _read_as_wrapped(lines, sample):
    """`looks_wrapped`'s rule on a file's first lines (stripped)."""
    lengths = sorted([len(line) for line in lines if line][:sample])
    if len(lengths) < 20:
        return False
    width, longest = lengths[int(0.9 * (len(lengths) - 1))], lengths[int(0.99 * (len(lengths) - 1))]
    continued = sum(1 for a, b in zip(lines, lines[1:]) if a and b) / len(lengths)
    return width <= _WRAP_WIDTH and longest <= _WRAP_SLACK * width and continued >= 0.5


def iter_lines(path, *, text_field="text", encoding_errors="strict", sentences=True, stats=None,
               text_format="auto", document_separator=""):
    """Yield the original's line stream for one file: sentences, and ``""`` after each document.

    Args:
      path: a plain-text or JSON Lines file (optionally compressed), a Parquet file or an
        Arrow stream file (see the module's docstring).
      text_field: the JSON field, or the Parquet or Arrow column, holding a document's text.
      encoding_errors: "strict" (raise, naming file and line) or "replace".
      sentences: split each line into sentences (the original expects one sentence per line;
        splitting a line that already is one sentence changes nothing).
      stats: a `ReadStats` to update.
      text_format: "lines", "paragraphs" or "auto" for plain text (see the module's docstring).
      document_separator: in "paragraphs" mode, a regular expression; a line matching it
        whole ends a document (and is dropped). Empty: a document per file.

    Returns:
      A generator of strings: the sentences (or lines) of each document, then ``""``.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.jsonl")
    >>> _ = open(path, "w").write('{"text": "It rains. The sky is grey."}\\n{"text": "Sun."}\\n')
    >>> list(iter_lines(path))
    ['It rains.', 'The sky is grey.', '', 'Sun.', '']
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
    _check_readable(path)
    reading = read_as(path, text_format)
    stats.files += 1
    if reading == "paragraphs":
        yield from _iter_paragraphs(path, encoding_errors, sentences, stats, separator)
        return
    if reading == "lines":
        paragraphs = (line or None for _, line in _text_lines(path, encoding_errors, stats))
    elif reading == "jsonl":
        paragraphs = _jsonl_paragraphs(path, text_field, encoding_errors, stats)
    else:
        paragraphs = _record_paragraphs(path, reading, text_field, stats)
    in_document = False
    for paragraph in paragraphs:
        if paragraph is None:  # a document ends
            if in_document:
                stats.documents += 1
                in_document = False
                yield ""
            continue
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        for sentence in split_sentences(paragraph) if sentences else [paragraph]:
            in_document = True
            yield sentence
    if in_document:
        stats.documents += 1
        yield ""


def _text_lines(path, encoding_errors, stats):
    """(line number, decoded and stripped line) of a text file, counted in `stats`."""
    for number, raw in enumerate(_raw_lines(path, stats), start=1):
        stats.lines += 1
        stats.bytes += len(raw)
        yield number, _decode(raw, path, number, encoding_errors, stats).strip()


def _jsonl_paragraphs(path, field, encoding_errors, stats):
    """The lines of each JSON Lines document's text, then None."""
    for number, line in _text_lines(path, encoding_errors, stats):
        if line:
            yield from _jsonl_text(line, path, number, field).split("\n")
            yield None


def _record_paragraphs(path, kind, field, stats):
    """The lines of each row's text in a Parquet or Arrow file, then None; a record batch at a time."""
    pa = _optional("pyarrow", path)
    compute = _optional("pyarrow.compute", path)
    row = done = 0
    try:
        for column, consumed in _record_columns(pa, path, kind, field):
            stats.lines += len(column)
            stats.bytes += compute.sum(compute.binary_length(column)).as_py() or 0
            for text in column.to_pylist():
                if text is None:
                    raise InputError(f"{path}: row {row} (counting from 0): column {field!r} is null, expected text")
                yield from text.split("\n")
                yield None
                row += 1
            stats.input_bytes += consumed - done
            done = consumed
    except (pa.ArrowException, OSError) as error:
        where = f" after {row:,} rows" if row else ""
        raise InputError(f"{path}: cannot be read as {kind}{where} ({error})") from None
    stats.input_bytes += os.path.getsize(path) - done


def _record_columns(pa, path, kind, field):
    """(text column, input bytes consumed so far) for each record batch of a Parquet or Arrow file."""
    size = os.path.getsize(path)
    if kind == "parquet":
        parquet = _optional("pyarrow.parquet", path).ParquetFile(path)
        with parquet:
            _text_column(parquet.schema_arrow, field, path)
            rows, done = parquet.metadata.num_rows, 0
            for batch in parquet.iter_batches(batch_size=RECORD_BATCH_ROWS, columns=[field]):
                done += batch.num_rows
                yield batch.column(0), size * done // max(rows, 1)
        return
    with pa.OSFile(path) as source:
        if source.read(6) == b"ARROW1":  # the IPC file format (random access), not a stream
            reader = pa.ipc.open_file(source)
            index, batches = _text_column(reader.schema, field, path), reader.num_record_batches
            for i in range(batches):
                yield reader.get_batch(i).column(index), size * (i + 1) // batches
            return
        source.seek(0)
        reader = pa.ipc.open_stream(source)  # what datasets writes: batches one after another
        index = _text_column(reader.schema, field, path)
        for batch in reader:
            yield batch.column(index), source.tell()


def _text_column(schema, field, path):
    """Index of the text column in `schema`; an error listing the columns when it is missing."""
    import pyarrow as pa

    index = schema.get_field_index(field)
    if index < 0:
        raise InputError(f"{path}: no column {field!r} (columns: {', '.join(schema.names)}); pass --text-field NAME")
    kind = schema.field(index).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)):
        raise InputError(f"{path}: column {field!r} holds {kind}, expected strings (text)")
    return index


def _iter_paragraphs(path, encoding_errors, sentences, stats, separator):
    """`iter_lines` for hard-wrapped prose: a paragraph's lines joined, documents per separator or file."""
    paragraph, in_document = [], False

    def flush():
        text = " ".join(paragraph)
        paragraph.clear()
        return split_sentences(text) if sentences else [text] if text else []

    for _, line in _text_lines(path, encoding_errors, stats):
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
