"""``python -m spikeforge ...`` (and ``torchrun --nproc_per_node=N -m spikeforge train ...``): the command line."""

import sys

from .cli import main

sys.exit(main())
