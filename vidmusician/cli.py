"""What every job's entry point shares: `--help`, config loading with clear errors, exit codes."""
from __future__ import annotations

import sys
from typing import Callable

from vidmusician.config import Config, ConfigError, dump_config, help_text, load_config
from vidmusician.devices import DeviceUnavailable, caused_by_missing_device, check_job_devices
from vidmusician.faults import InfrastructureFailure
from vidmusician.storage import StorageError
from vidmusician.weights import WeightsError, check_weights, location_uri

EXIT_OK, EXIT_FAILED, EXIT_BAD_CONFIG = 0, 1, 2


def run_job(name: str, summary: str, example: str, body: Callable[[Config], int],
            argv: list[str] | None = None, default_preset: str | None = None,
            loads_weights: bool = False, writes_output: bool = True, uses_devices: bool = True) -> int:
    """Parses `key=value` arguments into the typed config (validated as it loads), checks what the job
    needs before it starts, writes the resolved config as `<output>/config.yaml` (a job that
    `writes_output`: not fetch_weights nor build_toy_backbone, which write elsewhere) and runs
    `body(cfg)`. A job that `loads_weights` first checks that `weights.location` holds every configured
    model. A job that does not `uses_devices` (fetch_weights: it copies files) skips the device check.
    Exit codes: 0 every input has an outcome, 1 the job itself failed (or stopped on infrastructure
    faults, or left inputs not done), 2 a bad config or command line."""
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(help_text(name, summary, example))
        return EXIT_OK
    try:
        cfg = load_config(argv, preset=default_preset)
        if cfg.weights.location:  # Ray workers run in other directories: resolve it here, once
            cfg.weights.location = location_uri(cfg.weights.location)
        if uses_devices:
            check_job_devices(cfg)
        if loads_weights:
            check_weights(cfg)
    except (ConfigError, WeightsError) as err:
        print(f"{name}: bad configuration: {err}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    except DeviceUnavailable as err:
        print(f"{name}: {err}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    if writes_output:
        dump_config(cfg, cfg.output)
    try:
        return body(cfg)
    except (InfrastructureFailure, StorageError) as err:  # the storage or the cluster, not a bug: one line
        print(f"{name}: {err}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as err:
        missing = caused_by_missing_device(err)
        if missing is None:
            raise
        print(f"{name}: a stage failed: {missing}", file=sys.stderr)
        return EXIT_BAD_CONFIG
