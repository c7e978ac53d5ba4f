"""Typed configuration: dataclass schema + omegaconf loading (defaults <- preset <- file <- overrides)."""
from vidmusician.config.loader import ConfigError, load_config, dump_config, config_hash, help_text
from vidmusician.config.schema import Config

__all__ = ["Config", "ConfigError", "load_config", "dump_config", "config_hash", "help_text"]
