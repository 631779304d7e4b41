import sys

from emma.book.cli import main

sys.exit(main())
