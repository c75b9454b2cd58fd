"""``ascbench data``: synthesise, check and describe datasets."""

NAME = "data"
HELP = "create the synthetic TAU-shaped dataset or check a dataset folder"


def add_arguments(parser):
    parser.set_defaults(_data_missing=True)


def run(args, ctx) -> int:
    from ascbench.errors import AscbenchError

    raise AscbenchError("`ascbench data` is not available yet")
