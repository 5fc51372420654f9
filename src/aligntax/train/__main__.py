"""``python -m aligntax.train ARGS`` == ``aligntax train ARGS``: the entry point ``accelerate launch -m`` runs
on every GPU (see ``aligntax.train.launch``)."""

import sys

from aligntax.cli import main

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "train", *sys.argv[1:]]
    main()
