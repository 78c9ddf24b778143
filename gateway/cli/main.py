"""``python -m gateway.cli.main``: the ``outreach`` command without the console script."""

from gateway.cli import main

if __name__ == "__main__":
    main()
