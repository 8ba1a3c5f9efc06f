"""Resource estimates before work: refuse a run that cannot fit in memory, at once and in one line.

A run that outgrows the memory does not fail cleanly: it swaps, stalls the machine for
minutes and ends in a ``MemoryError`` traceback or the kernel's OOM killer, after all its work
is lost. So the expensive entry points estimate what they will need before starting
(``simulate``: operations x bytes per operation; ``program``: cells x bytes per cell; the
``xbarsim mvm`` command: its matrices too) and call :func:`require_memory`, which raises
:class:`~xbarsim.errors.ResourceError` naming the setting to change when the estimate exceeds
the memory available.

Available memory is ``MemAvailable`` of ``/proc/meminfo`` (what the kernel could hand out
without swapping), capped by a cgroup limit when the process runs under one, or the value of
the environment variable ``XBARSIM_MAX_MEMORY`` (a size such as ``8GiB``) when set; where none
can be read, nothing is refused. Estimates are upper bounds measured on this code (the
constants below say how), not promises: a run just under the limit may still swap.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Tuple

from . import units
from .errors import ConfigError, ResourceError

__all__ = ["ENVIRONMENT", "available_memory", "require_memory", "format_bytes", "simulation_estimate",
           "OPERATIONS_PER_STEP", "BYTES_PER_OPERATION"]

ENVIRONMENT = "XBARSIM_MAX_MEMORY"
"""Environment variable that sets the memory xbarsim may use (a size: ``8GiB``, ``512MB``)."""


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units, three significant digits: ``4.4 GiB``."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"


def _meminfo_available() -> Optional[int]:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room() -> Optional[int]:
    """Memory left under this process's cgroup (v2) limit, if it has one."""
    try:
        relative = Path("/proc/self/cgroup").read_text(encoding="ascii").strip().split("\n")[0].split("::", 1)[1]
        folder = Path("/sys/fs/cgroup") / relative.lstrip("/")
        limit = (folder / "memory.max").read_text(encoding="ascii").strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int((folder / "memory.current").read_text(encoding="ascii").strip()))
    except (OSError, ValueError, IndexError):
        return None


def available_memory() -> Tuple[Optional[int], str]:
    """(bytes xbarsim may use, where that figure comes from); (None, ...) if it cannot be told.

    Raises :class:`~xbarsim.errors.ConfigError` if ``XBARSIM_MAX_MEMORY`` is set but is not a size.
    """
    text = os.environ.get(ENVIRONMENT)
    if text is not None:
        try:
            value = units.parse(text.strip(), "size")
        except units.UnitError:
            raise ConfigError((ENVIRONMENT,), "a size such as '8GiB' or '512MB'", text) from None
        if not value > 0:
            raise ConfigError((ENVIRONMENT,), "a size above 0 such as '8GiB'", text)
        return int(value), f"{ENVIRONMENT}={text.strip()}"
    candidates = [(v, s) for v, s in ((_meminfo_available(), "available memory (MemAvailable)"),
                                      (_cgroup_room(), "room under this process's memory limit (cgroup)"))
                  if v is not None]
    if not candidates:
        return None, "unknown"
    return min(candidates)


def require_memory(setting: str, estimate_bytes: float, what: str) -> None:
    """Refuse a run whose memory ``estimate_bytes`` exceeds what is available.

    ``setting`` names what the user can change (``batch``, ``--size``, ``crossbar.rows``);
    ``what`` says what the estimate is for (``"2,000,000,000 operations"``). Raises
    :class:`~xbarsim.errors.ResourceError` with both, the estimate and the limit, in one line.
    """
    limit, source = available_memory()
    if limit is None or estimate_bytes <= limit:
        return
    raise ResourceError(f"{setting}: {what} need about {format_bytes(estimate_bytes)} of memory, more than the "
                        f"{format_bytes(limit)} of {source}; make it smaller, or set {ENVIRONMENT} to allow more")


OPERATIONS_PER_STEP = 32
"""Upper bound of stream operations per step (one row segment of a layer part, per image) in
``simulate``'s estimate, programming aside.

Measured with ``build_stream`` on every zoo network on the ISAAC preset, both schedules, batches
1 to 4: 4.5 to 22.1 operations per step (AlexNet's fc gathers the most; ResNets 6.1 to 9.9);
``benchmarks/bench_memory.py`` measures them."""

BYTES_PER_OPERATION = 1000
"""Peak memory per stream operation of ``simulate`` (stream, durations, event model, counts, trace).

Measured (``benchmarks/bench_memory.py``) as the growth of peak RSS per stream operation for
ResNet-18 on ISAAC, layer schedule, batch 32 to 512: 624 to 1,053 bytes per operation (the larger
with a trace of every event); re-measure it when the operation stream changes."""


def simulation_estimate(mapping, batch: int) -> Tuple[int, int]:
    """(operations, bytes) ``simulate`` will need at most for ``batch`` images on ``mapping``.

    Every step (a row segment of a layer part, per image; a layer split to fit the chip runs its
    rows once per part) costs at most :data:`OPERATIONS_PER_STEP` operations, and programming a
    copy (reprogrammed chips) a further two, once per part and copy.
    """
    steps = sum(max(1, m.layer.E) * m.segments * max(1, len(m.parts)) for m in mapping.layers)
    copies = sum(part.copies for m in mapping.layers for part in m.parts)
    operations = int(batch) * OPERATIONS_PER_STEP * steps + (2 * copies if mapping.rounds > 1 else 0)
    return operations, operations * BYTES_PER_OPERATION
