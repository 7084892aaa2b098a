"""Packaging: the wheel carries the catalogues under stellar_relevance, and the
README's test command is the one CI runs."""

import re
import subprocess
import sys
import zipfile
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    command = [line for line in ci.splitlines() if line.rstrip().endswith("&& pytest")]
    assert len(command) == 1, "exactly one test command in .ci/run"
    assert command[0].strip() in (REPO / "README.md").read_text()


def test_version_and_help_from_the_console_script():
    from click.testing import CliRunner

    from stellar_relevance import __version__
    from stellar_relevance.cli.main import cli

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
    assert CliRunner().invoke(cli, ["--help"]).exit_code == 0


def test_pyproject_torch_range_admits_the_cpu_build():
    text = (REPO / "pyproject.toml").read_text()
    spec = re.search(r'"torch([^"]*)"', text).group(1)
    from packaging.specifiers import SpecifierSet

    assert "2.13.0" in SpecifierSet(spec)


def test_wheel_installs_everything_under_the_package(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    wheel = next(tmp_path.glob("stellar_relevance-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops <= {"stellar_relevance", wheel.name.split("-py3")[0] + ".dist-info"}, tops
    assert "stellar_relevance/cli/main.py" in names
    # every subpackage of the source tree is in the wheel (pyproject lists them by hand)
    for init in (REPO / "stellar_relevance").rglob("__init__.py"):
        assert init.relative_to(REPO).as_posix() in names, init
    catalogues = [n for n in names if n.startswith("stellar_relevance/catalogs/") and n.endswith(".ecsv")]
    assert any(n.endswith("lick.ecsv") for n in catalogues), catalogues
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))
    ).decode()
    assert "stelrel = stellar_relevance.cli.main:main" in entry_points
