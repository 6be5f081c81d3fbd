import sys

from mcpfleet.cli import main

sys.exit(main())
