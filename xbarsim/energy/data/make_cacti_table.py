"""Regenerate ``cacti_buffers.csv``: CACTI runs of on-chip SRAM and eDRAM buffers.

The table the buffer model interpolates (:mod:`xbarsim.energy.models`) is measured by running
CACTI 7 (Balasubramonian et al., "CACTI 7: New Tools for Interconnect Exploration in
Innovative Off-Chip Memories", ACM TACO 2017), the version shipped as source in the MIT-licensed
``hwcomponents-cacti`` package, built locally with ``make``. CACTI is not a dependency of
xbarsim: only its results are shipped. The configuration is the Accelergy/hwcomponents default
(``default_cfg.cfg``: ITRS low-standby-power cells and periphery, 300 K, "fast" access mode,
one read-write port, one bank) with, per run, a plain RAM ("cache type ram") of the given
capacity, access width and node; eDRAM rows use the logic-process DRAM cell ("lp-dram").

Usage: ``python -m xbarsim.energy.data.make_cacti_table --cacti /path/to/cacti --config
/path/to/default_cfg.cfg`` (writes the CSV next to this file).
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import tempfile
from pathlib import Path

NODES_NM = (22, 32, 45, 65)
SIZES = (1024, 4096, 16384, 65536, 262144, 1048576)
WIDTHS = (64, 256, 1024)
CELLS = {"sram": "itrs-lstp", "edram": "lp-dram"}
FIELDS = ("kind", "node_nm", "size_bytes", "width_bits", "read_pj", "write_pj", "leakage_mw", "area_mm2",
          "cycle_ns")


def run(cacti: Path, config: str, kind: str, node: int, size: int, width: int, work: Path):
    text = config.replace('-Data array cell type - "itrs-lstp"', f'-Data array cell type - "{CELLS[kind]}"')
    text += (f"\n-size (bytes) {size}\n-read-write port  1\n-block size (bytes) {width // 8}\n"
             f"-technology (u) {node / 1000}\n-output/input bus width  {width}\n-UCA bank 1\n"
             f'-cache type "ram"\n-tag size (b) "default"\n-associativity 1\n')
    cfg = work / f"{kind}-{node}-{size}-{width}.cfg"
    cfg.write_text(text)
    subprocess.run([str(cacti), "-infile", str(cfg)], cwd=cacti.parent, check=True, capture_output=True)
    out = Path(str(cfg) + ".out")
    if not out.exists():  # CACTI found no organization (e.g. very small eDRAMs): no row
        return None
    with out.open() as handle:
        row = list(csv.DictReader(handle))[-1]
    return (kind, node, size, width, float(row[" Dynamic read energy (nJ)"]) * 1e3,
            float(row[" Dynamic write energy (nJ)"]) * 1e3, float(row[" Standby leakage per bank(mW)"]),
            float(row[" Area (mm2)"]), float(row[" Random cycle time (ns)"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cacti", type=Path, required=True, help="a built CACTI 7 binary")
    parser.add_argument("--config", type=Path, required=True, help="hwcomponents-cacti's default_cfg.cfg")
    args = parser.parse_args()
    config = args.config.read_text().rstrip() + "\n"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in CELLS:
            for node in NODES_NM:
                for size in SIZES:
                    for width in WIDTHS:
                        if size * 8 >= 64 * width:  # CACTI needs at least 64 rows of one access
                            row = run(args.cacti.resolve(), config, kind, node, size, width, Path(tmp))
                            if row is not None:
                                rows.append(row)
    out = Path(__file__).with_name("cacti_buffers.csv")
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    main()
