"""The ctypes declarations against the header, and how the library is found."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PY_ROOT, REPO

HEADER = REPO / "include" / "mongoelector.h"


def header_functions() -> dict[str, tuple[str, list[str]]]:
    text = HEADER.read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out = {}
    for m in re.finditer(r"([A-Za-z_][\w \*]*?)\b(me_\w+)\s*\(([^;{]*?)\)\s*;", text):
        ret, name, args = m.group(1).strip(), m.group(2), m.group(3).strip()
        params = [] if args in ("", "void") else [a.strip() for a in args.split(",")]
        out[name] = (ret, params)
    return out


def ctype_kind(c: str, param: bool) -> str:
    c = re.sub(r"\b(const|struct|enum)\b", " ", c)
    if "*" in c:
        return "ptr"
    toks = c.split()
    if param and len(toks) > 1:
        toks = toks[:-1]  # the parameter's name
    t = " ".join(toks)
    return {"me_status": "int", "int": "int", "bool": "bool", "double": "double", "int64_t": "int64", "void": "void",
            "me_log_callback": "ptr"}.get(t, t)


def py_kind(t) -> str:
    import ctypes

    if t is None:
        return "void"
    if t is ctypes.c_int:
        return "int"
    if t is ctypes.c_bool:
        return "bool"
    if t is ctypes.c_double:
        return "double"
    if t is ctypes.c_int64:
        return "int64"
    return "ptr"  # c_void_p, c_char_p, POINTER(...), CFUNCTYPE


def test_every_header_function_is_declared_with_matching_types():
    from mongoelector import _ffi

    funcs = header_functions()
    assert len(funcs) >= 40, sorted(funcs)
    assert set(funcs) == set(_ffi.SIGNATURES), set(funcs) ^ set(_ffi.SIGNATURES)
    for name, (ret, params) in funcs.items():
        res, args = _ffi.SIGNATURES[name]
        assert ctype_kind(ret, False) == py_kind(res), (name, ret, res)
        assert len(params) == len(args), (name, params, args)
        for p, a in zip(params, args):
            assert ctype_kind(p, True) == py_kind(a), (name, p, a)
        fn = getattr(_ffi.lib, name)
        assert fn.argtypes == args and fn.restype == res, name


def test_version_matches_the_header():
    import mongoelector

    text = HEADER.read_text()
    parts = [re.search(rf"#define ME_VERSION_{p} (\d+)", text).group(1) for p in ("MAJOR", "MINOR", "PATCH")]
    assert mongoelector.native_version() == ".".join(parts)


def test_status_names_and_error_classes():
    from mongoelector import _ffi, errors

    assert _ffi.status_name(_ffi.ME_ERR_LOCK_EXISTS) == "ME_ERR_LOCK_EXISTS"
    assert _ffi.status_name(12345) == "ME_UNKNOWN"
    # Every status has its class; none is left to the base class.
    names = re.findall(r"^\s*(ME_\w+) = (\d+),", HEADER.read_text(), flags=re.M)
    assert len(names) == 11, names
    for name, value in names:
        assert getattr(_ffi, name) == int(value), name
        if name != "ME_OK":
            assert errors._BY_STATUS[int(value)].status == int(value), name
    assert issubclass(errors.AcquireTimeout, errors.MongoElectorError)
    assert issubclass(errors.InvalidArgumentError, ValueError)
    assert issubclass(errors.InvalidStateError, RuntimeError)
    assert issubclass(errors.ClosedError, errors.InvalidStateError)
    from pymongo.errors import PyMongoError

    assert issubclass(errors.DatabaseError, PyMongoError)


def _run_import(env_extra: dict, cwd: Path, pkg_parent: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MONGOELECTOR_LIBRARY", "MONGOELECTOR_ROOT")}
    env.update(env_extra)
    code = f"import sys; sys.path.insert(0, {str(pkg_parent)!r}); import mongoelector; print(mongoelector.library_path)"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_library_lookup_order(tmp_path):
    import shutil

    import mongoelector

    real = Path(mongoelector.library_path).resolve()
    # In place: the repository's target/release.
    r = _run_import({}, tmp_path, PY_ROOT)
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).resolve() == (REPO / "target" / "release" / "libmongoelector.so").resolve()
    # MONGOELECTOR_LIBRARY wins.
    copy = tmp_path / "elsewhere" / "libmongoelector.so"
    copy.parent.mkdir()
    shutil.copy(real, copy)
    r = _run_import({"MONGOELECTOR_LIBRARY": str(copy)}, tmp_path, PY_ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(copy)
    # A bad MONGOELECTOR_LIBRARY is a clear ImportError.
    r = _run_import({"MONGOELECTOR_LIBRARY": str(tmp_path / "nope.so")}, tmp_path, PY_ROOT)
    assert r.returncode != 0 and "ImportError" in r.stderr and "MONGOELECTOR_LIBRARY" in r.stderr, r.stderr
    # A copy of the package with the library next to it uses that one.
    pkg = tmp_path / "site" / "mongoelector"
    shutil.copytree(PY_ROOT / "mongoelector", pkg, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    shutil.copy(real, pkg / "libmongoelector.so")
    r = _run_import({}, tmp_path, pkg.parent)
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()) == pkg / "libmongoelector.so"
    # Without any library: an ImportError that says what to do.
    (pkg / "libmongoelector.so").unlink()
    r = _run_import({"LD_LIBRARY_PATH": ""}, tmp_path, pkg.parent)
    if r.returncode == 0:
        pytest.skip(f"a system-wide libmongoelector is installed ({r.stdout.strip()}); cannot test the missing case")
    assert "ImportError" in r.stderr and "cannot find the native library" in r.stderr, r.stderr
