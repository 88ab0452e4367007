"""Call every endpoint of a running API server and save the combined answers.

Writes ``<output_model_path>/apireturns.txt`` (JSON). Exits non-zero with a one-line reason when
the server cannot be reached or an endpoint fails.
"""

from __future__ import annotations

import sys

from pipeline.api.client import ApiCallError, call_endpoints, write_returns
from pipeline.core.cli import base_parser, setup_logging
from pipeline.core.config import ConfigError, load_settings
from pipeline.core.names import RETURNS_FILE


def main(argv: list[str] | None = None) -> int:
    """Call the API named by --url (default: api_url of the config) and save the answers."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--url", help="base URL of the API (default: api_url of the config, "
                                      "else http://127.0.0.1:8000)")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        settings = load_settings(args.config)
        base_url = args.url or settings.api_url
        answers = call_endpoints(base_url, settings)
        target = settings.model_folder / RETURNS_FILE
        write_returns(target, base_url, answers)
    except (ConfigError, ApiCallError, OSError) as exc:
        print(f"apicalls failed: {exc}", file=sys.stderr)
        return 1
    print(f"called {len(answers)} endpoints of {base_url} -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
