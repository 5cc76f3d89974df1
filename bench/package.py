"""What ``make build`` ships: sizes of each function and of the layer."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tools.local.template import ROOT

LAYER = "CommonLayer"


@dataclass(frozen=True)
class Artifact:
    name: str
    unzipped: int
    zipped: int
    zipped_without_bytecode: int


@dataclass
class Build:
    """A ``make build`` into a temporary directory, and a copy without bytecode."""

    root: Path
    source_only: Path
    artifacts: list[Artifact] = field(default_factory=list)
    layer_packages: list[tuple[str, int]] = field(default_factory=list)
    seconds: float = 0.0

    def function_dir(self, logical_id: str, *, bytecode: bool) -> Path:
        return (self.root if bytecode else self.source_only) / logical_id

    def layer_dir(self, *, bytecode: bool) -> Path:
        return (self.root if bytecode else self.source_only) / LAYER / "python"

    def functions(self) -> list[str]:
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and p.name != LAYER and (p / "app.py").exists()
        )


def _tree_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _zipped_size(path: Path) -> int:
    with tempfile.TemporaryFile() as handle:
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(path.rglob("*")):
                if file.is_file():
                    archive.write(file, file.relative_to(path))
        return handle.tell()


def _top_level(layer: Path) -> list[tuple[str, int]]:
    """Unzipped bytes per distribution in the layer, metadata included."""
    sizes: Counter[str] = Counter()
    for entry in layer.iterdir():
        name = entry.name.split("-", 1)[0] if ".dist-info" in entry.name else entry.name
        name = name.removesuffix(".py").removesuffix(".data")
        sizes[name] += _tree_size(entry) if entry.is_dir() else entry.stat().st_size
    return sizes.most_common()


def build(workdir: Path) -> Build:
    """Run ``make build`` as a deployer does, into ``workdir``."""
    root = workdir / "build"
    began = time.perf_counter()
    done = subprocess.run(
        [shutil.which("make") or "make", "-s", "build", f"BUILD_DIR={root}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"make build failed:\n{done.stdout}\n{done.stderr}")
    seconds = time.perf_counter() - began

    source_only = workdir / "source-only"
    shutil.copytree(root, source_only, ignore=shutil.ignore_patterns("__pycache__"))
    result = Build(root=root, source_only=source_only, seconds=seconds)
    for name in [*result.functions(), LAYER]:
        result.artifacts.append(
            Artifact(
                name=name,
                unzipped=_tree_size(root / name),
                zipped=_zipped_size(root / name),
                zipped_without_bytecode=_zipped_size(source_only / name),
            )
        )
    result.layer_packages = _top_level(root / LAYER / "python")
    return result
