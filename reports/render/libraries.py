"""WeasyPrint's native libraries found with one `ldconfig -p`, not fifty processes.

WeasyPrint loads Pango, HarfBuzz, fontconfig and GObject by trying some six names per library
(`libpango-1.0-0`, `pango-1.0-0`, `pango-1.0`, …, `libpango-1.0.so.0`). For every name without
a dot, cffi asks ctypes.util.find_library, which on Linux runs `ldconfig -p`, then gcc and ld
when ldconfig does not know the name: 22 searches and about 50 processes, a tenth of a
CPU-second at each start of a process rendering a paper.

While WeasyPrint is imported, find_library answers from a single `ldconfig -p` listing read as
ctypes reads it (the same soname, so the same library is loaded). A name ldconfig does not know
is not searched with gcc and ld: every library's list ends with its soname, which the dynamic
loader finds by itself (LD_LIBRARY_PATH included).
"""

from __future__ import annotations

import ctypes.util
import os
import re
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

LDCONFIG = "/sbin/ldconfig"
# ctypes.util's table: the ABI that `ldconfig -p` prints for this interpreter's libraries
_ABI = {
    "x86_64-64": "libc6,x86-64",
    "ppc64-64": "libc6,64bit",
    "sparc64-64": "libc6,64bit",
    "s390x-64": "libc6,64bit",
    "ia64-64": "libc6,IA-64",
}


def ldconfig_finder(listing: bytes) -> Callable[[str], str | None]:
    """find_library over one `ldconfig -p` listing: lib<name>.* of this ABI, as ctypes finds it."""
    bits = "-32" if struct.calcsize("l") == 4 else "-64"
    abi = _ABI.get(os.uname().machine + bits, "libc6")

    def find(name: str) -> str | None:
        pattern = os.fsencode(rf"\s+(lib{re.escape(name)}\.[^\s]+)\s+\({abi}")
        found = re.search(pattern, listing)
        return os.fsdecode(found.group(1)) if found else None

    return find


@contextmanager
def one_library_search() -> Iterator[None]:
    """Within the block, ctypes.util.find_library reads one `ldconfig -p` (Linux with glibc's
    ldconfig only; elsewhere nothing changes)."""
    if not sys.platform.startswith("linux") or not os.path.exists(LDCONFIG):
        yield
        return
    try:
        listing = subprocess.run(  # noqa: S603 - a fixed command, nothing from outside
            [LDCONFIG, "-p"],
            stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            env={"LC_ALL": "C", "LANG": "C"},
            check=False,
        ).stdout
    except OSError:
        yield
        return
    original = ctypes.util.find_library
    ctypes.util.find_library = ldconfig_finder(listing)
    try:
        yield
    finally:
        ctypes.util.find_library = original
