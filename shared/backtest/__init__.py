"""Backtesting a signal against history: what is not specific to one service.

Outcomes from contract events (`outcomes`), snapshot dates and which can be judged (`snapshots`),
plain 30-day activity metrics (`activity`) and the supervised baseline fitted on them (`baseline`),
ranking and rate figures (`metrics`, `ranking`), alerts judged against outcomes (`judging`), reading
JSONL archives (`history`, the only I/O) and the HTML page (`html`). The health backtest
(`services/health/backtest`) wires them to the health service's replay.
"""
