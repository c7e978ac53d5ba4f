"""cluster/validate_manifests.py, loaded once by path (cluster/ holds scripts, not a package), for the
tests that use it (test_cluster_configs.py, test_kuberay_rules.py)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

VALIDATOR = Path(__file__).resolve().parents[1] / "cluster" / "validate_manifests.py"
MODULE = "vidmusician_validate_manifests"


def load_validator():
    if MODULE not in sys.modules:
        spec = importlib.util.spec_from_file_location(MODULE, VALIDATOR)
        module = importlib.util.module_from_spec(spec)
        sys.modules[MODULE] = module
        spec.loader.exec_module(module)
    return sys.modules[MODULE]
