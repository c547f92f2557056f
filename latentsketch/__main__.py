"""``python -m latentsketch`` is the ``latentsketch`` command."""

import sys

from latentsketch.cli import main

sys.exit(main())
