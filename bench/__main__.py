"""Dispatch `python -m bench NAME [args]` to bench/NAME.py's main(argv)."""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import sys
from pathlib import Path

#: Names typed with a dash for modules spelled with an underscore.
ALIASES = {"portal-users": "portal_users"}


def available() -> list[str]:
    modules = (m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_"))
    typed = {module: name for name, module in ALIASES.items()}
    return sorted(typed.get(module, module) for module in modules)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] in {"-h", "--help"}:
        print("usage: python -m bench NAME [--size N]\nbenchmarks: " + ", ".join(available()))
        return 2
    name = ALIASES.get(sys.argv[1], sys.argv[1])
    # Benchmarks run on the development secrets against fake tools on loopback.
    os.environ.setdefault("DMT_ENVIRONMENT", "test")
    os.environ.setdefault("ALLOWED_PRIVATE_HOSTS", "127.0.0.0/8,::1/128")
    # Step timings of the engine (etl.*) go to stderr; the JSON result stays stdout's last line.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("etl").setLevel(logging.INFO)
    if name.startswith("_") or name not in {m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])}:
        print(f"unknown benchmark {name!r}; available: {', '.join(available())}", file=sys.stderr)
        return 2
    return importlib.import_module(f"bench.{name}").main(sys.argv[2:]) or 0


if __name__ == "__main__":
    sys.exit(main())
