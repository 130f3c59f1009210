"""`git clone … && cd … && make demo` with no ../shared beside the clone (slow: a real index
of examples/stories with the bundled model). The clone is of the working tree as a commit
would hold it, so the test checks what is about to be committed as well as, in CI, what was."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

CANONICAL = "聂荣县远程会诊多少场"


# What would point git at another repository than `cwd` (set when tests run from a git hook).
GIT_LOCATION = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_PREFIX",
    }
)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in GIT_LOCATION}
    return env | extra


def git(*args: str, cwd: Path) -> str:
    env = clean_env(GIT_TERMINAL_PROMPT="0")
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def clone_of_the_working_tree(tmp_path: Path) -> Path:
    """Clone the repository, commit on top what a commit of the working tree would hold (the
    tracked and unignored files as they are now, deleted ones left out), then `git clone`
    that into a folder with nothing beside it. Nothing is written to the repository itself;
    in CI, a clean clone, the commit on top changes nothing."""
    source = tmp_path / "source"
    git("clone", "--quiet", "--no-checkout", str(REPO), str(source), cwd=tmp_path)
    git("read-tree", "--empty", cwd=source)
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO)
    for name in sorted(set(filter(None, listed.split("\0")))):
        path = REPO / name
        if path.is_file() or path.is_symlink():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, source / name, follow_symlinks=False)
    git("add", "--all", "--force", ".", cwd=source)
    identity = ("-c", "user.name=newsqa tests", "-c", "user.email=tests@newsqa.invalid")
    commit = ("commit", "--quiet", "--no-verify", "--allow-empty", "--no-gpg-sign")
    git(*identity, *commit, "-m", "the working tree", cwd=source)
    clone = tmp_path / "elsewhere" / "newsqa"
    clone.parent.mkdir()
    git("clone", "--quiet", str(source), str(clone), cwd=clone.parent)
    return clone


def test_make_demo_in_a_clone_without_shared(tmp_path: Path) -> None:
    if shutil.which("make") is None or shutil.which("git") is None:
        pytest.skip("make and git are needed")
    if not (REPO / ".git").exists():
        pytest.skip(f"{REPO} is not a git checkout: there is nothing to clone")
    venv = REPO / ".venv"
    if not (venv / "bin" / "newsqa").is_file():
        pytest.skip(f"no installed venv at {venv}")
    clone = clone_of_the_working_tree(tmp_path)
    assert not (clone.parent.parent / "shared").exists()
    assert not (clone.parent / "shared").exists()
    assert sorted(p.name for p in (clone / "examples" / "stories").iterdir()) == sorted(
        p.name for p in (REPO / "examples" / "stories").glob("*.txt")
    )
    env = {k: v for k, v in clean_env().items() if not k.startswith("NEWSQA_")}
    # The clone's code, with the dependencies of the installed venv: its install stamp is
    # taken as made (-o), so make installs nothing and the venv keeps pointing here.
    env.update(PYTHONPATH=str(clone), NEWSQA_CACHE_DIR=str(tmp_path / "cache"))
    stamp = venv / ".installed"
    run = subprocess.run(
        ["make", "demo", f"VENV={venv}", "-o", str(stamp)],
        cwd=clone,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "pip install" not in run.stdout
    assert "stories: 5 indexed, 0 skipped" in run.stdout
    assert CANONICAL in run.stdout  # make echoes the command it runs
    answer = run.stdout.split(CANONICAL)[-1]
    assert "90余场次" in answer
    assert "001_a156c6055a039714.txt" in answer
    assert (clone / ".newsqa" / "index" / "current").exists()
