"""deploy/: the systemd units are valid and their gunicorn command lines are accepted as written."""

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
UNITS = sorted((BASE_DIR / "deploy" / "systemd").glob("*.service"))


def _installed(unit: Path, tmp_path: Path) -> Path:
    """The unit as it would be installed, with the checkout standing in for /srv/torrentpier."""
    env_file = tmp_path / "env"
    env_file.write_text("DEBUG=1\n")
    text = unit.read_text().replace("/srv/torrentpier", str(BASE_DIR)).replace("/etc/torrentpier/env", str(env_file))
    copy = tmp_path / unit.name
    copy.write_text(text)
    return copy


def _exec_start(unit: Path) -> list[str]:
    text = unit.read_text().replace("\\\n", " ")
    (line,) = re.findall(r"^ExecStart=(.+)$", text, re.MULTILINE)
    return shlex.split(line)


def test_there_is_a_unit_for_each_service():
    assert [u.name for u in UNITS] == ["torrentpier-jobs.service", "torrentpier-site.service", "torrentpier-tracker.service"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_accepts_the_unit(unit, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    done = subprocess.run([analyze, "verify", str(_installed(unit, tmp_path))], capture_output=True, text=True, timeout=60)
    problems = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 0 and not problems, problems


@pytest.mark.parametrize("unit", [u for u in UNITS if "gunicorn" in u.read_text()], ids=lambda u: u.name)
def test_gunicorn_takes_the_units_command_line(unit, tmp_path):
    argv = _exec_start(_installed(unit, tmp_path))
    assert "--no-control-socket" in argv  # gunicorn 27's default control socket path is shared by every instance on a host
    env = {**os.environ, "DEBUG": "1"}
    done = subprocess.run([*argv, "--check-config"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "error" not in done.stderr.lower(), done.stderr


def test_the_jobs_unit_runs_the_scheduler():
    argv = _exec_start(UNITS[0])
    assert argv[-2:] == ["manage.py", "run_jobs"]
