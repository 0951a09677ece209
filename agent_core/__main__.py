import sys

from ._supervise import exit_cleanly_on_sigterm
from .cli import main

exit_cleanly_on_sigterm()
sys.exit(main())
