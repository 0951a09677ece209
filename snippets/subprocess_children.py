"""subprocess: risky code in a child of its own, with a hard timeout that kills its whole process group.

The child leads a new session (start_new_session=True), so os.killpg reaches anything it started too.
The script is a fixed string from the program, never text a user typed.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

SCRIPT = "import json, sys; n = int(sys.argv[1]); print(json.dumps({'squares': sum(i * i for i in range(n))}))"


def run_isolated(n: int, timeout_s: float) -> dict:
    child = subprocess.Popen([sys.executable, "-I", "-c", SCRIPT, str(n)], stdout=subprocess.PIPE,
                             start_new_session=True)
    try:
        out, _ = child.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)        # the child and everything it started
        child.communicate()
        return {"status": "timeout"}
    if child.returncode != 0:
        return {"status": "crashed", "returncode": child.returncode}
    return {"status": "ok", **json.loads(out)}


def main(base_url: str = "", n: int = 4) -> dict:
    start = time.perf_counter()
    results = [run_isolated(10_000 + i, timeout_s=5) for i in range(n)]
    return {"calls": len(results), "ok": sum(r["status"] == "ok" for r in results),
            "wall_s": time.perf_counter() - start}


if __name__ == "__main__":
    print(main())
