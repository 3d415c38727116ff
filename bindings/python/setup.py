"""Builds libmongoelector from the repository's Rust crate into the package.

Metadata is in pyproject.toml; this file only holds what setuptools-rust needs
code for: the crate's location, the library's plain name inside the package,
an honest wheel tag, and the Rust sources an sdist must carry.
"""

import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.sdist import sdist
from setuptools_rust import Binding, RustExtension, Strip
from setuptools_rust.build import build_rust

HERE = Path(__file__).resolve().parent
# An sdist carries the crate in rust/; a checkout has it two levels up.
CRATE_DIR = HERE / "rust" if (HERE / "rust" / "Cargo.toml").is_file() else HERE.parents[1]
# What `cargo build` of the crate reads (build.rs regenerates include/).
CRATE_FILES = ("Cargo.toml", "Cargo.lock", "build.rs", "cbindgen.toml", "src", "include")

if sys.platform == "darwin":
    LIB_NAME = "libmongoelector.dylib"
elif sys.platform == "win32":
    LIB_NAME = "mongoelector.dll"
else:
    LIB_NAME = "libmongoelector.so"


class build_rust_plain_name(build_rust):
    """Ships the library as mongoelector/libmongoelector.so, the name _ffi.py loads,
    instead of an extension-module name tied to one CPython version."""

    def get_dylib_ext_path(self, ext: RustExtension, target_fname: str) -> str:
        return str(Path(super().get_dylib_ext_path(ext, target_fname)).with_name(LIB_NAME))


class bdist_wheel_ctypes(bdist_wheel):
    """The library is loaded by ctypes, not imported as a CPython extension: any
    Python 3 on the platform can use it (py3-none-<platform>)."""

    def get_tag(self) -> tuple[str, str, str]:
        _, _, plat = super().get_tag()
        return "py3", "none", plat


class sdist_with_crate(sdist):
    """setuptools takes no file from outside this directory, so the crate is
    copied into the sdist's rust/, where CRATE_DIR finds it when building."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        dest = Path(base_dir) / "rust"
        for name in CRATE_FILES:
            src = CRATE_DIR / name
            if src.is_dir():
                shutil.copytree(src, dest / name)
            else:
                dest.mkdir(exist_ok=True)
                shutil.copy2(src, dest / name)


setup(
    rust_extensions=[
        RustExtension(
            "mongoelector.libmongoelector",
            path=str(CRATE_DIR / "Cargo.toml"),
            binding=Binding.NoBinding,
            # Cargo.toml's own crate types (setuptools-rust would ask for a cdylib alone):
            # the same build as `cargo build --release`, so each reuses the other's output.
            args=["--crate-type", "cdylib,staticlib,rlib"],
            # Builds with the versions in Cargo.lock, as the repository's own builds do.
            cargo_manifest_args=["--locked"],
            # The release profile keeps line tables for backtraces; a wheel needs none.
            strip=Strip.Debug,
        )
    ],
    cmdclass={"build_rust": build_rust_plain_name, "bdist_wheel": bdist_wheel_ctypes, "sdist": sdist_with_crate},
)
