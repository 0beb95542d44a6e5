"""ChurnSim data sets: the B2B SaaS churn simulator of "Fighting Churn With Data" (PyPI `fightchurn`
1.2.0), exported as Orchard input envelopes. Usage and contracts only: no interactions, surveys,
tickets or contacts, because a score must work on usage-only books too.

    python -m bench.datasets.churnsim --model crm6 --seed 1 --granularity daily

How it runs: fightchurn writes to Postgres and pulls in heavy dependencies (xgboost, shap, ...) it
does not need to simulate. So a separate tool venv (bench/.venv-datasets, made here on first use)
gets `fightchurn` with --no-deps plus only what its simulator imports (pinned in TOOL_PACKAGES), and
`churnsim_runner.py` runs the simulation there and dumps the customers as JSON (cached in
bench/.cache/datasets/raw/). This module, in the project's venv, turns a dump into envelopes:

* usage, granularity `event`: one `usage.recorded` per simulated event, quantity 1, `user_id` when the
  model simulates users (crm5/crm6 do, socialnet7 does not);
* usage, granularity `daily`: one per account, behaviour and UTC day, quantity = the day's count,
  no user id, stamped at 23:59:59 of the day;
* contracts: the first plan subscription is `contract.signed`, each later one `contract.renewed`
  (ARR = 12 x the simulated MRR, seats = the plan's user limit, 0 for plans without one, product =
  the plan); a churned customer gets `contract.cancelled` with its service end. ChurnSim has no
  segments, so none is sent. Add-on subscription rows are skipped: the simulator writes one per
  add-on for every customer, whether it bought the add-on or not.

Events after the simulation's end date (it simulates the last month of survivors in full) are left
out, so the horizon is the end date. Deterministic for a model, seed, size and granularity, on any x86-64
machine with AVX2: the simulator draws behaviour rates through numpy's linear algebra, whose OpenBLAS
picks its kernel by CPU, and the last bits of those results decide random draws downstream (the crm
books came out two ways across sessions on 2026-12-01 and 02, most likely on hosts with different CPUs;
on one machine, `OPENBLAS_CORETYPE=Prescott` changed crm6 seed 1, while hash seeds and numpy's own AVX2 paths
did not). So the runner gets one kernel, one thread and no AVX-512 paths (`SIMULATOR_ENV`); that
kernel gives the very dump this project's usual machine (AMD EPYC, AVX2, no AVX-512) made without it
(checked on crm6 seed 1), so the books measured on it before the pin are the ones it gives.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from bench.datasets.common import CACHE, REPO, Envelope, envelope, midnight, write_dataset

MODELS = ("crm6", "crm5", "socialnet7")
Granularity = Literal["event", "daily"]
TOOL_VENV = REPO / "bench" / ".venv-datasets"
TOOL_PACKAGES = (
    "fightchurn==1.2.0", "numpy==2.2.6", "pandas==2.2.3", "python-dateutil==2.9.0.post0", "pytz==2025.2",
    "tzdata==2025.2", "six==1.17.0", "hydra-core==1.3.2", "omegaconf==2.3.0", "antlr4-python3-runtime==4.9.3",
    "PyYAML==6.0.2", "packaging==24.2", "joblib==1.4.2", "filelock==3.16.1",
)
RUNNER = Path(__file__).with_name("churnsim_runner.py")
CONVERTER_VERSION = 1
SIMULATOR_ENV = {
    "OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
    "NPY_DISABLE_CPU_FEATURES": "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL "
                                "AVX512_ICL AVX512_SPR",
}
"""How the simulator runs, whatever the host's CPU (see the module docstring)."""
RAW_VERSION = "blas-haswell"
"""In the raw dump's name: a dump made before the pin, possibly on another kernel, is not reused."""


def tool_python() -> Path:
    """The tool venv's python, creating the venv (about 30 s, from the package index) if needed."""
    python = TOOL_VENV / "bin" / "python"
    marker = TOOL_VENV / "installed.txt"
    if not python.exists() or not marker.exists() or marker.read_text() != "\n".join(TOOL_PACKAGES):
        subprocess.run([sys.executable, "-m", "venv", str(TOOL_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", *TOOL_PACKAGES], check=True)
        marker.write_text("\n".join(TOOL_PACKAGES))
    return python


def simulate(model: str, seed: int, *, customers: int, months: int) -> Path:
    """The raw dump of one simulation (cached)."""
    raw = CACHE / "raw" / f"{model}-s{seed}-c{customers}-m{months}-{RAW_VERSION}.jsonl"
    if not raw.exists():
        raw.parent.mkdir(parents=True, exist_ok=True)
        tmp = raw.with_name(raw.name + ".tmp")
        subprocess.run([str(tool_python()), str(RUNNER), model, str(seed), str(customers), str(months), str(tmp)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, **SIMULATOR_ENV})
        tmp.replace(raw)
    return raw


def _day_end(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def envelopes(raw: Path, granularity: Granularity, *, every: int = 1) -> Iterator[Envelope]:
    """The envelopes of a dump, account after account, each account's in time order. `every`: keep
    one simulated customer in `every` (by simulator id), for the costlier event granularity."""
    with raw.open() as lines:
        head = json.loads(next(lines))
        end = date.fromisoformat(head["end"])
        for line in lines:
            customer = json.loads(line)
            if customer["id"] % every:
                continue
            events = list(_customer_events(head["model"], head["seed"], customer, granularity, end))
            yield from sorted(events, key=lambda e: (e["occurred_at"], e["event_id"]))


def _customer_events(model: str, seed: int, c: dict[str, Any], granularity: Granularity,
                     end: date) -> Iterator[Envelope]:
    account = f"{model}-s{seed}-{c['id']:05d}"
    source = f"churnsim-{model}"
    cutoff = midnight(end)
    subs = c["subscriptions"]
    for n, (plan, start, stop, mrr, quantity, units, _period) in enumerate(subs):
        began = date.fromisoformat(start)
        if began >= end:
            break
        term_end = date.fromisoformat(stop)
        if n == len(subs) - 1:  # a churn mid-term cut the term short; the term booked ran to the renewal
            term_end = max(term_end, date.fromisoformat(c["next_renewal"]))
        terms = {"contract_id": f"{account}-plan", "arr": str(Decimal(str(mrr)) * 12), "currency": "USD",
                "seats": int(quantity) if units == "users" and quantity is not None else 0, "products": [plan],
                "start_date": start, "end_date": term_end.isoformat(), "auto_renew": True}
        yield envelope(f"{account}-k{n}", "contract.renewed" if n else "contract.signed", account,
                       midnight(began), terms, source=source)
    service_end = date.fromisoformat(c["service_end"])
    if c["churned"] and service_end < end:
        yield envelope(f"{account}-cancel", "contract.cancelled", account, midnight(service_end),
                       {"contract_id": f"{account}-plan", "end_date": service_end.isoformat()}, source=source)
    usage = sorted((_moment(at), behaviour, user) for at, behaviour, user, _value in c["events"])
    usage = [u for u in usage if u[0] < cutoff]
    if granularity == "event":
        for n, (at, behaviour, user) in enumerate(usage):
            data: dict[str, Any] = {"feature": behaviour, "quantity": 1}
            if c["users"] is not None:
                data["user_id"] = f"u{user}"
            yield envelope(f"{account}-e{n}", "usage.recorded", account, at, data, source=source)
    else:
        daily = Counter((at.date(), behaviour) for at, behaviour, _ in usage)
        for (day, behaviour), count in sorted(daily.items()):
            yield envelope(f"{account}-d{day.isoformat()}-{behaviour}", "usage.recorded", account, _day_end(day),
                           {"feature": behaviour, "quantity": count}, source=source)


def build(path: Path, *, model: str, seed: int, granularity: Granularity, customers: int, months: int,
          every: int = 1) -> dict[str, Any]:
    raw = simulate(model, seed, customers=customers, months=months)
    meta = {"name": path.name.split(".")[0], "generator": "bench.datasets.churnsim", "source": "fightchurn 1.2.0",
            "converter_version": CONVERTER_VERSION, "raw_version": RAW_VERSION, "model": model, "seed": seed,
            "granularity": granularity,
            "parameters": {"init_customers": customers, "months": months, "one_customer_in": every}}
    return write_dataset(path, envelopes(raw, granularity, every=every), meta)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=MODELS, default="crm6")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--granularity", choices=("event", "daily"), default="daily")
    p.add_argument("--customers", type=int, default=60, help="the simulation's initial customers")
    p.add_argument("--months", type=int, default=15)
    p.add_argument("--every", type=int, default=1, help="keep one simulated customer in EVERY")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    out = args.out or CACHE / f"churnsim-{args.model}-s{args.seed}-{args.granularity}.jsonl.gz"
    print(build(out, model=args.model, seed=args.seed, granularity=args.granularity, customers=args.customers,
                months=args.months, every=args.every))


if __name__ == "__main__":
    main()
