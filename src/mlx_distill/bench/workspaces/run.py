"""Run cases: what a script prints or which check fails or with what status it exits (answered by running it)."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from .materials import function_names, write_text
from .registry import Facts, workspace_builder


@workspace_builder("script_output")
def script_output(root: Path, rng: random.Random) -> Facts:
    """A script printing a checksum of data generated from the seed (hard to compute by hand).
    Facts: script, output."""
    words = function_names(rng, rng.randint(3, 6))
    salt = rng.randint(1000, 99999)
    name = rng.choice(["checksum", "digest", "fingerprint", "signature"])
    script = f"tools/{name}.py"
    write_text(
        root,
        script,
        (
            "import hashlib\n\n"
            f"WORDS = {words!r}\nSALT = {salt}\n\n"
            "def main():\n"
            "    text = '|'.join(WORDS) + str(SALT)\n"
            "    print(hashlib.sha256(text.encode()).hexdigest()[:12])\n\n\n"
            "if __name__ == '__main__':\n    main()\n"
        ),
    )
    output = hashlib.sha256(("|".join(words) + str(salt)).encode()).hexdigest()[:12]
    return {"script": script, "output": output}


@workspace_builder("failing_check")
def failing_check(root: Path, rng: random.Random) -> Facts:
    """checks.py runs several checks and reports the one that fails. Facts: script, failing, checks."""
    names = [f"check_{n}" for n in function_names(rng, rng.randint(3, 6))]
    bad = rng.choice(names)
    body = ["import sys\n\n"]
    for n in names:
        a, b = rng.randint(2, 50), rng.randint(2, 50)
        expected = a * b + (rng.randint(1, 5) if n == bad else 0)
        body.append(f"def {n}():\n    return {a} * {b} == {expected}\n\n\n")
    body.append(
        "def main():\n    failed = [f.__name__ for f in CHECKS if not f()]\n"
        "    for name in failed:\n        print('FAILED', name)\n"
        "    print(len(CHECKS) - len(failed), 'passed')\n    return 1 if failed else 0\n\n\n"
        f"CHECKS = [{', '.join(names)}]\n\n"
        "if __name__ == '__main__':\n    sys.exit(main())\n"
    )
    write_text(root, "checks.py", "".join(body))
    return {"script": "checks.py", "failing": bad, "checks": names}


@workspace_builder("exit_code")
def exit_code(root: Path, rng: random.Random) -> Facts:
    """A validation script whose exit status depends on data files. Facts: script, code."""
    n = rng.randint(3, 8)
    bad = rng.randint(0, n)
    rows = ["ok"] * (n - bad) + ["broken"] * bad
    rng.shuffle(rows)
    write_text(root, "data/rows.txt", "\n".join(rows) + "\n")
    write_text(
        root,
        "validate.py",
        (
            "import sys\n\n"
            "rows = open('data/rows.txt').read().split()\n"
            "bad = sum(1 for r in rows if r != 'ok')\n"
            "print(f'{bad} bad rows')\n"
            "sys.exit(min(bad, 100))\n"
        ),
    )
    return {"script": "validate.py", "code": str(min(bad, 100)), "bad_rows": bad}
