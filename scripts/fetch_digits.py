"""Re-derive the shipped digits data, saliency_cli/data/digits.csv.gz, from a scikit-learn wheel.

The file is scikit-learn's copy of the UCI "Optical Recognition of Handwritten Digits" test set
(sklearn/datasets/data/digits.csv.gz, CC BY 4.0; see NOTICE), shipped byte for byte. This script downloads
one scikit-learn wheel with pip (no dependencies, nothing installed), takes that one member out of it and
checks its SHA-256 against the one the package verifies on every load. Run it once, by hand, with network
access; the tests never run it, and scikit-learn is never a dependency of saliency-cli.

    python scripts/fetch_digits.py            # check: the wheel's file is the shipped one
    python scripts/fetch_digits.py --write    # (re)write saliency_cli/data/digits.csv.gz from the wheel
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from saliency_cli.datasets import DIGITS_FILE, DIGITS_SHA256, load_digits  # noqa: E402

MEMBER = "sklearn/datasets/data/digits.csv.gz"


def wheel_member(version: str | None) -> bytes:
    """The digits file inside a scikit-learn wheel downloaded (not installed) by pip into a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = "scikit-learn" if version is None else f"scikit-learn=={version}"
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", tmp, spec]
        subprocess.run(command, check=True)
        (wheel,) = Path(tmp).glob("scikit_learn-*.whl")
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(MEMBER)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", help="the scikit-learn version to download (default: the newest)")
    parser.add_argument("--write", action="store_true", help=f"write the file to {DIGITS_FILE}")
    args = parser.parse_args()
    data = wheel_member(args.version)
    digest = hashlib.sha256(data).hexdigest()
    if digest != DIGITS_SHA256:
        print(f"the wheel's {MEMBER} has SHA-256 {digest}, not the expected {DIGITS_SHA256}", file=sys.stderr)
        return 1
    if args.write:
        Path(DIGITS_FILE).write_bytes(data)
    x, y = load_digits()
    print(f"{MEMBER}: {len(data):,} bytes, sha256 {digest}, {len(x)} images {x.shape[1:]}, classes 0..{y.max()}")
    print(f"{'written to' if args.write else 'the same as'} {DIGITS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
