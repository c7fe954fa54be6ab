"""Build the bqemulator venv (default .tools/bqemulator-venv) with exact pins and bigquery-compat.

Standard library only, so it runs before any project venv exists:
    python3 emulators/bigquery-compat/setup_venv.py [--venv PATH]
bqemulator pins sqlglot<30.12, which clashes with the other emulators, hence a venv of its own.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DEFAULT_VENV = ROOT / ".tools" / "bqemulator-venv"

#: bqemulator and what it needs offline (numpy for its arrow bridge), plus the client the sandbox
#: is checked with. Pinned exactly: bigquery_compat.offline patches bqemulator's internals.
PINS = (
    "bqemulator==1.4.0",
    "duckdb==2.0.0",
    "sqlglot==30.11.0",
    "numpy==2.4.6",
    "pyarrow==26.0.1",
    "fastapi==0.165.0",
    "starlette==1.10.0",
    "uvicorn==0.54.0",
    "grpcio==1.85.1",
    "protobuf==6.33.6",
    "cryptography==50.0.2",
    "pyjwt==2.15.1",
    "google-auth==2.62.2",
    "google-cloud-bigquery==3.46.2",
    "google-cloud-bigquery-storage==2.43.0",
)


def uv() -> str:
    local = ROOT / ".tools" / "bin" / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    if not found:
        sys.exit("uv not found: run `make env` first (it installs uv into .tools/)")
    return found


def build(venv: Path, python: str = sys.executable) -> float:
    """Create or refresh the venv; returns the seconds it took."""
    started = time.monotonic()
    subprocess.run([uv(), "venv", "--quiet", "--allow-existing", "--python", python, str(venv)], check=True)
    subprocess.run(
        [
            uv(),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "--reinstall-package",
            "bigquery-compat",
            *PINS,
            str(HERE),
        ],
        check=True,
    )
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--python", default=sys.executable, help="interpreter the venv is based on")
    args = parser.parse_args()
    print(f"bqemulator venv ready at {args.venv} in {build(args.venv, args.python):.1f} s")


if __name__ == "__main__":
    main()
