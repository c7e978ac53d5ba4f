"""Submits the night's soundtracking run once, whatever the retries (vidmusician/nightly.py).

    python jobs/nightly.py --address http://HEAD:8265 --working-dir /app --runtime-env cluster/runtime_env.yaml \
        [--night YYYY-MM-DD] [--deadline-s 72000] -- python jobs/soundtrack.py ... output=s3://b/{night}/

`{night}` in the job's arguments becomes the night (default: today, UTC). The job's submission id is
`vidmusician-nightly-<night>`: a second submitter for the same night follows the running job, or exits 0
when it already succeeded. Exit 0 when the night's job succeeded, 1 otherwise (failed after
--max-attempts, stopped, past the deadline, or no job server answered for --unreachable-s), 2 on a bad
command line."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from dataclasses import fields

import yaml

from vidmusician.cli import EXIT_BAD_CONFIG, EXIT_FAILED, EXIT_OK
from vidmusician.nightly import UNANSWERED, NightPlan, answered, night_entrypoint, run_night

DEFAULTS = {f.name: f.default for f in fields(NightPlan)}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nightly", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--address", default=os.environ.get("RAY_ADDRESS"),
                   help="the Ray job server, e.g. http://vidmusician-head-svc:8265 (default: $RAY_ADDRESS)")
    p.add_argument("--night", type=dt.date.fromisoformat, help="YYYY-MM-DD (default: today, UTC)")
    p.add_argument("--working-dir", help="uploaded as the job's working_dir")
    p.add_argument("--runtime-env", help="a runtime env YAML file (cluster/runtime_env.yaml)")
    p.add_argument("--prefix", default=DEFAULTS["prefix"], help="submission ids are <prefix>-<night>[-r<n>]")
    p.add_argument("--deadline-s", type=float, default=DEFAULTS["deadline_s"],
                   help="the night's job is stopped this long after its first submission")
    p.add_argument("--max-attempts", type=int, default=DEFAULTS["max_attempts"])
    p.add_argument("--poll-s", type=float, default=DEFAULTS["poll_s"])
    p.add_argument("--unreachable-s", type=float, default=DEFAULTS["unreachable_s"],
                   help="a job server that does not answer is asked again for this long")
    p.add_argument("job", nargs=argparse.REMAINDER, help="-- then the job's command line")
    return p


def plan_from(args: argparse.Namespace) -> NightPlan:
    job = args.job[1:] if args.job[:1] == ["--"] else args.job
    if not job:
        raise ValueError("no job command after --")
    if not args.address:
        raise ValueError("no --address and no RAY_ADDRESS")
    runtime_env = {}
    if args.runtime_env:
        with open(args.runtime_env) as f:
            runtime_env = yaml.safe_load(f) or {}
    if args.working_dir:
        runtime_env["working_dir"] = args.working_dir
    night = args.night or dt.datetime.now(dt.timezone.utc).date()
    return NightPlan(night, night_entrypoint(job, night), runtime_env, args.prefix, args.deadline_s,
                     args.max_attempts, args.poll_s, args.unreachable_s)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        plan = plan_from(args)
    except (ValueError, OSError, yaml.YAMLError) as err:
        print(f"nightly: bad command line: {err}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    from ray.job_submission import JobSubmissionClient
    try:  # the client asks the server's version at once: a head restarting at the tick is asked again
        client = answered(lambda: JobSubmissionClient(args.address), plan)
    except UNANSWERED as err:
        print(f"nightly: {plan.night}: no job server at {args.address} for {plan.unreachable_s:.0f} s, "
              f"giving up: {err}", file=sys.stderr)
        return EXIT_FAILED
    outcome = run_night(client, plan, log=lambda line: print(line, flush=True))
    print(f"nightly: {plan.night}: {outcome.status} ({outcome.submission_id})", flush=True)
    return EXIT_OK if outcome.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
