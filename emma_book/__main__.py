import sys

from emma_book.cli import main

sys.exit(main())
