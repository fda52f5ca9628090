import sys

from geows.cli import main

sys.exit(main())
