"""bench/review_sample.py: choosing the project set and reading earlier verdicts."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "review_sample.py"


@pytest.fixture(scope="module")
def review_sample() -> ModuleType:
    spec = importlib.util.spec_from_file_location("review_sample", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sets_are_disjoint_and_the_first_is_the_default(review_sample: ModuleType) -> None:
    names = [{spec.split("==")[0].lower() for spec in s} for s in review_sample.SETS.values()]
    assert names[0] and names[1] and not names[0] & names[1]
    assert review_sample.SETS["1"] is review_sample.PROJECTS


def test_projects_file_reads_pins_and_skips_comments(review_sample: ModuleType,
                                                     tmp_path: Path) -> None:
    f = tmp_path / "projects.txt"
    f.write_text("# set 3\narq==0.28.0\n\n  zigpy==2.4.0  # home automation\n", encoding="utf-8")
    assert review_sample.read_projects(str(f)) == ["arq==0.28.0", "zigpy==2.4.0"]


@pytest.mark.parametrize("text", ["arq\n", "arq>=0.2\n", "# nothing\n"])
def test_projects_file_refuses_unpinned_or_empty(review_sample: ModuleType, tmp_path: Path,
                                                 text: str) -> None:
    f = tmp_path / "projects.txt"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(SystemExit, match=r"projects\.txt"):
        review_sample.read_projects(str(f))


def test_missing_projects_file_is_one_line(review_sample: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="cannot read projects file"):
        review_sample.read_projects(str(tmp_path / "absent.txt"))


def test_judgements_are_keyed_by_family_and_place(review_sample: ModuleType,
                                                  tmp_path: Path) -> None:
    f = tmp_path / "j.tsv"
    f.write_text("# family\tproject\tpath:line\tcode\tverdict\twhy\n"
                 "PA106\tdaphne\tdaphne/testing.py:231\tPA106\tF\ttest support\n"
                 "PA106t\tdaphne\tdaphne/testing.py:231\tPA106\tT\treally blocks\n",
                 encoding="utf-8")
    j = review_sample.read_judgements(str(f))
    assert j[("PA106", "daphne", "daphne/testing.py:231", "PA106")] == ("F", "test support")
    assert j[("PA106t", "daphne", "daphne/testing.py:231", "PA106")] == ("T", "really blocks")


def test_a_malformed_judgement_names_its_line(review_sample: ModuleType, tmp_path: Path) -> None:
    f = tmp_path / "j.tsv"
    f.write_text("PA1\tarq\targ/cli.py:1\tPA101\tmaybe\twhy\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"j\.tsv:1:"):
        review_sample.read_judgements(str(f))
