"""fieldapp/ui/boot.py without Kivy: where python-escpos may keep its capability pickle (a pickle runs code
when it is loaded, so only a folder no other account can write to will do)."""
from __future__ import annotations

import os

import pytest

from fieldapp.ui.boot import escpos_cache


def test_the_pickle_goes_in_the_users_own_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = escpos_cache()
    assert folder == str(tmp_path / "cache" / "gp-outreach" / "escpos")
    for path in (folder, os.path.dirname(folder)):
        assert os.stat(path).st_mode & 0o777 == 0o700
    assert escpos_cache() == folder  # the next start finds it


@pytest.mark.parametrize("spoil", [
    lambda base: os.chmod(os.path.join(base, "gp-outreach", "escpos"), 0o777),
    lambda base: os.chmod(os.path.join(base, "gp-outreach", "escpos"), 0o720),
    lambda base: os.chmod(os.path.join(base, "gp-outreach"), 0o757),
    lambda base: os.chmod(os.path.join(base, "gp-outreach"), 0o775),
], ids=["folder open to all", "folder open to its group", "app folder open to all",
        "app folder to its group"])
def test_a_folder_others_may_write_to_is_not_used(tmp_path, spoil):
    tmp_path.chmod(0o700)
    base = str(tmp_path)
    assert escpos_cache(base)
    spoil(base)
    assert escpos_cache(base) is None


@pytest.mark.parametrize("whose", ["", "gp-outreach", "gp-outreach/escpos"],
                         ids=["the cache folder", "the app folder", "the escpos folder"])
def test_a_folder_of_another_account_is_not_used(tmp_path, whose):
    if not hasattr(os, "getuid") or os.getuid() != 0:
        pytest.skip("giving a folder to another account needs root")
    base = tmp_path / "cache"
    for folder in (base, base / "gp-outreach", base / "gp-outreach" / "escpos"):
        folder.mkdir(mode=0o700)
    assert escpos_cache(str(base))
    os.chown(base / whose, 12345, -1)
    assert escpos_cache(str(base)) is None


def test_a_cache_folder_made_here_is_closed_to_others_whatever_the_umask(tmp_path):
    old = os.umask(0o002)
    try:
        folder = escpos_cache(str(tmp_path / "made" / "cache"))
    finally:
        os.umask(old)
    assert folder and os.stat(tmp_path / "made" / "cache").st_mode & 0o777 == 0o700


def test_no_folder_when_it_cannot_be_made(tmp_path):
    (tmp_path / "gp-outreach").write_text("a file where the folder would be")
    assert escpos_cache(str(tmp_path)) is None


def test_a_link_in_place_of_a_folder_is_not_used(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "cache").mkdir(mode=0o700)
    (tmp_path / "cache" / "gp-outreach").mkdir(mode=0o700)
    (tmp_path / "cache" / "gp-outreach" / "escpos").symlink_to(elsewhere)
    assert escpos_cache(str(tmp_path / "cache")) is None


@pytest.mark.parametrize("mode, used", [(0o755, True), (0o777, False), (0o1777, True)],
                         ids=["the user's", "open to all", "open to all but sticky"])
def test_the_cache_folder_itself_is_checked(tmp_path, mode, used):
    base = tmp_path / "cache"
    base.mkdir()
    base.chmod(mode)
    assert (escpos_cache(str(base)) is not None) == used


def test_a_relative_xdg_cache_home_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert escpos_cache() == str(tmp_path / ".cache" / "gp-outreach" / "escpos")
