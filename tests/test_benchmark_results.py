"""benchmarks/run.py (script/benchmark) writes its figures into benchmarks/results.json
without dropping the other benchmarks' (fidelity, vocoder profiles, …) kept there."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.run import write_results


def test_a_run_replaces_its_own_keys_only(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"fidelity": {"median_db": 1.0}, "ours": {"short": [1]}}))
    write_results(path, {"ours": {"short": [2]}, "peer": {"rtf": 0.4}})
    assert json.loads(path.read_text()) == {
        "fidelity": {"median_db": 1.0},
        "ours": {"short": [2]},
        "peer": {"rtf": 0.4},
    }


def test_a_first_run_makes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write_results(path, {"ours": {"paragraph": ["é"]}})
    assert json.loads(path.read_text()) == {"ours": {"paragraph": ["é"]}}
    assert path.read_text().endswith("\n")
