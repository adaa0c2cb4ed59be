"""`python -m bench migrate --tenants N`: provision and migrate N tenant schemas, then re-run.

Last line: one JSON object. Runs against DATABASE_URL in a fresh database of
its own (created and dropped here), so it never touches real tenants.
"""

from __future__ import annotations

import argparse
import json
import time

from bench._db import bench_database


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench migrate")
    parser.add_argument("--tenants", "--size", dest="tenants", type=int, default=500)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args(argv)

    from models.migrate import migrate_tenants

    with bench_database():
        slugs = [f"bench_{i:05d}" for i in range(args.tenants)]
        started = time.perf_counter()
        first = migrate_tenants(slugs, parallel=args.parallel)
        provision_s = time.perf_counter() - started
        started = time.perf_counter()
        second = migrate_tenants(slugs, parallel=args.parallel)
        rerun_s = time.perf_counter() - started
        result = {
            "benchmark": "migrate",
            "tenants": args.tenants,
            "parallel": args.parallel,
            "provision_and_migrate_seconds": round(provision_s, 2),
            "per_tenant_ms": round(provision_s / max(args.tenants, 1) * 1000, 1),
            "rerun_seconds": round(rerun_s, 2),
            "applied": first.applied,
            "already_current_on_rerun": second.already_current,
            "failed": len(first.failed) + len(second.failed),
        }
    print(json.dumps(result))
    return 0 if result["failed"] == 0 else 1
