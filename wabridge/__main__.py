import sys

from wabridge.cli import main

sys.exit(main())
