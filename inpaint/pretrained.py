"""Saving and loading trained networks: stage files and the self-contained exported model.

A stage file (`models/ae.pt`, `models/gan.pt`) holds each network's config and weights and
loads with `torch.load(weights_only=True)`. The exported model (`models/inpainter/`) is a folder
with `config.json` (resolution, widths, z_dim, normalisation, mask convention) and
`weights.pt`; it loads without the DVC repository.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from inpaint.data.images import atomic_path

FORMAT_VERSION = 1
# name in a file -> (config class, module class). Each family of networks owns its table
# (`NETWORKS` in inpaint.paper.networks, inpaint.baselines.lama, ...), so that this file format
# imports no network and loading one family's file never imports another family's code.
NetworkTable = Mapping[str, tuple[type, type[nn.Module]]]


class ModelFormatError(ValueError):
    """A model file or folder is missing, damaged or from an incompatible version."""


def _config_from_dict(cls: type, raw: dict):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()
                  if k in fields})


def save_networks(path: str | Path, networks: dict[str, tuple[object, nn.Module]]) -> None:
    """Write {name: (config, module)} atomically; each name must be in its family's table
    for the file to load again."""
    state = {"format_version": FORMAT_VERSION,
             "configs": {k: dataclasses.asdict(cfg) for k, (cfg, _) in networks.items()},
             "weights": {k: m.state_dict() for k, (_, m) in networks.items()}}
    # through a file object: given a path, torch names the archive's root folder after the
    # (randomly named) temporary file, and the same networks would differ in bytes each save
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        torch.save(state, file)


def load_networks(path: str | Path, table: NetworkTable, names: list[str] | None = None,
                  device: torch.device | str = "cpu") -> dict[str, nn.Module]:
    """Rebuild the networks stored by `save_networks` (`names`, default all) with the classes
    of their family's `table`, in eval mode, on `device`."""
    path = Path(path)
    if not path.is_file():
        raise ModelFormatError(f"{path}: model file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for a damaged file
        raise ModelFormatError(f"{path}: cannot load ({err})") from None
    if state.get("format_version") != FORMAT_VERSION:
        raise ModelFormatError(f"{path}: format version {state.get('format_version')}, "
                               f"this code reads {FORMAT_VERSION}")
    networks = {}
    for name in names or list(state["configs"]):
        if name not in state["configs"]:
            raise ModelFormatError(f"{path}: has no network '{name}'")
        if name not in table:
            raise ModelFormatError(f"{path}: network '{name}' is not of this family "
                                   f"({', '.join(table)})")
        config_cls, module_cls = table[name]
        module = module_cls(_config_from_dict(config_cls, state["configs"][name]))
        module.load_state_dict(state["weights"][name])
        networks[name] = module.to(device).eval()
    return networks


def export_inpainter(folder: str | Path, networks: dict[str, tuple[object, nn.Module]],
                     hole_fill: float) -> None:
    """The self-contained model folder: weights.pt plus a readable config.json."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_networks(folder / "weights.pt", networks)
    extended = "extended_inversion_encoder" in networks
    inversion_cfg = networks["extended_inversion_encoder" if extended else "inversion_encoder"][0]
    config = {
        "format_version": FORMAT_VERSION,
        "method": "GAN inversion in autoencoder feature space (Wang, Song & Zhang 2023)"
                  + (", extended code: z and an offset of G's last hidden features"
                     if extended else ""),
        "resolution": inversion_cfg.resolution,
        "z_dim": inversion_cfg.z_dim,
        "normalisation": "RGB scaled to [-1, 1]: x / 127.5 - 1",
        "mask_convention": "in code 1 = known pixel, 0 = hole; mask files white = hole",
        "hole_fill": hole_fill,
        "networks": {k: dataclasses.asdict(cfg) for k, (cfg, _) in networks.items()},
    }
    with atomic_path(folder / "config.json") as tmp:
        tmp.write_text(json.dumps(config, indent=2) + "\n")


def read_inpainter_config(folder: str | Path) -> dict:
    """config.json of an exported model, checked for presence and version."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise ModelFormatError(f"{folder}: not an exported model (no config.json); "
                               f"train one with `dvc repro train_inversion`")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ModelFormatError(f"{path}: not valid JSON ({err})") from None
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelFormatError(f"{folder}: model format version {config.get('format_version')},"
                               f" this code reads {FORMAT_VERSION}")
    return config
