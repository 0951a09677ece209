import os
import sys

from ._supervise import exit_cleanly_on_sigterm
from .cli import main

exit_cleanly_on_sigterm()
try:
    code = main()
    sys.stdout.flush()
except BrokenPipeError:             # the reader went away (`... | head`): stop quietly, as a pipe's writer does
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())     # so the exit's own flush fails no more
    code = 141
sys.exit(code)
