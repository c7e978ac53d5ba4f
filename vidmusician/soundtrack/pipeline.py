"""The soundtracking job on Ray Data: inputs not done yet -> CPU prepare tasks -> generation actor pool
(decode, features, music) -> CPU write tasks -> outcome parts (flushed as videos finish) -> score table,
review page, summary.

Resume: a run first reads the outcomes flushed under its model version and skips the inputs that have
a final one (ok or error; "not done" is not final); the prepare stage reuses any finished soundtrack
of the same content (its marker exists). So a run killed at any point, started again, makes only what
is missing, and a run with nothing left writes nothing. Infrastructure faults are retried within the
run, then left not done; a run where they keep coming stops early (vidmusician/faults.py)."""
from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import ray

from vidmusician.config import Config, dump_config
from vidmusician.faults import NotDoneStreak
from vidmusician.publish.mix import KEEP
from vidmusician.raycluster import init_ray
from vidmusician.soundtrack.duplicates import ContentClaims, Duplicates
from vidmusician.soundtrack.generate import SoundtrackGenerator
from vidmusician.soundtrack.layout import Layout, adapter_version, model_version, run_config_hash
from vidmusician.soundtrack.prepare import prepare_for_soundtrack
from vidmusician.soundtrack.review import review_page
from vidmusician.soundtrack.table import OutcomeWriter, read_outcomes, summarize, to_table
from vidmusician.soundtrack.write import score_row, write_soundtrack
from vidmusician.storage import Storage, absolute_uri
from vidmusician.video.inputs import resolve_inputs
from vidmusician.video.rows import STATUS_ERROR, STATUS_NOT_DONE, STATUS_OK, video_row


@dataclass
class SoundtrackResult:
    table: pa.Table         # one row per input of this run
    layout: Layout
    summary: str
    work: Counter           # generated / reused / errors / not_done / skipped in this run
    elapsed_s: float


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def build_dataset(cfg: Config, todo: list[dict], layout: Layout, stamp: dict, claims) -> ray.data.Dataset:
    st = cfg.soundtrack
    ray.data.DataContext.get_current().enable_progress_bars = True
    ds = ray.data.from_items(todo, override_num_blocks=max(1, len(todo)))
    # On a cluster the prepare tasks and the generation actors ask for different resources (GPUs,
    # soundtrack.cpu_resources), so they run apart; where they ask for the same (a CPU-only local Ray),
    # Ray Data fuses preparing into the actors, which changes where it runs, not what it does.
    ds = ds.map(prepare_for_soundtrack, fn_kwargs={"cfg": cfg, "layout": layout, "claims": claims},
                num_cpus=st.decode_num_cpus, resources=st.cpu_resources or None)
    ds = ds.map_batches(SoundtrackGenerator, fn_constructor_args=(cfg,), batch_size=cfg.generation.batch_size,
                        batch_format="numpy", num_cpus=st.num_cpus, num_gpus=st.num_gpus,
                        resources=st.actor_resources or None,
                        compute=ray.data.ActorPoolStrategy(min_size=st.actors_min, max_size=st.actors_max))
    return ds.map(write_soundtrack, fn_kwargs={"cfg": cfg, "layout": layout, "stamp": stamp},
                  num_cpus=st.write_num_cpus, resources=st.cpu_resources or None)


class Progress:
    """A progress line every `every_s` seconds (Ray Data's bars show the stages; this shows outcomes)."""

    def __init__(self, total: int, every_s: float):
        self.total, self.every_s = total, every_s
        self.start = self.last = time.perf_counter()
        self.done = Counter()

    def update(self, row: dict) -> None:
        self.done[row["status"]] += 1
        now = time.perf_counter()
        if now - self.last >= self.every_s:
            self.last = now
            n = sum(self.done.values())
            rate = n / (now - self.start)
            eta = (self.total - n) / rate if rate > 0 else float("inf")
            print(f"soundtrack: {n}/{self.total} ({self.done[STATUS_OK]} ok, {self.done[STATUS_ERROR]} error, "
                  f"{self.done[STATUS_NOT_DONE]} not done), "
                  f"{rate * 3600:.0f} videos/hour, eta {eta:.0f} s", flush=True)


def rejected_row(item: dict, stamp: dict) -> dict:
    """The score row of a manifest row that is not an input (no usable URI, a repeated video id)."""
    return score_row(video_row(item, STATUS_ERROR, item["reason"]), stamp)


def run_soundtrack(cfg: Config) -> SoundtrackResult:
    start = time.perf_counter()
    cfg = replace(cfg, output=absolute_uri(cfg.output))  # the paths it prints work from anywhere
    storage = Storage(cfg.storage)
    inputs = resolve_inputs(cfg.input, storage, cfg.video.suffixes)
    adapters = adapter_version(cfg, storage)
    version = model_version(cfg, adapters)
    layout = Layout.of(cfg.output, version)
    stamp = {"model": cfg.model.musicgen.pretrained or "random", "model_version": version,
             "adapter_version": adapters, "config_hash": run_config_hash(cfg),
             "run_id": new_run_id()}
    storage.remove_orphaned_temps(layout.root)  # a killed run's half-written files
    final = (STATUS_OK,) if cfg.soundtrack.retry_errors else (STATUS_OK, STATUS_ERROR)
    done = {k: v for k, v in read_outcomes(layout.outcomes, storage).items() if v["status"] in final}
    todo = [item for item in inputs.items if item["video_id"] not in done]
    work = Counter(generated=0, reused=0, errors=0, not_done=0, skipped=len(inputs.items) - len(todo))
    if todo:
        dump_config(cfg, layout.root, name=f"config-{stamp['run_id']}.yaml")
        init_ray(cfg.ray)
        claims = ContentClaims.remote()
        writer, progress = OutcomeWriter(layout.outcomes, stamp["run_id"], storage), Progress(
            len(todo), cfg.soundtrack.progress_every_s)
        duplicates, streak = Duplicates(), NotDoneStreak(cfg.retry)

        def record(row: dict) -> None:
            writer.add(row)
            done[row["video_id"]] = row
            work[{STATUS_ERROR: "errors", STATUS_NOT_DONE: "not_done"}.get(
                row["status"], "reused" if row["reused"] else "kept" if row.get("mix") == KEEP else "generated")] += 1
            progress.update(row)

        last_flush = time.perf_counter()
        try:
            for row in build_dataset(cfg, todo, layout, stamp, claims).iter_rows():
                for outcome in duplicates.resolve(dict(row)):
                    record(outcome)
                    if not outcome["duplicate_of"]:  # one count per content, however often it repeats
                        streak.update(outcome["status"] == STATUS_NOT_DONE, outcome["reason"])
                if (len(writer.buffer) >= cfg.soundtrack.flush_every
                        or time.perf_counter() - last_flush >= cfg.soundtrack.flush_s):
                    writer.flush()
                    last_flush = time.perf_counter()
            for outcome in duplicates.orphans():
                record(outcome)
        finally:  # also when the run stops early: what finished stays finished
            writer.flush()
            ray.kill(claims)
    rows = [done[item["video_id"]] for item in inputs.items if item["video_id"] in done]
    lost = [item for item in inputs.items if item["video_id"] not in done]
    if lost:  # cannot happen unless a stage dropped rows; then it is said, not hidden
        raise RuntimeError(f"{len(lost)} inputs have no outcome, e.g. {lost[0]['uri']}")
    rows += [rejected_row(item, stamp) for item in inputs.rejected]
    table = to_table(rows)
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf)
    storage.write_if_changed(layout.scores, buf.getvalue().to_pybytes())
    storage.write_if_changed(layout.review, review_page(rows, layout, cfg.soundtrack.review_sort_key).encode())
    elapsed = time.perf_counter() - start
    return SoundtrackResult(table, layout, summarize(rows, elapsed, work), work, elapsed)
