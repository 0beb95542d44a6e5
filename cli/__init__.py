"""``orchard``: the command line of the people who operate Orchard (Typer + Rich).

Each command talks to the services the way any client does: their HTTP APIs with a bearer key, and
the contract's Kafka topics. ``cli.main`` declares the commands; the modules beside it do the work.
"""
