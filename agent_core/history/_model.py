"""What the run store keeps and says: its bounds, its one error, a row of its list, a label's rules, the machine."""
from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
from dataclasses import asdict, dataclass

from ..catalog import shown
from ..errors import AgentCoreError, BadInput
from ..machine import gil, usable_cores

HISTORY_ENV = "AGENT_CORE_HISTORY"      # where the store is: a path (a file, or a directory to hold one), or "off"

DEFAULT_MAX_RUNS = 500
DEFAULT_MAX_BYTES = 200 * 2**20
MAX_LABEL_CHARS = 80


class StoreError(AgentCoreError):
    """The store cannot be used (a read-only location, a full disk, a lock held too long): one line."""


@dataclass
class Entry:
    """One saved run, as the list shows it (its records stay in the store until asked for)."""
    id: int
    saved_at: float
    label: str | None
    mode: str
    spec: str
    wall_s: float
    n_calls: int
    ok_calls: int
    machine: dict              # {"cores", "python", "gil", "platform", "hostname"}; None where unknown (imports)
    version: str               # the app's version when it was measured
    group: str | None          # shared by the runs of one comparison
    source: str                # "local" or "imported"

    def to_dict(self) -> dict:
        return asdict(self)


def check_label(label: str | None) -> str | None:
    """A label as saved (stripped), or BadInput: one line of printable text with a letter, at most 80 characters.
    All digits is refused: a reference that is a number means a run's id."""
    if label is None:
        return None
    if not isinstance(label, str):
        raise BadInput(f"label {shown(label, quote=True)} is not text: give a short name such as 'baseline'")
    text = label.strip()
    rule = f"a label is 1..{MAX_LABEL_CHARS} printable characters, not all digits"
    if not text or len(text) > MAX_LABEL_CHARS or not text.isprintable():
        raise BadInput(f"label {shown(label, quote=True)} is not allowed: {rule}")
    if text.isdigit():
        raise BadInput(f"label {shown(label, quote=True)} is a number, which names a run's id: {rule}")
    return text


@functools.cache
def machine_info() -> dict:
    """This machine as a saved run records it: usable cores, Python version, GIL on or off, platform, host name."""
    return {"cores": usable_cores(), "python": platform.python_version(),
            "gil": gil().enabled, "platform": platform.platform(terse=True),
            "hostname": socket.gethostname()}


@functools.cache
def app_version() -> str:
    """``agent_core.__version__`` if it exists, else ``git describe`` of the checkout, else "dev"."""
    import agent_core
    version = getattr(agent_core, "__version__", None)
    if version:
        return str(version)
    root = os.path.dirname(os.path.dirname(os.path.abspath(agent_core.__file__)))
    if os.path.exists(os.path.join(root, ".git")):
        try:
            out = subprocess.run(["git", "-C", root, "describe", "--tags", "--always", "--dirty"],
                                 capture_output=True, text=True, timeout=5)
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return "dev"
