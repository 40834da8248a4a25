"""Stage `report`: reports/table2.{md,csv} (the paper's Table 2 layout, per hole-ratio bucket,
plus an 'all masks' row), the paired intervals of `report.reference` against every other
method (in table2.md and reports/paired_differences.csv), the quality-loss decomposition of
`diagnose`, reports/qualitative.png (Figure 10 style) and reports/figure6.png (latent vs
pixel-space GAN losses, Figure 6 style); `inpaint.evaluation.report` draws them."""
from __future__ import annotations

import json
from pathlib import Path

from inpaint.arithmetic import pin_process
from inpaint.api.blending import BLEND_MODES
from inpaint.registry import METHODS
from inpaint.config import ReportParams, load_section
from inpaint.evaluation.metrics import ALL_MASKS
from inpaint.evaluation.report import (REPORTS, diagnosis_section, figure6, paired_section,
                                       qualitative, write_tables)


def main() -> None:
    params = load_section(ReportParams, "report")
    method, _, mode = params.reference.partition("+")
    if method not in METHODS or (mode and mode not in BLEND_MODES):
        raise SystemExit(f"report.reference = {params.reference!r}: not a method of the "
                         f"benchmark; use a method ({', '.join(METHODS)}), optionally with "
                         f"'+' and a compositing mode ({', '.join(BLEND_MODES[1:])})")
    benchmark = json.loads(Path("metrics/benchmark.json").read_text())
    diagnosis = json.loads(Path("metrics/diagnosis.json").read_text())
    methods = list(benchmark[ALL_MASKS])
    REPORTS.mkdir(exist_ok=True)
    write_tables(benchmark, paired_section(params, methods), diagnosis_section(diagnosis))
    qualitative(methods)
    figure6()
    print((REPORTS / "table2.md").read_text())


if __name__ == "__main__":
    pin_process()
    main()
