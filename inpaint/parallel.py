"""Run a DVC pipeline's independent stages side by side, one thread each, on the cores there are.

DVC runs one stage at a time, but it releases the repository lock while a stage's command
runs, so several `dvc --wait-for-lock repro --single-item STAGE` processes can share one
workspace: each waits for the lock only to check and to record its stage, and writes its own
entry of `dvc.lock` when it finishes. `run_stages` starts one such process per stage as soon
as every stage it depends on is done, up to `jobs` at once, and prints which stages run,
which are done and the time so far; each stage's output goes to `logs/<stage>.log`. Stages
already up to date finish at once. A stage that fails stops the scheduling of what depends
on it; the others finish and stay recorded, so a re-run carries on from there.

A stage whose dvc.yaml entry has `meta: {workers_env: VAR}` divides its own work over
one-thread processes: it gets every core free when it starts, their number in `VAR` (the
benchmark: `INPAINT_WORKERS`), and holds them until it ends.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

LOGS = Path("logs")
DURATIONS = LOGS / "durations.json"  # each stage's last wall time: the longest start first
LOCK_RETRIES = 3


@dataclass
class Job:
    stage: str
    process: subprocess.Popen
    started: float
    log_start: int  # where this run's output begins in logs/<stage>.log
    cores: int = 1
    tries: int = 1

    def ran(self) -> bool:
        """Whether DVC ran the stage's command (not: found it up to date, or restored it)."""
        with open(LOGS / f"{self.stage}.log", "rb") as log:
            log.seek(self.log_start)
            return b"Running stage" in log.read()


@dataclass
class Schedule:
    """Which stages wait, run, are done or failed, and what each needs first."""
    needs: dict[str, set[str]]
    priority: dict[str, float]
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def ready(self, running: set[str]) -> list[str]:
        finished = set(self.done)
        blocked = self.blocked()
        waiting = [s for s in self.needs if s not in finished | running | blocked]
        ready = [s for s in waiting if self.needs[s] <= finished]
        return sorted(ready, key=lambda s: -self.priority[s])

    def blocked(self) -> set[str]:
        """Failed stages and every stage downstream of one."""
        blocked = set(self.failed)
        changed = True
        while changed:
            changed = False
            for stage, needs in self.needs.items():
                if stage not in blocked and needs & blocked:
                    blocked.add(stage)
                    changed = True
        return blocked


def pipeline_graph(targets: list[str] | None = None) -> dict[str, set[str]]:
    """{stage: the stages it depends on} of the repository's dvc.yaml: every stage, or only
    `targets` and what they depend on."""
    from dvc.repo import Repo
    with Repo() as repo:
        graph = repo.index.graph
        needs = {stage.addressing: {up.addressing for up in graph.successors(stage)}
                 for stage in graph.nodes}
    if targets is None:
        return needs
    unknown = sorted(set(targets) - set(needs))
    if unknown:
        raise ValueError(f"unknown stage(s) {', '.join(unknown)}; stages: {', '.join(needs)}")
    kept, todo = set(), list(targets)
    while todo:
        stage = todo.pop()
        if stage not in kept:
            kept.add(stage)
            todo += needs[stage]
    return {stage: ups for stage, ups in needs.items() if stage in kept}


def worker_variables() -> dict[str, str]:
    """{stage: the environment variable of its worker count} of the stages that divide their
    work over one-thread processes (`meta: {workers_env: VAR}` in dvc.yaml)."""
    from dvc.repo import Repo
    with Repo() as repo:
        return {stage.addressing: stage.meta["workers_env"] for stage in repo.index.stages
                if isinstance(stage.meta, dict) and "workers_env" in stage.meta}


def priorities(needs: dict[str, set[str]], durations: dict[str, float]) -> dict[str, float]:
    """The longest chain of work from each stage to the end of the pipeline, in seconds of
    the stages' last run (one second each when unknown): the critical path starts first."""
    downstream = {s: {t for t, ups in needs.items() if s in ups} for s in needs}
    memo: dict[str, float] = {}

    def chain(stage: str) -> float:
        if stage not in memo:
            memo[stage] = durations.get(stage, 1.0) + max(
                (chain(d) for d in downstream[stage]), default=0.0)
        return memo[stage]

    return {s: chain(s) for s in needs}


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def _start(stage: str, env: dict[str, str], cores: int = 1, workers_env: str | None = None,
           tries: int = 1) -> Job:
    """Run `stage` in its own DVC process; a stage of several cores gets their number in
    its `workers_env`."""
    LOGS.mkdir(exist_ok=True)
    log = open(LOGS / f"{stage}.log", "a")  # noqa: SIM115 (the child holds it while it runs)
    command = ["dvc", "--wait-for-lock", "repro", "--single-item", stage]
    if workers_env:
        env = {**env, workers_env: str(cores)}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    return Job(stage, process, time.monotonic(), log.tell(), cores, tries)


def _lock_conflict(stage: str) -> bool:
    tail = (LOGS / f"{stage}.log").read_text(errors="replace")[-2000:]
    return any(sign in tail for sign in ("Unable to acquire lock", "LockError", "is busy"))


def run_stages(jobs: int, threads: int = 1, poll: float = 2.0,
               targets: list[str] | None = None,
               estimates: dict[str, float] | None = None) -> bool:
    """Bring the pipeline (or `targets` and what they need) up to date with `jobs` stages at
    once, each at `threads` threads. `estimates` are stage times in seconds for the schedule
    where this workspace has not timed a stage yet (a fresh clone). Returns whether every
    stage succeeded."""
    needs = pipeline_graph(targets)
    durations = json.loads(DURATIONS.read_text()) if DURATIONS.is_file() else {}
    schedule = Schedule(needs, priorities(needs, {**(estimates or {}), **durations}))
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    worker_vars = worker_variables()
    start = time.monotonic()
    running: dict[str, Job] = {}

    def say(text: str) -> None:
        print(f"[{_clock(time.monotonic() - start)}] {text}", flush=True)

    say(f"{len(needs)} stages, {jobs} at a time at {threads} thread(s) each; "
        f"logs in {LOGS}/<stage>.log")
    while True:
        for stage in schedule.ready(set(running)):
            free = jobs - sum(job.cores for job in running.values())
            if free <= 0:
                break
            cores = free if stage in worker_vars else 1
            running[stage] = _start(stage, env, cores, worker_vars.get(stage))
            say(f"start {stage}{f' on {cores} cores' if cores > 1 else ''}   "
                f"(running: {', '.join(running)})")
        if not running:
            break
        time.sleep(poll)
        for stage, job in list(running.items()):
            code = job.process.poll()
            if code is None:
                continue
            del running[stage]
            took = time.monotonic() - job.started
            if code == 0:
                schedule.done.append(stage)
                if job.ran():  # an up-to-date stage's second says nothing of its cost
                    durations[stage] = round(took, 1)
                say(f"done  {stage} in {took / 60:.1f} min   ({len(schedule.done)}/"
                    f"{len(needs)} done; running: {', '.join(running) or '-'})")
            elif _lock_conflict(stage) and job.tries < LOCK_RETRIES:
                say(f"retry {stage}: another stage held DVC's lock")
                running[stage] = _start(stage, env, job.cores, worker_vars.get(stage),
                                        job.tries + 1)
            else:
                schedule.failed.append(stage)
                say(f"FAILED {stage} (exit {code}); see {LOGS}/{stage}.log; its downstream "
                    "stages will not start")
    DURATIONS.write_text(json.dumps(durations, indent=1, sort_keys=True) + "\n")
    skipped = sorted(schedule.blocked() - set(schedule.failed))
    if schedule.failed:
        say(f"failed: {', '.join(schedule.failed)}; not run: {', '.join(skipped) or '-'}; "
            "finished stages are recorded in dvc.lock, so a re-run carries on from there")
        return False
    say(f"all {len(needs)} stages up to date")
    return True


def default_jobs() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m inpaint.parallel",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("targets", nargs="*", help="these stages and what they need "
                        "(default: every stage)")
    args = parser.parse_args(argv)
    return 0 if run_stages(args.jobs, args.threads, targets=args.targets or None) else 1


if __name__ == "__main__":
    sys.exit(main())
