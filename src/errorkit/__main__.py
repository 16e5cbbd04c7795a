"""`python -m errorkit`: the same as the `errorkit` command."""

from __future__ import annotations

import sys

from errorkit._cli import main

sys.exit(main())
