"""The size of a base install: what `pip install .` put into a venv, per distribution.

    .venv-base/bin/python .ci/base_size.py [LIMIT_MB]

Counts the files each installed distribution lists (its RECORD), leaving out the venv's own
pip and setuptools (every venv has them; they are not what the verifier needs). Prints the
table and the total; exits 1 when the total is above LIMIT_MB (default 40).
"""

from __future__ import annotations

import importlib.metadata
import sys
import sysconfig
from pathlib import Path

SEED = {"pip", "setuptools"}


def main(argv: list[str]) -> int:
    limit = float(argv[0]) if argv else 40.0
    site = Path(sysconfig.get_paths()["purelib"])
    sizes: dict[str, int] = {}
    for dist in importlib.metadata.distributions(path=[str(site)]):
        name = dist.metadata["Name"]
        if name.lower() in SEED:
            continue
        total = 0
        for f in dist.files or []:
            p = Path(str(dist.locate_file(f)))
            if p.is_file():
                total += p.stat().st_size
        sizes[name] = total
    everything = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<22} {size / 1e6:6.1f} MB")
    total_mb = sum(sizes.values()) / 1e6
    print(
        f"base install: {total_mb:.1f} MB in {len(sizes)} distributions (limit {limit:.0f} MB); "
        f"site-packages {everything / 1e6:.1f} MB with the venv's own pip and setuptools"
    )
    return 0 if total_mb <= limit else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
