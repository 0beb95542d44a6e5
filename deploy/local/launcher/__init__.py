"""The local launcher's pieces; `deploy/local/infra.py` is its entry point."""
