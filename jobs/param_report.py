"""Prints the parameter table of the README (frozen and trainable parameters per preset), from
meta-device builds of the presets' architecture fields: no weights are loaded or downloaded.

    python jobs/param_report.py
"""
from vidmusician.models.param_count import markdown_table

if __name__ == "__main__":
    print(markdown_table())
