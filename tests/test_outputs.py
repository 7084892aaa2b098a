"""The output folder (stellar_relevance.report.outputs): checked before any work, creating nothing."""

import pytest

from stellar_relevance.exceptions import StelrelError
from stellar_relevance.report.outputs import OUTPUT_FILES, check_output_dir, staged_output_dir


def test_check_creates_nothing(tmp_path):
    """A run that fails after the check (even before training) leaves no empty output folder."""
    target = tmp_path / "a" / "results"
    assert check_output_dir(target) == target
    assert not (tmp_path / "a").exists()
    assert list(tmp_path.iterdir()) == []


def test_output_dir_that_cannot_be_made(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(StelrelError, match="cannot write to output folder"):
        check_output_dir(blocker / "out")
    with pytest.raises(StelrelError, match="not a folder"):
        check_output_dir(blocker)


def test_existing_results_need_overwrite(tmp_path):
    (tmp_path / "summary.json").write_text("{}")
    with pytest.raises(FileExistsError, match="overwrite"):
        check_output_dir(tmp_path)
    assert check_output_dir(tmp_path, overwrite=True) == tmp_path


def test_staged_folder_moves_into_place_or_vanishes(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with staged_output_dir(target) as staging:
            (staging / "ranking.ecsv").write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with staged_output_dir(target) as staging:
        assert staging.parent == tmp_path and staging.name.startswith(".stelrel-staging-out.")
        for name in OUTPUT_FILES:
            (staging / name).write_text(name)
    assert sorted(p.name for p in target.iterdir()) == sorted(OUTPUT_FILES)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
