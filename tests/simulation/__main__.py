"""``python -m tests.simulation``: what ``make simulate`` runs."""

import sys

from .explore import main

sys.exit(main())
