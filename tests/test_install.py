"""deploy/install.sh into a throwaway root: what it writes, twice the same, and how it leaves."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
INSTALL = DEPLOY / "install.sh"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="install.sh runs as root (chown, useradd); CI runs as root"
)

# What a real system already has; the installer must leave these as it found them.
BASE_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/bash\n",
    "etc/group": "root:x:0:\n",
    "etc/shadow": "root:*:19000:0:99999:7:::\n",
    "etc/gshadow": "root:*::\n",
    "etc/systemd/system/other.service": "[Service]\nExecStart=/bin/true\n",
    "opt/other/keep.txt": "not ours\n",
}
# The user database gets backups (passwd-) and a lock file from the shadow tools.
USERDB_NOISE = {"etc/.pwd.lock", "etc/passwd-", "etc/group-", "etc/shadow-", "etc/gshadow-"}

Entry = tuple[str, int, int, int, str]


def _tools() -> None:
    for tool in ("systemctl", "userdel", "groupdel"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed here")
    if shutil.which("systemd-sysusers") is None and shutil.which("useradd") is None:
        pytest.skip("neither systemd-sysusers nor useradd is installed")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    _tools()
    base = tmp_path / "root"
    for rel, text in BASE_FILES.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (base / "etc/shadow").chmod(0o640)
    (base / "etc/gshadow").chmod(0o640)
    return base


def run_install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # --skip-pip: an empty venv, no torch download; PYTHON: this interpreter makes the venv.
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(
        ["bash", str(INSTALL), "--root", str(root), "--skip-pip", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def snapshot(root: Path) -> dict[str, Entry]:
    """Path → (type, mode, uid, gid, content hash or link target), for a whole tree."""
    tree: dict[str, Entry] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            kind, what = "link", os.readlink(path)
        elif stat.S_ISDIR(st.st_mode):
            kind, what = "dir", ""
        else:
            kind, what = "file", hashlib.sha256(path.read_bytes()).hexdigest()
        rel = path.relative_to(root).as_posix()
        tree[rel] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, what)
    return tree


def user_entry(root: Path) -> list[str]:
    for line in (root / "etc/passwd").read_text().splitlines():
        if line.startswith("newsqa:"):
            return line.split(":")
    return []


def test_install_writes_user_config_units_and_venv(root: Path) -> None:
    ok(run_install(root))
    user = user_entry(root)
    assert user and user[5] == "/var/lib/newsqa" and user[6].endswith("nologin")
    uid = int(user[2])
    assert 0 < uid < 1000  # a system user

    token = root / "etc/newsqa/telegram-token"
    st = token.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_size) == (0o600, 0, 0)
    env_file = root / "etc/newsqa/newsqa.env"
    assert env_file.read_text() == (DEPLOY / "newsqa.env.example").read_text()

    units = root / "etc/systemd/system"
    for name in ("newsqa-bot.service", "newsqa-reindex.service", "newsqa-reindex.timer"):
        assert (units / name).read_text() == (DEPLOY / name).read_text()
        assert stat.S_IMODE((units / name).stat().st_mode) == 0o644
    assert (units / "multi-user.target.wants/newsqa-bot.service").is_symlink()
    assert (units / "timers.target.wants/newsqa-reindex.timer").is_symlink()
    assert not (units / "timers.target.wants/newsqa-reindex.service").exists()

    state = (root / "var/lib/newsqa/stories").stat()
    assert (stat.S_IMODE(state.st_mode), state.st_uid) == (0o750, uid)
    assert (root / "opt/newsqa/venv/bin/python").exists()
    assert (root / "etc/sysusers.d/newsqa.conf").exists()


def test_install_twice_gives_the_same_tree(root: Path) -> None:
    ok(run_install(root))
    first = snapshot(root)
    second_run = ok(run_install(root))
    assert snapshot(root) == first
    assert "kept" in second_run.stdout  # the existing newsqa.env was left alone


def test_custom_prefix_reaches_the_units(root: Path) -> None:
    ok(run_install(root, "--prefix", "/srv/newsqa"))
    bot = (root / "etc/systemd/system/newsqa-bot.service").read_text()
    assert "ExecStart=/srv/newsqa/venv/bin/newsqa serve\n" in bot
    assert "/opt/newsqa" not in bot
    assert (root / "srv/newsqa/venv/bin/python").exists()


def test_rerun_keeps_edits_and_the_token_and_fixes_its_mode(root: Path) -> None:
    ok(run_install(root))
    env_file = root / "etc/newsqa/newsqa.env"
    env_file.write_text("NEWSQA_TOP_K=3\n")
    token = root / "etc/newsqa/telegram-token"
    token.write_text("123456:SECRET-TOKEN\n")
    token.chmod(0o644)
    result = ok(run_install(root))
    assert env_file.read_text() == "NEWSQA_TOP_K=3\n"
    assert token.read_text() == "123456:SECRET-TOKEN\n"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert "SECRET" not in result.stdout + result.stderr


def test_uninstall_removes_what_it_created_and_keeps_the_data(root: Path) -> None:
    before = snapshot(root)
    ok(run_install(root))
    story = root / "var/lib/newsqa/stories/story.txt"
    story.write_text("a story\n")
    ok(run_install(root, "--uninstall"))
    after = snapshot(root)

    assert {p for p in before if p not in after} == set()
    kept = {p for p in after if p not in before} - USERDB_NOISE
    assert kept == {
        "etc/sysusers.d",
        "etc/sysusers.d/newsqa.conf",  # the user stays, so its declaration does too
        "var",
        "var/lib",
        "var/lib/newsqa",
        "var/lib/newsqa/stories",
        "var/lib/newsqa/stories/story.txt",
        "var/cache",
        "var/cache/newsqa",
    }
    changed = {p for p in before if before[p] != after[p]}
    assert changed <= {"etc/passwd", "etc/group", "etc/shadow", "etc/gshadow"}
    assert user_entry(root)


def test_uninstall_keeps_an_edited_env_file(root: Path) -> None:
    ok(run_install(root))
    (root / "etc/newsqa/newsqa.env").write_text("NEWSQA_TOP_K=3\n")
    result = ok(run_install(root, "--uninstall"))
    assert (root / "etc/newsqa/newsqa.env").read_text() == "NEWSQA_TOP_K=3\n"
    assert not (root / "etc/newsqa/telegram-token").exists()  # the empty placeholder
    assert "kept" in result.stdout


def test_purge_leaves_the_root_as_it_was(root: Path) -> None:
    before = snapshot(root)
    ok(run_install(root))
    (root / "etc/newsqa/telegram-token").write_text("123456:SECRET-TOKEN\n")
    (root / "var/lib/newsqa/stories/story.txt").write_text("a story\n")
    ok(run_install(root, "--uninstall", "--purge"))
    after = {p: e for p, e in snapshot(root).items() if p not in USERDB_NOISE}
    assert after == before
    assert user_entry(root) == []


def test_refuses_a_prefix_it_did_not_make(root: Path) -> None:
    before = snapshot(root)
    result = run_install(root, "--prefix", "/opt/other")
    assert result.returncode != 0
    assert "not made by this installer" in result.stderr
    assert (root / "opt/other/keep.txt").read_text() == "not ours\n"
    uninstall = ok(run_install(root, "--prefix", "/opt/other", "--uninstall", "--purge"))
    assert "left" in uninstall.stdout
    assert snapshot(root)["opt/other/keep.txt"] == before["opt/other/keep.txt"]


@pytest.mark.parametrize("prefix", ["/usr", "relative/dir", "/opt/with space"])
def test_rejects_dangerous_prefixes(root: Path, prefix: str) -> None:
    result = run_install(root, "--prefix", prefix)
    assert result.returncode != 0
    assert not (root / "etc/newsqa").exists()
