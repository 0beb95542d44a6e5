"""The health backtest: `python -m services.health.backtest --events FILE --out DIR`.

`replay.py` is the one module that calls the health service's code; `core.py` computes every figure
from its outputs, with no I/O; `__main__.py` reads the archive and writes the JSON and HTML.
"""
