"""The fault run: customers and agents talk through ``wabridge serve`` while Slack and Meta
fail calls and the bridge is killed with SIGKILL and restarted; then every message is
counted. Exits 1 on any loss, duplicate or disorder (see ``sandbox/faults.py``).

    .venv/bin/python bench/faults.py                      # SQLite, 500/50/200, 10 kills
    .venv/bin/python bench/faults.py --database-url postgresql+psycopg://... --workers 2
"""

from __future__ import annotations

import argparse
import faulthandler
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.faults import FaultRun, run_faults


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a fresh, empty database (default: SQLite)")
    parser.add_argument("--workers", type=int, default=0, help="worker processes (PostgreSQL)")
    parser.add_argument("--inbound", type=int, default=500)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--replies", type=int, default=200)
    parser.add_argument("--numbers", type=int, default=25, help="business numbers (channels)")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--rate", type=float, default=25.0, help="messages sent per second")
    parser.add_argument("--no-faults", action="store_true", help="kills only")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, help="keep the logs and database here")
    args = parser.parse_args()
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 <pid>: where each thread is
    if args.workers and not (args.database_url or "").startswith("postgresql"):
        parser.error("--workers needs PostgreSQL (--database-url postgresql+psycopg://...)")
    config = FaultRun(
        inbound=args.inbound,
        conversations=args.conversations,
        replies=args.replies,
        numbers=min(args.numbers, args.conversations),
        kills=args.kills,
        workers=args.workers,
        rate=args.rate,
        faults=not args.no_faults,
        seed=args.seed,
    )
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="wabridge-faults-"))
    print(f"workdir {workdir}", flush=True)
    report = run_faults(
        config,
        workdir=workdir,
        database_url=args.database_url,
        say=lambda line: print(line, flush=True),
    )
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
