"""``python -m atomic_counter``: the atomic-counter command line."""

import sys

from .cli import main

sys.exit(main())
