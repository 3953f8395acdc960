#!/usr/bin/env python3
"""Reppu's developer entry point; needs only Python 3.11+.

    python3 dev.py demo    # install into .venv if needed, run `reppu demo`
    python3 dev.py test    # install with dev extras, then ruff, mypy and pytest
    python3 dev.py bench   # the benchmarks under bench/

It creates `.venv` beside this file on first use and reinstalls only when
pyproject.toml changes. Extra arguments go to the command (pytest, reppu).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("REPPU_VENV", ROOT / ".venv"))
BIN = VENV / "bin"


def run(*cmd: str | Path) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, check=False)
    if result.returncode != 0:
        raise SystemExit(result.returncode)


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):
        raise SystemExit("Reppu needs Python 3.11 or newer")
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, upgrade_deps=False).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    marker = VENV / f".reppu-installed-{extras or 'base'}"
    if marker.exists() and marker.read_text() == digest:
        return
    spec = f".[{extras}]" if extras else "."
    run(
        BIN / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", spec
    )
    marker.write_text(digest)


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in ("demo", "test", "bench", "serve"):
        raise SystemExit(__doc__)
    command, rest = argv[0], argv[1:]
    if command in ("demo", "serve"):
        ensure_venv("")
        os.execv(BIN / "reppu", [str(BIN / "reppu"), command, *rest])
    ensure_venv("dev,bench" if command == "bench" else "dev")
    if command == "test":
        run(BIN / "ruff", "check", ".")
        run(BIN / "ruff", "format", "--check", ".")
        run(BIN / "mypy")
        run(BIN / "python", "-m", "pytest", *rest)
    elif command == "bench":
        run(BIN / "python", "-m", "bench", *rest)


if __name__ == "__main__":
    main(sys.argv[1:])
