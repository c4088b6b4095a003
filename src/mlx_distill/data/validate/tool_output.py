"""The tool-result rule: could this text be what the workspace tools return for this call?"""

from __future__ import annotations

import fnmatch
import posixpath
from typing import Any


def tool_result_problem(name: str, args: dict[str, Any], result: str) -> str | None:
    """Why `result` cannot be what the workspace tools return for this call; None when it could be.

    The text is read back by `tools.read_result` (the renderers' inverse); the checks here are on its data."""
    from ...tools import FileExcerpt, FileList, GrepMatches, Written, read_result

    top = posixpath.normpath(str(args.get("path", ".")))
    glob, pattern = args.get("glob"), args.get("pattern")

    def under_top(path: str) -> bool:
        return top == "." or path == top or path.startswith(top.rstrip("/") + "/")

    def matches_glob(path: str) -> bool:
        return not glob or fnmatch.fnmatch(posixpath.basename(path), glob) or fnmatch.fnmatch(path, glob)

    try:
        res = read_result(name, args, result, accept_path=lambda p: under_top(p) and matches_glob(p))
    except ValueError as e:
        return str(e)
    data = res.data
    if isinstance(data, GrepMatches):
        for hit in data.hits:
            if not under_top(hit.path):
                return f"grep matched {hit.path!r}, which is outside the searched path {top!r}"
            if not matches_glob(hit.path):
                return f"grep matched {hit.path!r}, which does not match glob {glob!r}"
    elif isinstance(data, FileList):
        for path in data.paths:
            if top != "." and not path.startswith(top.rstrip("/") + "/") and path != top:
                return f"list_files listed {path!r}, which is outside {top!r}"
            if pattern and not fnmatch.fnmatch(posixpath.basename(path), pattern):
                return f"list_files listed {path!r}, which does not match pattern {pattern!r}"
    elif isinstance(data, Written):
        content = args.get("content")
        if isinstance(content, str) and data.characters != len(content):
            return f"write_file reports {data.characters} characters but the content has {len(content)}"
        want = posixpath.normpath(str(args.get("path", "")))
        if posixpath.normpath(data.path) != want:
            return f"write_file reports path {data.path!r} but the call wrote {want!r}"
    elif isinstance(data, FileExcerpt):
        start, end = args.get("start_line"), args.get("end_line")
        if isinstance(start, int) and isinstance(end, int) and end >= start:
            got = len(data.text.splitlines())
            if got > end - start + 1:
                return f"read_file returned {got} lines for lines {start}..{end}"
    return None
