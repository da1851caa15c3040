"""``python measure.py RESULT TIMEOUT COMMAND...``: run COMMAND, kill it after TIMEOUT seconds,
and write ``exit_code peak_kb seconds killed`` to the file RESULT.

Why a separate small process: Linux keeps a child's ``ru_maxrss`` across ``exec``, so a child
forked straight from a big pytest process reports the parent's size, not its own. Forked from
this script (a few MB), the figure is the command's own peak.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def main(argv: list[str]) -> None:
    """Run the command (stdin, stdout and stderr inherited) and write its figures."""
    result, timeout, *command = argv
    started = time.monotonic()
    proc = subprocess.Popen(command)
    killed = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - started > float(timeout):
            proc.kill()
            killed = True
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.005)
    seconds = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    with open(result, "w", encoding="ascii") as out:
        out.write(f"{proc.returncode} {usage.ru_maxrss} {seconds:.3f} {int(killed)}")


if __name__ == "__main__":
    main(sys.argv[1:])
