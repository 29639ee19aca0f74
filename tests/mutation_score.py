"""The mutation score `make mutation` prints (issue 22): killed / total per module, from the
results mutmut left in mutants/, counting only the mutants named by the given patterns (the
functions under test: all of the ledger, the market and check-in tokens, the decisions of
storage/evidence.py). A timeout counts as killed (the mutant hung the code); a mutant no test
reaches counts as survived. Survivors are listed so they can be read with `mutmut show`.

Usage: python tests/mutation_score.py 'storage.ledger.*' 'storage.evidence.x_decide*' …
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from mutmut.stats import status_by_exit_code

KILLED = {"killed", "timeout", "caught by type check"}


def results(root: Path, patterns: list[str]) -> dict[str, dict[str, str]]:
    """Status of each selected mutant, by module (`storage.ledger`)."""
    found: dict[str, dict[str, str]] = defaultdict(dict)
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        for name, code in codes.items():
            if any(fnmatch.fnmatchcase(name, p) for p in patterns):
                module = ".".join(name.split(".")[:2])
                found[module][name] = status_by_exit_code[code]
    return found


def main(patterns: list[str]) -> int:
    by_module = results(Path("mutants"), patterns)
    if not by_module:
        print("no mutation results in mutants/ (run `make mutation`)")
        return 1
    killed_all = total_all = 0
    for module, statuses in sorted(by_module.items()):
        counts = Counter(statuses.values())
        killed = sum(counts[s] for s in KILLED)
        total = len(statuses)
        killed_all, total_all = killed_all + killed, total_all + total
        others = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s not in KILLED)
        print(f"{module:24} {killed:4} / {total:4} killed ({100 * killed / total:5.1f}%)"
              f"{'  — ' + others if others else ''}")  # fmt: skip
        for name, status in sorted(statuses.items()):
            if status not in KILLED:
                print(f"    {status:9} {name}")
    print(f"{'all':24} {killed_all:4} / {total_all:4} killed "
          f"({100 * killed_all / total_all:5.1f}%)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
