"""One module per ``ascbench`` subcommand (see :mod:`ascbench.cli`)."""
