"""Runs ChurnSim (PyPI `fightchurn`, "Fighting Churn With Data") in-process and dumps what it
simulated, one JSON line per customer. Runs inside the tool venv that `bench.datasets.churnsim`
creates (fightchurn with numpy, pandas, hydra-core, joblib, filelock; no database drivers), never in
the project's venv:

    bench/.venv-datasets/bin/python bench/datasets/churnsim_runner.py MODEL SEED CUSTOMERS MONTHS OUT

The simulator is called, not copied: its config is composed by hydra from the package's own conf
(MODEL.yaml over default.yaml, with init_customers, random_seed and end_date overridden), and each
customer comes from `ChurnSimulation.simulate_customer`. What is replaced is only its database
output: `run_simulation` writes each customer to Postgres, so the month loop it runs (initial
customers in the first month, then `ceil(init * growth_rate)` new ones a month growing by the growth
rate) is done here, keeping the customers in memory. Its database modules are imported at the top of
its files but only used by the output code we do not call, so empty stand-ins satisfy the imports.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import sys
import tempfile
import types
from datetime import date
from typing import Any


def _stub_database_modules() -> None:
    for name in ("psycopg2", "postgres"):
        module = types.ModuleType(name)
        module.Postgres = None  # type: ignore[attr-defined]
        module.connect = None  # type: ignore[attr-defined]
        sys.modules.setdefault(name, module)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, day.day)


def simulate(model: str, seed: int, customers: int, months: int, out_path: str) -> None:
    workdir = tempfile.mkdtemp(prefix="churnsim-")
    os.environ["CHURN_OUT_DIR"] = workdir
    tempfile.tempdir = workdir  # the simulator keeps a customer-id counter file in the temp dir
    _stub_database_modules()
    import numpy as np
    from dateutil.relativedelta import relativedelta
    from fightchurn.churnsim import churnsim
    from fightchurn.churnsim.customer import Customer
    from hydra import compose, initialize_config_dir

    Customer.date_multipliers = {}
    conf_dir = os.path.join(os.path.dirname(churnsim.__file__), "conf")
    with initialize_config_dir(config_dir=conf_dir, version_base=None):
        cfg = compose(config_name=model, overrides=[f"init_customers={customers}", f"random_seed={seed}"])
    start = date.fromisoformat(str(cfg.start_date))
    end = _add_months(start, months)
    random.seed(seed)
    np.random.seed(seed)
    with contextlib.redirect_stdout(sys.stderr):  # it prints progress; stdout stays clean
        sim = churnsim.ChurnSimulation(cfg)
        sim.end_date = end
        behaviours = [str(b) for b in next(iter(sim.behavior_models.values())).behave_names]
        plans = {str(p) for p in sim.plans.index.values}
        simulated = [sim.simulate_customer(start) for _ in range(customers)]
        month, to_add = start + relativedelta(months=+1), math.ceil(customers * cfg.growth_rate)
        while month < end:
            simulated.extend(sim.simulate_customer(month) for _ in range(to_add))
            month, to_add = month + relativedelta(months=+1), math.ceil(to_add * (1.0 + cfg.growth_rate))
    with open(out_path, "w") as out:
        out.write(json.dumps({"model": model, "seed": seed, "customers": customers, "months": months,
                              "start": start.isoformat(), "end": end.isoformat(), "behaviours": behaviours,
                              "plans_with_seats": "users" in sim.plans.columns}) + "\n")
        for c in simulated:
            out.write(json.dumps(_customer(c, behaviours, plans, end)) + "\n")


def _customer(c: Any, behaviours: list[str], plans: set[str], end: date) -> dict[str, Any]:
    subscriptions = [
        [str(s[0]), s[1].isoformat(), s[2].isoformat(), float(s[3]),
         None if s[4] is None else int(s[4]), None if s[5] is None else str(s[5]), int(s[6])]
        for s in c.subscriptions if str(s[0]) in plans  # add-on rows are written for every customer: skip
    ]
    return {
        "id": int(c.id), "start": c.start_date.isoformat(), "channel": str(c.channel), "users": c.users,
        # a churn mid-term cuts the LAST subscription row short (an add-on's, when there are add-ons)
        "next_renewal": c.next_renewal.isoformat(), "service_end": c.subscriptions[-1][2].isoformat(),
        "churned": bool(c.subscriptions[-1][2] <= end),
        "subscriptions": subscriptions,
        "events": [[e[0].isoformat(), behaviours[int(e[1])], int(e[2]), None if e[3] is None else float(e[3])]
                   for e in c.events],
    }


if __name__ == "__main__":
    simulate(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
