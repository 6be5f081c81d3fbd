import sys

from mcpfleet.common.cli import main

sys.exit(main())
