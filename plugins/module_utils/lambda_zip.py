# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reproducible Lambda deployment packages: the same sources always give the same bytes.

Entries are sorted, every timestamp is 1980-01-01 00:00:00, modes are 0644 (files) and the
compression level is fixed, so the SHA-256 Lambda reports as ``CodeSha256`` only changes when a
source file does. Bytecode caches and editor leftovers are never packed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zipfile

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
SKIP_DIRS = frozenset(("__pycache__", ".pytest_cache", ".mypy_cache"))
SKIP_SUFFIXES = (".pyc", ".pyo", ".swp", "~")


class PackageError(ValueError):
    """A source directory is missing or two sources claim the same path in the zip."""


def collect(sources):
    """[(archive name, absolute path)] for ``sources``: [{"src": dir, "prefix": name}, ...]."""
    entries = {}
    for source in sources:
        root = source["src"]
        prefix = (source.get("prefix") or "").strip("/")
        if not os.path.isdir(root):
            raise PackageError(f"source directory {root} does not exist")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for filename in filenames:
                if filename.endswith(SKIP_SUFFIXES):
                    continue
                path = os.path.join(dirpath, filename)
                relative = os.path.relpath(path, root).replace(os.sep, "/")
                name = f"{prefix}/{relative}" if prefix else relative
                if name in entries:
                    raise PackageError(f"{name} comes from two sources")
                entries[name] = path
    return sorted(entries.items())


def build(sources):
    """The zip's bytes and the list of names in it."""
    entries = collect(sources)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            info.create_system = 3
            with open(path, "rb") as handle:
                archive.writestr(info, handle.read(), compresslevel=9)
    return buffer.getvalue(), [name for name, _path in entries]


def code_sha256(data):
    """What Lambda reports as CodeSha256: base64 of the SHA-256 of the zip."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def write_if_changed(path, data):
    """Write ``data`` to ``path`` unless it already holds exactly that; True when written."""
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return False
    except FileNotFoundError:
        pass
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = f"{path}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
    return True
