"""Atomic writes and line-numbered JSONL reading: a crash never leaves half a file,
and every parse error names the file and line. JSON lines go through the `jsonlines` library; this module
adds only what it lacks: the untrusted-JSON rules (its `loads` hook), a size limit per line, located
`InputError`s and atomic writes. `read_objects` is the one reader of files of questions, prompts and suite
cases: one object per line, each made into its type."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
from io import StringIO
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Mapping, TypeVar

import jsonlines

from .errors import InputError

T = TypeVar("T")


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _default_mode() -> int:
    """0o666 less the umask: the mode open() would give a new file (mkstemp's is 0o600)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


_NEW_FILE_MODE = _default_mode()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write to a temp file in the same directory, fsync, then rename over the target.
    The file keeps the target's permission bits (a new one gets the umask's). An OSError (a read-only
    or full disk) names the target, not the temp file."""
    try:
        return _atomic_write_bytes(Path(path), data)
    except OSError as e:
        raise OSError(e.errno, f"cannot write: {e.strerror or e}", str(path)) from None


def _atomic_write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = _NEW_FILE_MODE
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def save_figure(fig: Any, path: str | os.PathLike, **savefig_kwargs: Any) -> Path:
    """A matplotlib figure as a PNG file, written atomically; the figure is closed."""
    import io
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", **savefig_kwargs)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def check_serialisable(obj: Any) -> None:
    """ValueError unless obj writes back as strict JSON in UTF-8 (no NaN/Infinity, no lone surrogates):
    what validation and the build's writer must agree on."""
    try:
        json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"lone surrogate {e.object[e.start]!r} in a string (not valid Unicode text)") from None
    except ValueError as e:
        raise ValueError(f"{e} (numbers must be finite)") from None
    except RecursionError:
        raise ValueError(f"nesting deeper than {MAX_DEPTH} levels") from None


def dumps_line(obj: Any) -> str:
    """One JSON line as every JSONL file of the project is written (jsonlines' `dumps` hook)."""
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def _plain(row: Any) -> Any:
    if hasattr(row, "to_json"):
        return row.to_json()
    if hasattr(row, "model_dump"):
        return row.model_dump(mode="json", exclude_none=True)
    return row


def write_jsonl(path: str | os.PathLike, rows: Iterable[Any], *, dumps: Callable[[Any], str] | None = None) -> Path:
    """Atomically write rows (dicts, or pydantic models) as JSON lines. `dumps` replaces `dumps_line` for a
    writer with a serialisation of its own (the data build's records: pydantic-core's, ~10x faster)."""
    buf = StringIO()
    with jsonlines.Writer(buf, dumps=dumps or dumps_line) as writer:
        writer.write_all(rows if dumps else (_plain(row) for row in rows))
    return atomic_write_text(path, buf.getvalue())


def write_splits(
    out_dir: str | os.PathLike, splits: Mapping[str, Iterable[Any]], *, dumps: Callable[[Any], str] | None = None
) -> dict[str, Path]:
    """Each split's rows as `<out_dir>/<name>.jsonl`, in the mapping's order (mlx-lm's train/valid/test
    layout): the one writer of split files, for the data build and the test helpers' sample data."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {name: write_jsonl(out / f"{name}.jsonl", rows, dumps=dumps) for name, rows in splits.items()}


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def append_jsonl(path: str | os.PathLike, row: Any) -> None:
    """Append one line and fsync: used by resumable jobs (metrics, teacher collection)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f, jsonlines.Writer(f, dumps=dumps_line, flush=True) as writer:
        writer.write(row)
        os.fsync(f.fileno())


MAX_LINE_BYTES = 16 << 20  # one JSONL line; a longer one is an error, not gigabytes of memory
MAX_DEPTH = 64  # nesting of arrays/objects in one line; records need a dozen levels at most
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (numbers must be finite)")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} is too large for a float (numbers must be finite)")
    return value


def _depth_over(obj: Any, limit: int) -> bool:
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return False


def _utf8_reason(e: UnicodeDecodeError) -> str:
    return f"invalid UTF-8 (byte 0x{e.object[e.start]:02x} at column {e.start + 1})"


def parse_json_line(raw: bytes | str) -> Any:
    """One untrusted JSON text -> a value, or ValueError with a one-line reason: invalid UTF-8, lone
    surrogates (they cannot be written back as UTF-8), NaN/Infinity, nesting deeper than MAX_DEPTH,
    integers past Python's digit limit."""
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", errors="surrogatepass")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(_utf8_reason(e)) from None
    try:
        obj = json.loads(text, parse_constant=_no_constants, parse_float=_finite)
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON ({e.msg} at column {e.colno})") from None
    except RecursionError:
        raise ValueError(f"nesting deeper than {MAX_DEPTH} levels") from None
    except ValueError as e:  # the int digit limit, NaN
        raise ValueError(" ".join(str(e).split()).split(";")[0]) from None
    if (data.count(b"[") + data.count(b"{") > MAX_DEPTH) and _depth_over(obj, MAX_DEPTH):
        raise ValueError(f"nesting deeper than {MAX_DEPTH} levels")
    if _SURROGATE_ESCAPE.search(data):
        check_serialisable(obj)
    return obj


class _Overlong(str):
    """Stands, in the lines given to jsonlines, for a line longer than MAX_LINE_BYTES: read past, never kept."""


class _LineTooLong(ValueError):
    pass


_BLANK = object()  # what `_load` makes of a blank line: it has no value, and readers skip it
_ASCII_SPACE = " \t\n\r\x0b\x0c"  # what counts as blank (bytes.strip's set: a lone NBSP is not blank)


def _lines(f: IO[bytes]) -> Iterator[bytes | str]:
    """Each line of the binary file f, or an `_Overlong` in place of one over MAX_LINE_BYTES, so that the
    size is refused before anything is parsed and the line numbers jsonlines counts stay true."""
    while line := f.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := f.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield _Overlong()
        else:
            yield line


def _load(text: str | bytes) -> Any:
    """jsonlines' `loads` hook for untrusted files: the rules of `parse_json_line`, a size refusal for an
    `_Overlong`, and `_BLANK` for a blank line."""
    if isinstance(text, _Overlong):
        raise _LineTooLong(f"line longer than {MAX_LINE_BYTES} bytes")
    if isinstance(text, str) and not text.strip(_ASCII_SPACE):
        return _BLANK
    return parse_json_line(text)


def line_refusal(e: jsonlines.InvalidLineError) -> tuple[str, str]:
    """The one-line reason and rule of a line jsonlines refused, in this project's words (its cause's)."""
    cause = e.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return _utf8_reason(cause), "json"
    if isinstance(cause, _LineTooLong):
        return str(cause), "size"
    return str(cause or e.message), "json"


def read_jsonl(
    path: str | os.PathLike, *, errors: list[InputError] | None = None, allow_empty: bool = True
) -> Iterator[tuple[int, Any]]:
    """Yield (line_number, object) for each non-blank line. A bad line (see `parse_json_line`, and
    lines over MAX_LINE_BYTES) raises InputError with its location, or, when an `errors` list is
    given, is recorded there and skipped. allow_empty=False makes a file without a line an error."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    if not path.is_file():
        raise InputError("not a regular file (expected a JSONL file)", path=path)

    def bad(message: str, line: int | None, rule: str) -> None:
        err = InputError(message, path=path, line=line, rule=rule)
        if errors is None:
            raise err
        errors.append(err)

    seen = False
    try:
        f = open(path, "rb")
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", path=path) from None
    with f:
        reader = jsonlines.Reader(_lines(f), loads=_load)
        lineno = 0
        while True:
            lineno += 1  # one read() is one line, good or bad
            try:
                obj = reader.read(allow_none=True)
            except EOFError:
                break
            except jsonlines.InvalidLineError as e:
                message, rule = line_refusal(e)
                seen = seen or rule != "size"  # a line read past for its size is not content
                bad(message, e.lineno, rule)
                continue
            if obj is not _BLANK:
                seen = True
                yield lineno, obj
    if not seen and not allow_empty:
        bad("the file is empty (no JSON lines)", None, "empty")


def claim_id(seen: dict[str, int], rid: str, *, path: Any, line: int, rule: str) -> None:
    """Record that `rid` is used on `line`; a second use is a one-line error naming the first."""
    if rid in seen:
        raise InputError(f"duplicate id (first on line {seen[rid]})", path=path, line=line, record_id=rid, rule=rule)
    seen[rid] = line


def validation_message(err: Any, whole: str = "") -> str:
    """A pydantic ValidationError as one line: "field.path: reason; ..." (`whole` names an error of
    the whole object, which has no field path)."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or whole}: {e['msg']}" for e in err.errors())


def read_objects(
    path: str | os.PathLike,
    make: Callable[[Any, int], T],
    *,
    rule: str,
    empty: str | None = None,
    id_of: Callable[[T], str] | None = None,
    objects: bool = True,
    errors: list[InputError] | None = None,
) -> list[T]:
    """Every line of a JSONL file of questions, prompts or cases, made into a T by `make(value, line)`.
    A bad line is an InputError naming file, line and `rule`: not JSON (`read_jsonl`), not an object
    (unless `objects` is False: then `make` judges every value), refused by `make` (the message of its
    ValueError), or an id used before (`id_of`; ids also name the record in `make`'s errors). The first
    raises, or with `errors` given each is appended there and skipped. With `empty` given, a file
    without an item raises that message."""
    out: list[T] = []
    seen: dict[str, int] = {}

    def bad(message: str, line: int, record_id: str | None = None) -> None:
        err = InputError(message, path=path, line=line, record_id=record_id, rule=rule)
        if errors is None:
            raise err
        errors.append(err)

    json_errors: list[InputError] | None = [] if errors is not None else None
    for lineno, obj in read_jsonl(path, errors=json_errors):
        if objects and not isinstance(obj, dict):
            bad(f"expected a JSON object, got {type(obj).__name__}", lineno)
            continue
        try:
            item = make(obj, lineno)
        except ValueError as e:
            rid = obj.get("id") if id_of is not None and isinstance(obj, dict) else None
            bad(str(e), lineno, rid if isinstance(rid, str) else None)
            continue
        if id_of is not None:
            claim_id(seen, id_of(item), path=path, line=lineno, rule=rule)
        out.append(item)
    if errors is not None:
        errors.extend(json_errors or [])
    if not out and empty is not None:
        raise InputError(empty, path=path, rule=rule)
    return out


def check_regular_file(path: str | os.PathLike, *, rule: str | None = None) -> None:
    """InputError unless `path` is a regular file (after symlinks): a FIFO would block the reader
    forever and a device would never end, so both are refused before anything opens them. A missing
    path is left to the reader's own "not found"."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", path=path, rule=rule) from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a special file"
        raise InputError(f"{kind}, not a regular file", path=path, rule=rule)


def read_text(path: str | os.PathLike, *, rule: str | None = None) -> str:
    """A whole UTF-8 text file (prompts, strategies, recipes), or an InputError naming it: missing, not a
    regular file, unreadable, or invalid UTF-8 (with the byte offset)."""
    check_regular_file(path, rule=rule)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", path=path, rule=rule) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", path=path, rule=rule) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(
            f"invalid UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start})", path=path, rule=rule
        ) from None
