"""WeasyPrint's libraries found from one ldconfig listing: the very names ctypes finds."""

from __future__ import annotations

import ctypes.util
import os
import sys

import pytest

from reports.render.libraries import LDCONFIG, ldconfig_finder, one_library_search

# Every name WeasyPrint tries for its libraries (weasyprint/text/ffi.py), and a few others
NAMES = [
    *("libgobject-2.0-0", "gobject-2.0-0", "gobject-2.0", "libpango-1.0-0", "pango-1.0-0"),
    *("pango-1.0", "libharfbuzz-0", "harfbuzz", "harfbuzz-0.0", "libharfbuzz-subset-0"),
    *("harfbuzz-subset", "harfbuzz-subset-0.0", "libharfbuzz-vector-0", "harfbuzz-vector"),
    *("libfontconfig-1", "fontconfig-1", "fontconfig", "libpangoft2-1.0-0", "pangoft2-1.0"),
    *("c", "m", "z", "no-such-library-anywhere"),
]

linux_ldconfig = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not os.path.exists(LDCONFIG),
    reason="glibc's ldconfig only",
)


@linux_ldconfig
def test_the_listing_finds_what_ctypes_finds_with_ldconfig() -> None:
    import subprocess

    listing = subprocess.run([LDCONFIG, "-p"], capture_output=True, check=True).stdout
    find = ldconfig_finder(listing)
    for name in NAMES:
        assert find(name) == ctypes.util._findSoname_ldconfig(name), name
    assert find("c") is not None  # the listing is read at all


@linux_ldconfig
def test_find_library_is_one_listing_inside_the_block_only(monkeypatch) -> None:
    import subprocess

    started: list[object] = []
    run = subprocess.Popen.__init__

    def counted(self, args, *rest, **options):  # type: ignore[no-untyped-def]
        started.append(args)
        return run(self, args, *rest, **options)

    original = ctypes.util.find_library
    with one_library_search():
        monkeypatch.setattr(subprocess.Popen, "__init__", counted)
        found = [ctypes.util.find_library(name) for name in NAMES]
        monkeypatch.undo()
    assert started == []  # the names came from the listing read on entering
    assert found == [ctypes.util._findSoname_ldconfig(name) for name in NAMES]
    assert ctypes.util.find_library is original
