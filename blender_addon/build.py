"""Build the Stagecraft Blender extension: ``python blender_addon/build.py [--out DIR]``.

The zip holds the add-on modules (``blender_addon/stagecraft``), a vendored copy of the project
code it reuses (``protocols``, ``optics``, the scene library ``scene``, ``stage_scenes``)
under ``_vendor`` with its imports made relative, the wheels
of pyzmq and msgpack for Python 3.11 and 3.13, and a generated ``blender_manifest.toml``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDON = Path(__file__).resolve().parent / "stagecraft"
WHEELS = ("pyzmq==27.3.0", "msgpack==1.2.4")
PYTHONS = ("3.11", "3.13")  # Blender 4.2–5.0, Blender 5.1+
# Blender platform -> pip platform tags, tried in order; linux-x64 is required, the rest best effort.
PLATFORMS = {
    "linux-x64": ("manylinux_2_28_x86_64", "manylinux2014_x86_64"),
    "macos-arm64": ("macosx_11_0_arm64",),
    "macos-x64": ("macosx_10_15_x86_64",),
    "windows-x64": ("win_amd64",),
}
REQUIRED_PLATFORM = "linux-x64"
# what the add-on reuses: the scene library and the packages it imports (never the server)
VENDORED = ("protocols", "optics", "scene", "stage_scenes")
PROJECT_PACKAGES = ("protocols", "optics", "scene", "engine_server", "stage_scenes", "renderers")
_IMPORT = re.compile(rf"^(\s*)from ({'|'.join(PROJECT_PACKAGES)})\b", re.MULTILINE)
_PLAIN_IMPORT = re.compile(rf"^\s*import ({'|'.join(PROJECT_PACKAGES)})\b", re.MULTILINE)


class BuildError(Exception):
    """The extension could not be built; the message says why."""


def project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def manifest(version: str, wheels: list[str], platforms: list[str]) -> str:
    lines = [
        'schema_version = "1.0.0"',
        'id = "stagecraft"',
        f'version = "{version}"',
        'name = "Stagecraft"',
        'tagline = "Live two-way sync with a Stagecraft virtual production stage"',
        'maintainer = "Stagecraft developers"',
        'type = "add-on"',
        'blender_version_min = "4.2.0"',
        'license = ["SPDX:GPL-3.0-or-later"]',
        "platforms = [" + ", ".join(f'"{p}"' for p in platforms) + "]",
        "wheels = [",
        *(f'  "./wheels/{name}",' for name in wheels),
        "]",
        "",
        "[permissions]",
        'network = "Talk to a Stagecraft stage server"',
        "",
    ]
    return "\n".join(lines)


def relative_imports(source: str, depth: int) -> str:
    """``from protocols ...`` -> ``from ..protocols ...`` for a module ``depth`` packages below _vendor."""
    dots = "." * (depth + 1)
    rewritten = _IMPORT.sub(lambda m: f"{m.group(1)}from {dots}{m.group(2)}", source)
    if _PLAIN_IMPORT.search(rewritten):
        raise BuildError("a vendored module uses a plain `import <project package>`; use `from` imports")
    return rewritten


def vendor(target: Path) -> None:
    """Copy the reused project code under ``target`` (the _vendor package) with relative imports."""
    target.mkdir(parents=True)
    (target / "__init__.py").write_text('"""Project code the add-on reuses, copied in by build.py."""\n')
    # the trio client and glue load lazily and need trio, which Blender does not have: left out
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "_trio_client.py", "_zmq_trio.py")
    for name in VENDORED:
        shutil.copytree(ROOT / name, target / name, ignore=ignore)
    for module in target.rglob("*.py"):
        depth = len(module.relative_to(target).parts) - 1
        module.write_text(relative_imports(module.read_text(), depth))


def download_wheels(cache: Path) -> tuple[list[Path], list[str]]:
    """The pinned wheels for every Python and the platforms PyPI has them for."""
    found: dict[str, list[Path | None]] = {}
    for platform, tags in PLATFORMS.items():
        wheels = [_download(cache / platform / py, spec, tags, py) for py in PYTHONS for spec in WHEELS]
        if all(wheels):
            found[platform] = wheels
        elif platform == REQUIRED_PLATFORM:
            raise BuildError(f"PyPI has not every one of {', '.join(WHEELS)} for {platform}, {PYTHONS}")
    wheels = sorted({w.name: w for ws in found.values() for w in ws}.values(), key=lambda w: w.name)
    return wheels, sorted(found)


def _download(directory: Path, spec: str, tags: tuple[str, ...], python: str) -> Path | None:
    name, version = spec.split("==")
    prefix = f"{name.replace('-', '_')}-{version}-"
    cached = sorted(directory.glob(f"{prefix}*.whl")) if directory.is_dir() else []
    if cached:
        return cached[0]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    command += ["--python-version", python, "--implementation", "cp", "--dest", str(directory)]
    for tag in tags:
        command += ["--platform", tag]
    result = subprocess.run([*command, spec], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        return None
    cached = sorted(directory.glob(f"{prefix}*.whl"))
    return cached[0] if cached else None


def build(out: Path, wheel_cache: Path) -> Path:
    """Assemble the extension zip in ``out``; returns its path."""
    version = project_version()
    wheels, platforms = download_wheels(wheel_cache)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"stagecraft_addon-{version}.zip"
    with tempfile.TemporaryDirectory(prefix="stagecraft-addon-") as tmp:
        stage = Path(tmp) / "stagecraft"
        shutil.copytree(ADDON, stage, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        vendor(stage / "_vendor")
        (stage / "wheels").mkdir()
        for wheel in wheels:
            shutil.copy2(wheel, stage / "wheels" / wheel.name)
        (stage / "blender_manifest.toml").write_text(manifest(version, [w.name for w in wheels], platforms))
        partial = target.with_suffix(".zip.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(stage.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(stage).as_posix())
        partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="where the zip goes (dist/)")
    parser.add_argument(
        "--wheel-cache", type=Path, default=ROOT / "dist" / "wheels", help="downloaded wheels (kept)"
    )
    args = parser.parse_args(argv)
    try:
        print(build(args.out, args.wheel_cache))
    except BuildError as exc:
        print(f"build.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
