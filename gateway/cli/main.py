"""``python -m gateway.cli.main``: the ``outreach`` command without the console script."""

from . import main

if __name__ == "__main__":
    main()
