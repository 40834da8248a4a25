"""The report stage's tables and figures: Table 2 per hole-ratio bucket in Markdown and CSV,
the paired intervals of a reference method against every other, the quality-loss
decomposition of `diagnose`, the qualitative grid (Figure 10 style) and the latent against
pixel-space GAN losses (Figure 6 style). See stages/report.py.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from inpaint.config import ReportParams  # noqa: E402
from inpaint.data.images import atomic_path, load_npy  # noqa: E402
from inpaint.evaluation.compare import (BETTER, PAIR_KEYS, UNCLEAR, WORSE,  # noqa: E402
                                        paired_differences)

TABLE_METRICS = {"psnr": ("PSNR", max), "ssim": ("SSIM", max), "fid": ("FID", min),
                 "lpips_alex": ("LPIPS", min)}
DIGITS = {"psnr": 3, "ssim": 3, "fid": 2, "lpips_alex": 3, "psnr_hole": 3}
REPORTS = Path("reports")
BENCHMARK = Path("data/benchmark")
MARKS = {BETTER: "✓", WORSE: "✗", UNCLEAR: "≈"}


def table_frame(benchmark: dict) -> pd.DataFrame:
    """Long form: one row per (bucket, method) with every metric and N."""
    rows = [{"bucket": bucket, "method": method, **values}
            for bucket, methods in benchmark.items() for method, values in methods.items()]
    return pd.DataFrame(rows).drop(columns=["missing_metrics"], errors="ignore")


def _cell(value, metric: str, best: bool) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    text = f"{value:.{DIGITS[metric]}f}"
    return f"**{text}**" if best else text


def markdown_table(frame: pd.DataFrame, metrics: list[str]) -> str:
    """Rows: buckets; columns: methods; cells 'PSNR / SSIM / FID / LPIPS', best in bold."""
    methods = list(dict.fromkeys(frame.method))
    header = "| mask | " + " | ".join(methods) + " |"
    lines = [header, "|---" * (len(methods) + 1) + "|"]
    for bucket, group in frame.groupby("bucket", sort=False):
        group = group.set_index("method")
        best = {}
        for metric in metrics:
            values = group[metric].dropna() if metric in group else pd.Series(dtype=float)
            pick = TABLE_METRICS.get(metric, ("", max))[1]
            best[metric] = pick(values) if len(values) else None
        cells = [" / ".join(_cell(group.at[m, metric] if metric in group else None, metric,
                                  group.at[m, metric] == best[metric]) for metric in metrics)
                 for m in methods]
        lines.append(f"| {bucket} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def load_features(methods: list[str]) -> tuple[dict | None, np.ndarray | None]:
    """The benchmark's Inception features of every method and of the test set, if all exist
    (they do not when the benchmark ran without metric weights)."""
    folder = BENCHMARK / "features"
    paths = {m: folder / f"{m}.npy" for m in methods}
    if not (folder / "real.npy").is_file() or not all(p.is_file() for p in paths.values()):
        return None, None
    return {m: np.load(p) for m, p in paths.items()}, np.load(folder / "real.npy")


def paired_table(diffs: pd.DataFrame, metric: str) -> str:
    """Rows: buckets; columns: methods; cells: mark, difference and interval."""
    rows = diffs[diffs.metric == metric]
    methods = list(dict.fromkeys(rows.method))
    lines = ["| mask | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    digits = DIGITS[metric]
    for bucket, group in rows.groupby("bucket", sort=False):
        cells = {r.method: f"{MARKS[r.verdict]} {r.difference:+.{digits}f} "
                           f"[{r.low:+.{digits}f}, {r.high:+.{digits}f}]"
                 for r in group.itertuples()}
        lines.append(f"| {bucket} | " + " | ".join(cells.get(m, "–") for m in methods) + " |")
    return "\n".join(lines)


def paired_section(params: ReportParams, methods: list[str]) -> list[str]:
    """Markdown: the reference against every other method, per metric; writes the CSV."""
    title = f"## Paired differences: {params.reference} minus each method"
    if params.reference not in methods:
        return [title, "", f"`{params.reference}` (report.reference) was not benchmarked.", ""]
    scores = pd.read_csv(BENCHMARK / "scores.csv")
    features, real = load_features(methods)
    diffs = paired_differences(scores, features, real, params.reference, list(TABLE_METRICS),
                               params.bootstrap_resamples, params.confidence, params.seed)
    with atomic_path(REPORTS / "paired_differences.csv") as tmp:
        diffs.to_csv(tmp, index=False)
    text = [title, "",
            f"Each cell: {params.reference}'s score minus the column's, on the pairs both were "
            f"scored on, and its {params.confidence:.0%} bootstrap interval "
            f"({params.bootstrap_resamples} resamples of each bucket's pairs; FID recomputed "
            f"per resample). ✓ {params.reference} better, ✗ worse, ≈ the interval "
            "includes 0: the draw of pairs could explain the difference.", ""]
    for metric in TABLE_METRICS:
        if metric in set(diffs.metric):
            text += [f"### {TABLE_METRICS[metric][0]}", "", paired_table(diffs, metric), ""]
    return text


def write_tables(benchmark: dict, paired: list[str], diagnosis: list[str]) -> None:
    """reports/table2.csv and reports/table2.md."""
    frame = table_frame(benchmark)
    counts = frame.groupby("method", sort=False)["n"].apply(lambda n: "/".join(map(str, n)))
    wide = frame.pivot(index="bucket", columns="method",
                       values=[m for m in [*TABLE_METRICS, "psnr_hole", "n"] if m in frame])
    wide = wide.reindex(list(dict.fromkeys(frame.bucket)))
    wide.columns = [f"{method}_{metric}" for metric, method in wide.columns]
    with atomic_path(REPORTS / "table2.csv") as tmp:
        wide.to_csv(tmp)
    text = ["# Table 2: inpainting quality per hole-ratio bucket", "",
            "Cells: PSNR / SSIM / FID / LPIPS (PSNR, SSIM higher is better; FID, LPIPS lower "
            "is better; best of each row in bold). Known pixels are pasted back before scoring "
            "except for `ours_raw`; `<method>+poisson`: Poisson-blended into them instead. "
            "FID compares each method's inpainted test images with the "
            "real ones; it is biased upwards at small N.", "",
            "N per bucket: " + "; ".join(f"{m}: {c}" for m, c in counts.items()), "",
            markdown_table(frame, list(TABLE_METRICS)), "",
            "## Hole-only PSNR", "", markdown_table(frame, ["psnr_hole"]), "",
            *paired, *diagnosis]
    with atomic_path(REPORTS / "table2.md") as tmp:
        tmp.write_text("\n".join(text))


def qualitative(methods: list[str], per_bucket: int = 2) -> None:
    """Damaged input, every method, ground truth; the same few test pairs per bucket for every
    method (taken from the method scored on the fewest pairs, e.g. `optim`'s subset)."""
    scores = pd.read_csv(BENCHMARK / "scores.csv")
    rows = {m: {key: i for i, key in enumerate(
        scores[scores.method == m][PAIR_KEYS].itertuples(index=False, name=None))}
        for m in methods}
    fewest = min(methods, key=lambda m: len(rows[m]))
    shown = (scores[scores.method == fewest][PAIR_KEYS].groupby("bucket", sort=False)
             .head(per_bucket))
    test, masks = load_npy("data/prepared/test.npy"), load_npy("data/masks/eval.npy")
    outputs = {m: load_npy(BENCHMARK / f"{m}.npy") for m in methods}
    columns = ["input", *methods, "ground truth"]
    fig, axes = plt.subplots(len(shown), len(columns), squeeze=False,
                             figsize=(1.3 * len(columns), 1.3 * len(shown)))
    for r, key in enumerate(shown.itertuples(index=False, name=None)):
        pair = dict(zip(PAIR_KEYS, key))
        image, known = test[pair["image_index"]], masks[pair["eval_mask_index"]]
        damaged = np.where(known[..., None] == 1, image, 255)
        cells = [damaged, *(outputs[m][rows[m][key]] for m in methods), image]
        for c, cell in enumerate(cells):
            ax = axes[r, c]
            ax.axis("off")
            ax.imshow(cell)
            if r == 0:
                ax.set_title(columns[c], fontsize=7)
        axes[r, 0].text(-4, image.shape[0] / 2, pair["bucket"], fontsize=6, ha="right",
                        va="center")
    fig.tight_layout()
    with atomic_path(REPORTS / "qualitative.png") as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def diagnosis_section(diagnosis: dict) -> list[str]:
    """Markdown: where the quality goes, from metrics/diagnosis.json."""
    search = diagnosis["range_search"]
    names = {"autoencoder": "autoencoder ceiling: Dec(E_R(I))",
             "generator_range": f"generator range: Dec(G(z*)), best of {search['restarts']} "
                                f"starts x {search['steps']} Adam steps on {search['loss']}",
             "encoder": "encoder: Dec(G(E_z(I))), no hole",
             "extended_range": "extended code's range: z and G's hidden-feature offset, "
                               "optimised likewise",
             "extended_encoder": "extended encoder (ours_extended), no hole"}
    lines = ["## Where the quality goes (validation images, never the test images)", "",
             "| undamaged images | N | PSNR | LPIPS |", "|---|---|---|---|"]
    lines += [f"| {names[k]} | {r['n']} | {r['psnr']:.2f} | {r['lpips']:.3f} |"
              for k, r in diagnosis["whole_image"].items()]
    gaps = diagnosis["gaps"]
    lines += ["", f"Lost to the prior (autoencoder - generator range): {gaps['prior_db']:.2f} "
                  f"dB; lost to the encoder (generator range - encoder): "
                  f"{gaps['encoder_db']:.2f} dB; the extended code's encoder gap "
                  f"{gaps['extended_encoder_db']:.2f} dB.", "",
              f"Per bucket, hole only (seam: the {diagnosis['seam_width']} px ring of the hole "
              "next to known pixels; interior: the rest of the hole). Cells: hole PSNR / seam "
              "PSNR / interior PSNR / LPIPS.", "",
              "| bucket | N | ours, pasted | ours, Poisson-blended | autoencoder oracle |",
              "|---|---|---|---|---|"]

    def cell(r: dict) -> str:
        values = [r["psnr_hole"], r["psnr_seam"], r["psnr_interior"]]
        return " / ".join("–" if v is None else f"{v:.2f}" for v in values) + \
            f" / {r['lpips']:.3f}"

    for bucket, r in diagnosis["buckets"].items():
        lines.append(f"| {bucket} | {r['n']} | {cell(r['ours_paste'])} | "
                     f"{cell(r['ours_poisson'])} | {cell(r['autoencoder_oracle'])} |")
    n, fid = diagnosis["all_pairs"]["n"], diagnosis["all_pairs"]["fid"]
    lines += ["", f"FID of the composites of all {n} pairs against their true images "
                  f"(biased high at this N): ours pasted {fid['ours_paste']:.1f}, "
                  f"Poisson-blended {fid['ours_poisson']:.1f}, autoencoder oracle "
                  f"{fid['autoencoder_oracle']:.1f}."]
    return lines + [""]


def figure6(feature_log: Path = Path("plots/gan/losses.tsv"),
            pixel_log: Path = Path("plots/pixel_gan/losses.tsv"),
            path: Path = REPORTS / "figure6.png") -> None:
    """G and D losses per epoch of the latent and the pixel-space GAN, side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    for ax, (log_path, title) in zip(axes, [(feature_log, "GAN in the autoencoder's feature space"),
                                            (pixel_log, "pixel-space DCGAN")]):
        log = pd.read_csv(log_path, sep="\t")
        ax.plot(log.epoch, log.loss_g, label="G loss")
        ax.plot(log.epoch, log.loss_d, label="D loss")
        ax.plot(log.epoch, log.diversity, "--", label="diversity")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
