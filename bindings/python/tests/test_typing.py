"""Typing (issue 17): mypy --strict passes on this README's Python examples, the
package (with py.typed) importable and checked with them."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import PY_ROOT


def test_readme_examples_pass_mypy_strict(tmp_path):
    text = (PY_ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 4
    files = []
    for i, code in enumerate(blocks):
        f = tmp_path / f"readme_example_{i}.py"
        f.write_text(code)
        files.append(str(f))
    env = dict(os.environ, MYPYPATH=str(PY_ROOT))
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), *files],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert (PY_ROOT / "mongoelector" / "py.typed").is_file()
