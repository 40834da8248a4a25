"""The seed study: every learned method trained with several replicate seeds, and verdicts
whose intervals resample both the seeds and the test pairs.

One training run is one draw of initialisation, data order and GAN dynamics; the paired
intervals of the `report` stage resample test pairs only. A seed's record
(`python -m inpaint.evaluation.study record --seed N`, after `make celebahq64 SEED=N`) keeps
what the verdicts need, a few hundred kB, under reports/seeds/seed<N>/:

- `params.yaml`: the params the run used; `run.json`: commit, date, CPU, kernel pinning;
- `metrics/`: every stage's metrics, `benchmark.json` (each entry's scores per bucket) included;
- `plots/<stage>/losses.tsv`: each training stage's log per epoch (the GANs' for Figure 6);
- `scores.csv.gz`: the benchmark's per-pair scores of every entry;
- `fid_draws.npz`: FID is a property of a set, so it cannot be resampled from per-pair
  scores: for each set of pairs, bucket and entry, the FID of the pairs and of
  `bootstrap_resamples` draws of them (the same draws for every entry, so differences are
  paired), from the benchmark's Inception features.

`python -m inpaint.evaluation.study report` reads every record and writes
reports/seeds/study.md: Table 2 as seed means with their sd, and `reference` minus each
entry per bucket with a two-level bootstrap interval (draw seeds with replacement, then for
each drawn seed a resample of its pairs), the verdict from that interval only, and in how many
seeds the sign held. It puts the same tables in reports/celebahq64.md, the learned methods and
the target in README.md, and each seed's stage times in docs/data.md, each between the
file's `study` markers.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from inpaint.arithmetic import OPT_OUT
from inpaint.config import training_sections
from inpaint.evaluation.compare import (HIGHER_IS_BETTER, PAIR_KEYS, _fids,
                                        _mean_difference, verdict)
from inpaint.evaluation.metrics import ALL_MASKS

SEEDS = Path("reports/seeds")
REPORT = Path("reports/celebahq64.md")
README = Path("README.md")
DATA_DOC = Path("docs/data.md")  # its block: each seed's stage times
# The report's generated part lies between these lines; the rest of it is written by hand.
BEGIN, END = "<!-- study: begin (make study writes this part) -->", "<!-- study: end -->"
REFERENCES = ("ours+poisson", "ours_extended+poisson")
METRICS = {"psnr": ("PSNR", 3), "ssim": ("SSIM", 3), "fid": ("FID", 2),
           "lpips_alex": ("LPIPS", 3)}
MARKS = {"better": "✓", "worse": "✗", "unclear": "≈"}
# The systems of the paper's Table 2 and LaMa, each judged at its better compositing.
COMPARED = ("pconv", "gatedconv", "comodgan", "hifill", "lama")
LARGE_HOLES = ("30-40%", "40-50%", "50-60%")
# The README's results table: the paper's method, its extension and the compared systems.
README_METHODS = ("ours", "ours_extended", *COMPARED)
# The paper's Figure 6: the DCGAN in the autoencoder's feature space against one in pixels
# (each stage's log folder: its name in the report).
GANS = {"gan": "feature space (the paper's)", "pixel_gan": "pixel space"}
FIGURE6 = SEEDS / "figure6.png"
# The training stages' per-epoch logs, in a workspace and in a record alike.
TRAINING_LOGS = "plots/*/losses.tsv"


# --- recording one seed -----------------------------------------------------------------

def _pair_sets(scores: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The distinct sets of pairs entries were scored on ('all'; a subset such as optim's),
    each with the entries scored on every pair of it and the row of each pair per entry."""
    scores = scores.assign(row=scores.groupby("method", sort=False).cumcount())
    keyed = {m: g.set_index(PAIR_KEYS).row for m, g in scores.groupby("method", sort=False)}
    full = max(keyed.values(), key=len).index
    sets = {"all": full}
    for method, rows in keyed.items():
        if len(rows) < len(full):
            sets.setdefault(f"subset_{len(rows)}", rows.index)
    return {name: pd.DataFrame({m: rows.reindex(index) for m, rows in keyed.items()
                                if rows.index.isin(index).sum() == len(index)}, index=index)
            for name, index in sets.items()}


def fid_draws(scores: pd.DataFrame, features: dict[str, np.ndarray], real: np.ndarray,
              resamples: int, seed: int) -> dict[str, np.ndarray]:
    """'{set}/{bucket}/{entry}' -> [FID of the pairs, FIDs of `resamples` draws of them]."""
    rng = np.random.default_rng(seed)
    out = {}
    for set_name, rows in _pair_sets(scores).items():
        buckets = rows.index.get_level_values("bucket")
        for bucket in [*dict.fromkeys(buckets), ALL_MASKS]:
            chosen = rows if bucket == ALL_MASKS else rows[buckets == bucket]
            draws = rng.integers(0, len(chosen), size=(resamples, len(chosen)))
            reals = real[chosen.index.get_level_values("image_index")]
            for entry in chosen.columns:
                point, boot = _fids(reals, features[entry][chosen[entry].to_numpy(int)], draws)
                out[f"{set_name}/{bucket}/{entry}"] = np.concatenate([[point], boot]).astype(
                    np.float32)
    return out


def _run_facts(seed: int) -> dict:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
    durations = Path("logs/durations.json")
    return {"seed": seed, "recorded": time.strftime("%Y-%m-%d %H:%M:%S"),
            "commit": commit.stdout.strip() or None, "cpu": _cpu_name(),
            "machine": platform.machine(),
            # the stages pin their kernels themselves unless this opt-out was set
            "kernels_pinned": os.environ.get(OPT_OUT) != "1",
            "stage_seconds": json.loads(durations.read_text()) if durations.is_file() else None}


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def current_outputs(pipeline_file: str = "dvc.yaml") -> tuple[list[Path], list[Path]]:
    """The metrics files (metrics/*.json) and training logs (plots/<stage>/losses.tsv) of the
    stages that are up to date in this DVC workspace: a stage that a partial run left out
    (`--targets`) still holds the committed files of another run."""
    from dvc.repo import Repo
    produced = {}
    for name, stage in yaml.safe_load(Path(pipeline_file).read_text())["stages"].items():
        for entry in [*stage.get("metrics", []), *stage.get("outs", []),
                      *stage.get("plots", [])]:
            produced[entry if isinstance(entry, str) else next(iter(entry))] = name
    with Repo() as repo:
        changed = set(repo.status())
    if "benchmark" in changed:
        raise ValueError("the benchmark stage is not up to date: nothing to record")

    def current(pattern: str) -> list[Path]:
        return [path for path in sorted(Path().glob(pattern))
                if produced.get(path.as_posix(), "benchmark") not in changed]

    return current("metrics/*.json"), current(TRAINING_LOGS)


def record_seed(seed: int, folder: Path = SEEDS, benchmark: Path = Path("data/benchmark"),
                resamples: int = 300, metrics: list[Path] | None = None,
                logs: list[Path] | None = None) -> Path:
    """Write the record of the run in this workspace as reports/seeds/seed<N>/ (replacing an
    older record of that seed only once the new one is complete), with `metrics` (default:
    every metrics/*.json) and the training logs `logs` (default: every plots/*/losses.tsv)."""
    params = yaml.safe_load(Path("params.yaml").read_text())
    trained = {params[section]["seed"] for section in training_sections()}
    if trained != {seed}:
        raise ValueError(f"params.yaml's training seeds are {sorted(trained)}, not {seed}: "
                         "record the run that `--seed N` made")
    scores = pd.read_csv(benchmark / "scores.csv")
    feature_dir = benchmark / "features"
    entries = list(dict.fromkeys(scores.method))
    features = {e: np.load(feature_dir / f"{e}.npy") for e in entries}
    draws = fid_draws(scores, features, np.load(feature_dir / "real.npy"), resamples,
                      params["report"]["seed"])
    final = folder / f"seed{seed}"
    tmp = folder / f".seed{seed}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "metrics").mkdir(parents=True)
    shutil.copy("params.yaml", tmp / "params.yaml")
    for path in sorted(Path("metrics").glob("*.json")) if metrics is None else metrics:
        shutil.copy(path, tmp / "metrics" / path.name)
    for path in sorted(Path().glob(TRAINING_LOGS)) if logs is None else logs:
        (tmp / path.parent).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, tmp / path)
    with gzip.open(tmp / "scores.csv.gz", "wt", compresslevel=9) as f:
        scores.to_csv(f, index=False, float_format="%.6g")
    np.savez_compressed(tmp / "fid_draws.npz", **draws)
    (tmp / "run.json").write_text(json.dumps(_run_facts(seed), indent=1) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def timed_runs(folder: Path = SEEDS) -> dict[int, dict]:
    """{seed: run.json} of the seed records under `folder` whose run timed its stages."""
    runs = {}
    for path in sorted(folder.glob("seed*/run.json")):
        facts = json.loads(path.read_text())
        if facts.get("stage_seconds"):
            runs[facts["seed"]] = facts
    return runs


def recorded_durations(folder: Path = SEEDS) -> dict[str, float]:
    """Each stage's median wall seconds over the seed records that timed it: the parallel
    runner's estimates on a machine that has not run the stages yet."""
    times: dict[str, list[float]] = {}
    for facts in timed_runs(folder).values():
        for stage, seconds in facts["stage_seconds"].items():
            times.setdefault(stage, []).append(seconds)
    return {stage: float(np.median(values)) for stage, values in times.items()}


def stage_times(folder: Path = SEEDS, pipeline: Path = Path("dvc.yaml"),
                cores: int = 2) -> str:
    """docs/data.md's table: each stage's wall minutes in every seed record that timed it (the
    parallel runner: one thread a stage, `cores` stages side by side), their sum, and that sum
    over the cores, which no schedule of those stages on `cores` cores can beat."""
    runs = timed_runs(folder)
    order = list(yaml.safe_load(pipeline.read_text())["stages"]) if pipeline.is_file() else []
    stages = sorted({s for f in runs.values() for s in f["stage_seconds"]},
                    key=lambda s: (order.index(s) if s in order else len(order), s))
    seeds = sorted(runs)
    lines = ["| stage (minutes) | " + " | ".join(f"seed {s}" for s in seeds) + " |",
             "|---" * (len(seeds) + 1) + "|",
             "| CPU | " + " | ".join(runs[s]["cpu"] for s in seeds) + " |"]
    for stage in stages:
        minutes = [runs[s]["stage_seconds"].get(stage) for s in seeds]
        lines.append(f"| {stage} | " + " | ".join("" if m is None else f"{m / 60:.1f}"
                                                  for m in minutes) + " |")
    sums = [sum(runs[s]["stage_seconds"].values()) / 60 for s in seeds]
    lines += ["| **sum** | " + " | ".join(f"{m:.1f}" for m in sums) + " |",
              f"| **sum / {cores} cores** | " + " | ".join(f"{m / cores:.1f}" for m in sums)
              + " |"]
    return "\n".join(lines)


# --- reading the study ------------------------------------------------------------------

def _recipe(params: dict) -> dict:
    """The params without the training seeds: what every replicate of a study shares."""
    seeds = set(training_sections())
    return {section: {k: v for k, v in values.items() if not (section in seeds and k == "seed")}
            if isinstance(values, dict) else values for section, values in params.items()}


def _differing_keys(a: dict, b: dict, prefix: str = "") -> list[str]:
    keys = []
    for key in sorted(set(a) | set(b), key=str):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            keys += _differing_keys(x, y, f"{prefix}{key}.")
        elif x != y:
            keys.append(f"{prefix}{key}")
    return keys


def load_records(folder: Path = SEEDS) -> dict[int, dict]:
    """{seed: {'benchmark', 'scores', 'fid', 'logs'}} of every complete record under `folder`, which
    must all come from one recipe (the same params but for the training seeds)."""
    records, first = {}, None
    for path in sorted(folder.glob("seed*")):
        if not (path / "run.json").is_file():
            continue
        recipe = _recipe(yaml.safe_load((path / "params.yaml").read_text()))
        if first is None:
            first = (path, recipe)
        elif differing := _differing_keys(first[1], recipe):
            raise ValueError(f"{path} and {first[0]} come from different recipes (params "
                             f"{', '.join(differing[:8])} differ): a study compares replicates "
                             f"of one recipe, so move the other recipe's records out of {folder}")
        seed = json.loads((path / "run.json").read_text())["seed"]
        with np.load(path / "fid_draws.npz") as draws:
            fid = {key: draws[key] for key in draws.files}
        records[seed] = {"benchmark": json.loads((path / "metrics/benchmark.json").read_text()),
                         "scores": pd.read_csv(path / "scores.csv.gz"), "fid": fid,
                         "logs": {log.parent.name: log
                                  for log in sorted(path.glob(TRAINING_LOGS))}}
    if not records:
        raise FileNotFoundError(f"no seed records under {folder}")
    return records


def seed_table(records: dict[int, dict]) -> pd.DataFrame:
    """One row per (bucket, entry, metric): the value of each seed, their mean and sd."""
    rows = []
    for seed, record in records.items():
        for bucket, entries in record["benchmark"].items():
            for entry, values in entries.items():
                rows += [{"seed": seed, "bucket": bucket, "entry": entry, "metric": m,
                          "value": values.get(m)} for m in METRICS]
    frame = pd.DataFrame(rows).dropna(subset=["value"])
    grouped = frame.groupby(["bucket", "entry", "metric"], sort=False).value
    return pd.DataFrame({"mean": grouped.mean(), "sd": grouped.std(ddof=1),
                         "seeds": grouped.count()}).reset_index()


def _per_seed_differences(record: dict, reference: str, entry: str, bucket: str, metric: str,
                          resamples: int, rng: np.random.Generator
                          ) -> tuple[float, np.ndarray] | None:
    """reference minus entry in one seed: on the pairs, and over `resamples` draws of them."""
    if metric == "fid":
        for set_name in dict.fromkeys(key.split("/", 1)[0] for key in record["fid"]):
            ref = record["fid"].get(f"{set_name}/{bucket}/{reference}")
            other = record["fid"].get(f"{set_name}/{bucket}/{entry}")
            if ref is not None and other is not None:
                diff = ref.astype(np.float64) - other
                return float(diff[0]), diff[1:]
        return None
    scores = record["scores"]
    if bucket != ALL_MASKS:
        scores = scores[scores.bucket == bucket]
    paired = scores[scores.method == reference].merge(scores[scores.method == entry],
                                                      on=PAIR_KEYS, suffixes=("_r", "_o"))
    if paired.empty:
        return None
    draws = rng.integers(0, len(paired), size=(resamples, len(paired)))
    return _mean_difference(paired[f"{metric}_r"].to_numpy(np.float64),
                            paired[f"{metric}_o"].to_numpy(np.float64), draws)


def verdicts(records: dict[int, dict], reference: str, resamples: int = 2000,
             confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """reference minus every other entry, per bucket and metric, with the two-level bootstrap
    interval over seeds and pairs, its verdict, and the seeds in which the sign held."""
    rng = np.random.default_rng(seed)
    tail = (1 - confidence) / 2
    any_record = next(iter(records.values()))
    buckets = list(any_record["benchmark"])
    entries = [e for e in any_record["benchmark"][ALL_MASKS] if e != reference]
    rows = []
    for entry in entries:
        for bucket in buckets:
            for metric in METRICS:
                per_seed = [_per_seed_differences(r, reference, entry, bucket, metric,
                                                  resamples, rng) for r in records.values()]
                per_seed = [d for d in per_seed if d is not None]
                if not per_seed:
                    continue
                points = np.array([p for p, _ in per_seed])
                boots = np.stack([b[:resamples] for _, b in per_seed])
                seeds_drawn = rng.integers(0, len(per_seed), size=(resamples, len(per_seed)))
                draw_of_seed = rng.integers(0, boots.shape[1], size=seeds_drawn.shape)
                two_level = boots[seeds_drawn, draw_of_seed].mean(axis=1)
                low, high = np.quantile(two_level, [tail, 1 - tail])
                favourable = points > 0 if HIGHER_IS_BETTER[metric] else points < 0
                rows.append({"entry": entry, "bucket": bucket, "metric": metric,
                             "seeds": len(per_seed), "difference": float(points.mean()),
                             "low": float(low), "high": float(high),
                             "verdict": verdict(low, high, HIGHER_IS_BETTER[metric]),
                             "sign_held": int(favourable.sum())})
    return pd.DataFrame(rows)


def better_compositing(table: pd.DataFrame, method: str, metric: str) -> str:
    """`method` or `method+poisson`, whichever has the better all-masks seed mean."""
    rows = table[(table.bucket == ALL_MASKS) & (table.metric == metric)
                 & table.entry.isin([method, f"{method}+poisson"])].set_index("entry")["mean"]
    pick = rows.idxmax if HIGHER_IS_BETTER[metric] else rows.idxmin
    return pick()


# --- the report -------------------------------------------------------------------------

def _mean_sd(row: pd.Series, digits: int) -> str:
    sd = "" if row.seeds < 2 else f" ± {row.sd:.{digits}f}"
    return f"{row['mean']:.{digits}f}{sd}"


def _cells(rows: pd.DataFrame, entry: str) -> tuple[list[str], int]:
    """`entry`'s mean ± sd per metric in `rows` (one bucket), and its number of seeds."""
    cells, seeds = [], 0
    for metric, (_, digits) in METRICS.items():
        row = rows[(rows.entry == entry) & (rows.metric == metric)]
        cells.append(_mean_sd(row.iloc[0], digits) if len(row) else "–")
        seeds = max(seeds, int(row.seeds.iloc[0]) if len(row) else 0)
    return cells, seeds


def _header(first: str) -> list[str]:
    names = [f"{name} {'↑' if HIGHER_IS_BETTER[m] else '↓'}" for m, (name, _) in METRICS.items()]
    return [f"| {first} | " + " | ".join(names) + " |", "|---" * (len(METRICS) + 1) + "|"]


def table2(table: pd.DataFrame, bucket: str = ALL_MASKS) -> list[str]:
    rows = table[table.bucket == bucket]
    header = _header("entry")
    lines = [header[0] + " seeds |", header[1] + "---|"]
    for entry in dict.fromkeys(rows.entry):
        cells, seeds = _cells(rows, entry)
        lines.append(f"| {entry} | " + " | ".join(cells) + f" | {seeds} |")
    return lines


def verdict_table(diffs: pd.DataFrame, metric: str, entries: list[str]) -> list[str]:
    digits = METRICS[metric][1]
    rows = diffs[(diffs.metric == metric) & diffs.entry.isin(entries)]
    lines = ["| mask | " + " | ".join(entries) + " |", "|---" * (len(entries) + 1) + "|"]
    for bucket, group in rows.groupby("bucket", sort=False):
        cells = {r.entry: f"{MARKS[r.verdict]} {r.difference:+.{digits}f} "
                          f"[{r.low:+.{digits}f}, {r.high:+.{digits}f}] {r.sign_held}/{r.seeds}"
                 for r in group.itertuples()}
        lines.append(f"| {bucket} | " + " | ".join(cells.get(e, "–") for e in entries) + " |")
    return lines


def benchmarked_systems(table: pd.DataFrame) -> list[str]:
    """The compared systems the benchmark scored (at either compositing)."""
    return [m for m in COMPARED if {m, f"{m}+poisson"} & set(table.entry)]


def target_checks(table: pd.DataFrame, diffs: pd.DataFrame) -> list[dict]:
    """The target of issue 28 over seeds: for FID and LPIPS and each compared system (at its
    better compositing), in how many buckets from 30% the reference is better, and the bucket
    where it is least sure."""
    checks = []
    for metric in ("fid", "lpips_alex"):
        for method in benchmarked_systems(table):
            entry = better_compositing(table, method, metric)
            rows = diffs[(diffs.entry == entry) & (diffs.metric == metric)
                         & diffs.bucket.isin(LARGE_HOLES)]
            checks.append({"metric": METRICS[metric][0], "entry": entry,
                           "held": int((rows.verdict == "better").sum()),
                           "worst": rows.loc[rows.high.idxmax()]})  # lower is better
    return checks


def target(table: pd.DataFrame, diffs: pd.DataFrame, reference: str) -> list[str]:
    """Does `reference` beat each compared system (at its better compositing) on FID and
    LPIPS in every bucket from 30%?"""
    checks = target_checks(table, diffs)
    lines = [f"- {c['metric']} vs `{c['entry']}`: better in {c['held']} of {len(LARGE_HOLES)} "
             f"buckets (least sure: {c['worst'].bucket}, {c['worst'].difference:+.3f} "
             f"[{c['worst'].low:+.3f}, {c['worst'].high:+.3f}])" for c in checks]
    met = all(c["held"] == len(LARGE_HOLES) for c in checks)
    absent = [m for m in COMPARED if m not in benchmarked_systems(table)]
    verdict_line = (f"**Target {'met' if met else 'not met'}** for `{reference}`"
                    + (f" (not benchmarked: {', '.join(absent)})" if absent else "") + ":")
    return [verdict_line, "", *lines]


def readme_results(seeds: list[int], table: pd.DataFrame, diffs: pd.DataFrame,
                   reference: str = REFERENCES[0]) -> str:
    """The README's results: each learned method's all-masks seed means ± sd (+poisson, the
    `inpaint` default) and the target's outcome in one sentence."""
    rows = table[table.bucket == ALL_MASKS]
    lines = _header("method (+poisson)")
    for method in README_METHODS:
        if f"{method}+poisson" in set(rows.entry):
            lines.append(f"| {method} | " + " | ".join(_cells(rows, f"{method}+poisson")[0]) + " |")
    checks = target_checks(table, diffs)
    missed = [f"{c['metric']} vs `{c['entry']}` (better in {c['held']} of "
              f"{len(LARGE_HOLES)} buckets)"
              for c in checks if c["held"] < len(LARGE_HOLES)]
    outcome = (f"**Target {'not met' if missed else 'met'}** over seed(s) "
               f"{', '.join(map(str, seeds))}: `{reference}` is better than each of the "
               f"{len(benchmarked_systems(table))} compared systems, at its better "
               "compositing, on FID and LPIPS in every bucket from 30% holes"
               + (f", except {'; '.join(missed)}." if missed else "."))
    return "\n".join([*lines, "", outcome])


def analyse(records: dict[int, dict], resamples: int = 2000,
            confidence: float = 0.95) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The seed table and, for each reference entry benchmarked, its verdicts."""
    table = seed_table(records)
    return table, {reference: verdicts(records, reference, resamples, confidence)
                   for reference in REFERENCES if reference in set(table.entry)}


def study_report(records: dict[int, dict], resamples: int = 2000, confidence: float = 0.95,
                 analysis: tuple[pd.DataFrame, dict[str, pd.DataFrame]] | None = None) -> str:
    """reports/seeds/study.md; `analysis` is `analyse(records, resamples, confidence)`."""
    table, all_diffs = analysis or analyse(records, resamples, confidence)
    seeds = sorted(records)
    text = [f"# The seed study: {len(seeds)} seed(s) ({', '.join(map(str, seeds))})", "",
            "Generated by `python -m inpaint.evaluation.study report` from the records in this "
            "folder. Each cell: the mean over seeds ± their sd (sample sd; none with one seed).",
            "", "## Table 2, all masks", "", *table2(table), ""]
    for reference, diffs in all_diffs.items():
        text += [f"## `{reference}` minus each entry", "",
                 f"Each cell: the mean over seeds of the difference, its {confidence:.0%} "
                 f"two-level bootstrap interval ({resamples} draws of seeds, then of each drawn "
                 "seed's pairs), and in how many seeds the sign favoured the reference. "
                 "✓ better, ✗ worse, ≈ level (the interval includes 0).", "",
                 *target(table, diffs, reference), ""]
        shown = [e for e in dict.fromkeys(diffs.entry) if "+" in e or e in (
            "ours", "telea", "ns", "biharmonic")]
        for metric in ("fid", "lpips_alex"):
            text += [f"### {METRICS[metric][0]}", "", *verdict_table(diffs, metric, shown), ""]
    spread = table[(table.bucket == ALL_MASKS) & table.metric.isin(["fid", "lpips_alex"])]
    text += ["## Spread over seeds (sd of the all-masks score)", "",
             "| entry | FID sd | LPIPS sd |", "|---|---|---|"]
    for entry, group in spread.groupby("entry", sort=False):
        sd = group.set_index("metric").sd
        text.append(f"| {entry} | {sd.get('fid', np.nan):.2f} | "
                    f"{sd.get('lpips_alex', np.nan):.4f} |")
    if figure := gan_comparison(records):
        text += ["", *figure]
    return "\n".join(text) + "\n"


def _over_seeds(values: list[float], digits: int) -> str:
    return _mean_sd(pd.Series({"mean": np.mean(values), "seeds": len(values),
                               "sd": np.std(values, ddof=1) if len(values) > 1 else np.nan}),
                    digits)


def gan_logs(records: dict[int, dict]) -> dict[str, dict[int, pd.DataFrame]]:
    """{GAN stage: {seed: its log per epoch}} of the records that trained each of `GANS`."""
    return {gan: {seed: pd.read_csv(record["logs"][gan], sep="\t")
                  for seed, record in records.items() if gan in record["logs"]}
            for gan in GANS}


def figure6_seed(records: dict[int, dict]) -> int | None:
    """The first seed whose record trained both GANs (the one Figure 6 draws), or None."""
    return next((seed for seed in sorted(records) if set(GANS) <= set(records[seed]["logs"])),
                None)


def gan_comparison(records: dict[int, dict]) -> list[str]:
    """Figure 6 over the records: each GAN's sample FID (mean ± sd over the seeds that trained
    it) at up to six of its FID epochs, its losses and diversity in its last epoch; nothing
    unless some record trained both GANs."""
    drawn = figure6_seed(records)
    if drawn is None:
        return []
    logs = gan_logs(records)
    runs = [log for by_seed in logs.values() for log in by_seed.values()]
    fid_epochs = sorted(set.intersection(*(set(log.epoch[log.fid.notna()]) for log in runs)))
    step = -(-len(fid_epochs) // 6)
    shown = fid_epochs[::-1][::step][::-1]
    text = ["## Figure 6: the GAN in feature space and in pixel space", "",
            "FID of `gan.fid_samples` decoded samples against as many validation faces, "
            "every `gan.fid_every` epochs (biased high at this N: compare the rows, not other "
            "tables); then the last epoch's G and D losses and the samples' diversity (mean "
            "pairwise L1 of 64 samples over that of 64 real faces; near 0: mode collapse). "
            "Mean ± sd over the seeds that trained the GAN. Loss curves: "
            f"[{FIGURE6.name}]({FIGURE6.name}) (seed {drawn}).", "",
            "| GAN | seeds | " + " | ".join(f"FID @{e}" for e in shown)
            + " | G loss | D loss | diversity |", "|---" * (len(shown) + 5) + "|"]
    for gan, by_seed in logs.items():
        fid = [log.set_index("epoch").fid for log in by_seed.values()]
        fids = [_over_seeds([float(by_epoch[e]) for by_epoch in fid], 1) for e in shown]
        last = [_over_seeds([float(log[column].iloc[-1]) for log in by_seed.values()], 2)
                for column in ("loss_g", "loss_d", "diversity")]
        text.append(f"| {GANS[gan]} | {', '.join(map(str, by_seed))} | "
                    + " | ".join(fids + last) + " |")
    return text + [""]


def draw_figure6(records: dict[int, dict], path: Path = FIGURE6) -> Path | None:
    """The loss curves of both GANs of `figure6_seed`'s record, or None."""
    from inpaint.evaluation.report import figure6
    drawn = figure6_seed(records)
    if drawn is None:
        return None
    logs = records[drawn]["logs"]
    figure6(logs["gan"], logs["pixel_gan"], path)
    return path


def replace_block(path: Path, body: str) -> None:
    """Replace the part of `path` between BEGIN and END by `body`; the rest is hand-written."""
    text = path.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{path} has no '{BEGIN}' ... '{END}' block for the study")
    head, rest = text.split(BEGIN, 1)
    path.write_text(f"{head}{BEGIN}\n{body.strip()}\n{END}{rest.split(END, 1)[1]}")


def embed(report: Path, study: str) -> None:
    """Put the study's tables in `report` (its title and the line saying how it was made
    dropped, headings one level down, links to files beside the records rebased)."""
    body = "".join(study.split("\n", 4)[4:])  # after the title and the generated-by line
    body = re.sub(r"\]\(([^):]+)\)", lambda link: "](" + os.path.relpath(
        SEEDS.resolve() / link[1], report.resolve().parent) + ")", body)
    replace_block(report, "\n".join("#" + line if line.startswith("#") else line
                                    for line in body.splitlines()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inpaint.evaluation.study",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="record this workspace's run as reports/seeds/seed<N>")
    rec.add_argument("--seed", type=int, required=True)
    rep = sub.add_parser("report", help="write reports/seeds/study.md from the records")
    rep.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args(argv)
    try:
        if args.command == "record":
            metrics, logs = current_outputs()
            print(f"recorded {record_seed(args.seed, metrics=metrics, logs=logs)}")
        else:
            records = load_records()
            table, diffs = analysis = analyse(records, args.resamples)
            text = study_report(records, args.resamples, analysis=analysis)
            path = SEEDS / "study.md"
            path.write_text(text)
            print(f"wrote {path}")
            if figure := draw_figure6(records):
                print(f"wrote {figure}")
            if REPORT.is_file():
                embed(REPORT, text)
                print(f"updated the study's part of {REPORT}")
            if README.is_file() and REFERENCES[0] in diffs:
                replace_block(README, readme_results(sorted(records), table,
                                                     diffs[REFERENCES[0]]))
                print(f"updated the study's part of {README}")
            if DATA_DOC.is_file():
                replace_block(DATA_DOC, stage_times())
                print(f"updated the stage times in {DATA_DOC}")
    except (OSError, ValueError, KeyError) as err:
        print(f"study: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
