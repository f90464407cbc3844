"""``python -m rec_unlearn_lib``: see :mod:`rec_unlearn_lib.cli`."""

import sys

from .cli import main

sys.exit(main())
