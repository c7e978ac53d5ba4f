"""Typed configuration: dataclass schema + omegaconf loading (defaults <- preset <- file <- overrides)."""
from vidmusician.config.schema import Config
from vidmusician.config.loader import ConfigError, load_config, dump_config, config_hash, help_text

__all__ = ["Config", "ConfigError", "load_config", "dump_config", "config_hash", "help_text"]
