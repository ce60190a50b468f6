"""The instance locks and the private runtime directory, against a hostile local neighbour.

The neighbour plants what a local user could plant before the bot starts: the lock directory
(world-writable, or a symlink to somewhere else), or a symlink where a lock file will be.
The bot must neither follow it nor empty the target, and must say what is wrong.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from botcluster.core.locks import BotLock, site_key, site_lock_path
from botcluster.core.rundir import runtime_dir
from botcluster.errors import LockHeld, UnsafePath

SITE = "https://example.org/comments"


@pytest.fixture
def no_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No XDG_RUNTIME_DIR, and a temp directory of the test's own (so /tmp is left alone)."""
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    return tmp


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "precious.txt"
    victim.write_text("do not empty me\n")
    return victim


def test_without_xdg_the_directory_is_private_and_per_user(no_xdg: Path) -> None:
    path = runtime_dir()
    assert path.parent == no_xdg and str(os.getuid()) in path.name
    lock = BotLock(no_xdg / "j" / "journal.jsonl", SITE)
    lock.acquire()
    try:
        st = path.lstat()
        assert st.st_mode & 0o777 == 0o700 and st.st_uid == os.geteuid()
        assert site_lock_path(SITE).parent == path
        assert site_lock_path(SITE).stat().st_mode & 0o777 == 0o600
    finally:
        lock.release()


def test_a_planted_symlink_directory_is_refused_and_not_followed(no_xdg: Path,
                                                                 tmp_path: Path) -> None:
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir(mode=0o700)
    victim = _victim(tmp_path)
    runtime_dir().symlink_to(elsewhere)
    # Whatever name the lock would take, point it at the victim too.
    (elsewhere / site_lock_path(SITE).name).symlink_to(victim)
    with pytest.raises(UnsafePath, match="symlink"):
        BotLock(no_xdg / "j" / "journal.jsonl", SITE).acquire()
    assert victim.read_text() == "do not empty me\n"


def test_a_world_writable_planted_directory_is_refused(no_xdg: Path, tmp_path: Path) -> None:
    d = runtime_dir()
    d.mkdir()
    d.chmod(0o777)
    victim = _victim(tmp_path)
    (d / site_lock_path(SITE).name).symlink_to(victim)
    with pytest.raises(UnsafePath, match="0o777") as err:
        BotLock(no_xdg / "j" / "journal.jsonl", SITE).acquire()
    assert str(d) in str(err.value)
    assert victim.read_text() == "do not empty me\n"


def test_a_directory_owned_by_someone_else_is_refused(no_xdg: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    runtime_dir().mkdir(mode=0o700)
    monkeypatch.setattr(os, "geteuid", lambda: os.getuid() + 4242)  # we are someone else now
    with pytest.raises(UnsafePath, match="owned by uid"):
        BotLock(no_xdg / "j" / "journal.jsonl", SITE).acquire()


def test_a_symlink_planted_as_the_lock_file_is_not_followed(no_xdg: Path, tmp_path: Path) -> None:
    """Even inside our own directory (planted by the same user, or an earlier mistake)."""
    victim = _victim(tmp_path)
    d = runtime_dir()
    d.mkdir(mode=0o700)
    (d / site_lock_path(SITE).name).symlink_to(victim)
    with pytest.raises(UnsafePath, match="symlink"):
        BotLock(no_xdg / "j" / "journal.jsonl", SITE).acquire()
    assert victim.read_text() == "do not empty me\n"


def test_a_symlink_planted_as_the_journal_lock_is_not_followed(no_xdg: Path,
                                                               tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    journal = tmp_path / "var" / "journal.jsonl"
    journal.parent.mkdir()
    journal.with_name("journal.jsonl.lock").symlink_to(victim)
    with pytest.raises(UnsafePath, match="symlink"):
        BotLock(journal, SITE).acquire()
    assert victim.read_text() == "do not empty me\n"


def test_a_hard_link_planted_as_the_journal_lock_is_not_emptied(no_xdg: Path,
                                                                tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    journal = tmp_path / "var" / "journal.jsonl"
    journal.parent.mkdir()
    os.link(victim, journal.with_name("journal.jsonl.lock"))
    with pytest.raises(UnsafePath, match="link"):
        BotLock(journal, SITE).acquire()
    assert victim.read_text() == "do not empty me\n"


def test_xdg_runtime_dir_gets_a_private_subdirectory(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir(mode=0o755)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    assert runtime_dir() == run / "botcluster"
    lock = BotLock(tmp_path / "journal.jsonl", SITE)
    lock.acquire()
    lock.release()
    assert (run / "botcluster").stat().st_mode & 0o777 == 0o700


def test_a_second_bot_is_refused_naming_the_first(no_xdg: Path, tmp_path: Path) -> None:
    first = BotLock(tmp_path / "a" / "journal.jsonl", SITE)
    first.acquire()
    try:
        with pytest.raises(LockHeld, match=f"pid {os.getpid()}"):
            BotLock(tmp_path / "b" / "journal.jsonl", SITE + "/").acquire()
    finally:
        first.release()
    again = BotLock(tmp_path / "b" / "journal.jsonl", SITE)
    again.acquire()
    again.release()


@pytest.mark.parametrize("other", [
    "http://127.0.0.1:8787", "http://LOCALHOST:8787/", "http://[::1]:8787",
    "HTTP://localhost:8787", "http://localhost.:8787//",
])
def test_one_loopback_site_is_one_lock(other: str) -> None:
    assert site_key(other) == site_key("http://localhost:8787")


@pytest.mark.parametrize(("a", "b"), [
    ("https://Example.ORG", "https://example.org:443/"),
    ("http://example.org/api/", "http://example.org:80/api"),
])
def test_default_ports_case_and_trailing_slashes_do_not_make_another_site(a: str, b: str) -> None:
    assert site_key(a) == site_key(b)


@pytest.mark.parametrize(("a", "b"), [
    ("http://127.0.0.1:8787", "http://127.0.0.1:8788"),
    ("http://example.org", "https://example.org"),
    ("http://example.org/a", "http://example.org/b"),
])
def test_different_sites_stay_different(a: str, b: str) -> None:
    assert site_key(a) != site_key(b)


def test_lock_false_lets_a_second_bot_serve_the_site_but_never_share_a_journal(
        no_xdg: Path, tmp_path: Path) -> None:
    """`[bot] lock = false`: as if on another machine (the server's claims keep them apart)."""
    first = BotLock(tmp_path / "a" / "journal.jsonl", SITE)
    first.acquire()
    try:
        second = BotLock(tmp_path / "b" / "journal.jsonl", SITE, site=False)
        second.acquire()
        second.release()
        with pytest.raises(LockHeld):
            BotLock(tmp_path / "a" / "journal.jsonl", "http://other.example", site=False).acquire()
    finally:
        first.release()


def test_bot_lock_false_in_the_config_drops_only_the_site_lock(no_xdg: Path,
                                                                tmp_path: Path) -> None:
    from botcluster.config import load

    def config(name: str, lock: str) -> Path:
        path = tmp_path / name / "servers.toml"
        path.parent.mkdir()
        path.write_text(f'[bot]\napi_url = "{SITE}"\nlock = {lock}\n'
                        '[[hosts]]\nname = "h"\nurl = "http://127.0.0.1:9"\nkind = "lmstudio"\n'
                        'slots = 1\n[[entities]]\nid = "e1"\nusername = "E1"\nbaseModel = "m"\n')
        return path

    first = BotLock.for_config(load(config("a", "true")))
    first.acquire()
    try:
        with pytest.raises(LockHeld):
            BotLock.for_config(load(config("b", "true"))).acquire()
        unlocked = BotLock.for_config(load(config("c", "false")))
        unlocked.acquire()
        assert site_lock_path(SITE) not in unlocked.paths
        unlocked.release()
    finally:
        first.release()


def test_a_missing_xdg_runtime_dir_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "gone"))
    with pytest.raises(UnsafePath, match=r"cannot create .*gone/botcluster"):
        BotLock(tmp_path / "journal.jsonl", SITE).acquire()
