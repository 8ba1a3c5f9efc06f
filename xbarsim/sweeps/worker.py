"""Dask preload for the workers of a sweep's local cluster (``LocalCluster(preload=[this module])``).

Ctrl-C in a terminal interrupts the whole foreground process group, worker processes
included. The sweep process handles it (records what finished, stops the cluster); a worker
that also raised KeyboardInterrupt would only print a traceback, so workers ignore it.
"""

import signal
import threading


def dask_setup(worker) -> None:  # noqa: ARG001 - the preload protocol passes the worker
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
