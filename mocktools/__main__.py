"""`python -m mocktools` is the `mocktools` command."""
import sys

from .cli import main

sys.exit(main())
