"""bench/RESULTS.md as sections, each written by the benchmark that measures it.

``make bench`` runs every section (bench.run); a section run alone (``python -m bench.quality``,
for example) replaces only its own block of the file, between its markers, and leaves the
others as the last full run wrote them.
"""

from __future__ import annotations

import re
from pathlib import Path

HEADER = """# Benchmark results

Written by `make bench` (`.venv/bin/python -m bench.run`). Each section below is written by the
benchmark that measures it, with the machine, commit and time of that run; a section can be
run alone and then replaces only its own block."""
# Where each section goes in the file.
ORDER = ("performance", "append", "quality", "smallsamples", "estimate", "pages", "watch")


def _blocks(text: str) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in re.finditer(
        r"<!-- bench:(\w+) -->\n.*?<!-- /bench:\1 -->", text, flags=re.S)}


def update_section(path: Path, name: str, lines: list[str]) -> None:
    """Write section ``name`` of the results file, keeping every other section as it is."""
    path = Path(path)
    blocks = _blocks(path.read_text(encoding="utf-8")) if path.exists() else {}
    body = "\n".join(lines).rstrip()
    blocks[name] = f"<!-- bench:{name} -->\n{body}\n<!-- /bench:{name} -->"
    ordered = sorted(blocks, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    text = HEADER + "\n\n" + "\n\n".join(blocks[n] for n in ordered) + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
