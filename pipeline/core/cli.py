"""What every entry point shares: the --config option and logging set-up."""

from __future__ import annotations

import argparse
import logging
import os

from pipeline.core.config import DEFAULT_CONFIG


def base_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with --config and --verbose."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG),
                        help="configuration file (default: config.json beside the scripts)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    return parser


def setup_logging(verbose: bool = False) -> None:
    """Configure the root logger once: timestamped lines on stderr."""
    level = "DEBUG" if verbose else os.environ.get("RISK_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
