import ast
import dataclasses

import pytest
import yaml

from conftest import ROOT
from inpaint.config import SECTIONS, DataParams, MaskParams, ParamsError, from_dict, load_section
from inpaint.recipe import overrides


def test_defaults_validate():
    assert from_dict(DataParams, "data", {}).resolution == 64
    assert from_dict(MaskParams, "masks", {}).buckets[0] == 0.01


@pytest.mark.parametrize("raw, message", [
    ({"resoluton": 64}, "unknown key data.resoluton"),
    ({"resolution": 100}, "data.resolution = 100: allowed values are 32, 64"),
    ({"resolution": "64"}, "data.resolution = '64': expected int"),
    ({"test_fraction": 1.5}, "data.test_fraction = 1.5: must be in [0.0, 0.9]"),
    ({"synthetic_count": True}, "got a boolean"),
    ({"source": "/no/such/folder"}, "must be 'synthetic' or an existing folder"),
])
def test_bad_data_params_name_the_key(raw, message):
    with pytest.raises(ParamsError, match=message.replace("[", r"\[").replace("]", r"\]")
                       .replace(".", r"\.").replace("(", r"\(")):
        from_dict(DataParams, "data", raw)


def test_bucket_edges_must_increase():
    with pytest.raises(ParamsError, match="masks.buckets.*strictly increasing"):
        from_dict(MaskParams, "masks", {"buckets": [0.1, 0.05, 0.3]})
    with pytest.raises(ParamsError, match=r"masks.buckets\[2\] = 'x'"):
        from_dict(MaskParams, "masks", {"buckets": [0.1, 0.2, "x"]})


def test_int_accepted_for_float_and_null_for_optional():
    params = from_dict(DataParams, "data", {"test_fraction": 0, "test_count": None})
    assert params.test_fraction == 0.0 and isinstance(params.test_fraction, float)


def test_missing_file_and_section(tmp_path):
    with pytest.raises(ParamsError, match="params file not found"):
        load_section(DataParams, "data", tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("masks: {}\n")
    with pytest.raises(ParamsError, match="section 'data' is missing"):
        load_section(DataParams, "data", tmp_path / "params.yaml")


def test_params_yaml_holds_exactly_the_defaults():
    """One source of defaults: params.yaml's values are the dataclasses' defaults, key for key,
    so that a stage run with a section left out does what the committed pipeline does."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert list(params) == list(SECTIONS)
    for section, cls in SECTIONS.items():
        fields = [f.name for f in dataclasses.fields(cls)]
        assert list(params[section]) == fields, section
        assert from_dict(cls, section, params[section]) == cls(), section


def test_every_param_is_read_by_some_code_path():
    """An option that no module or stage reads (as `<params>.<key>`) is dead: remove it."""
    read = set()
    for path in [*(ROOT / "inpaint").rglob("*.py"), *(ROOT / "stages").glob("*.py")]:
        if path.name != "config.py":
            read |= {node.attr for node in ast.walk(ast.parse(path.read_text()))
                     if isinstance(node, ast.Attribute)}
    unread = [f"{section}.{f.name}" for section, cls in SECTIONS.items()
              for f in dataclasses.fields(cls) if f.name not in read]
    assert not unread


def test_recipes_are_valid_overrides_and_bad_ones_name_the_key(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the recipe's folders are relative to the repository
    if not (ROOT.parent / "shared" / "data").is_dir():
        pytest.skip("../shared/data is absent: the recipe's data folders cannot be checked")
    settings = overrides(ROOT / "recipes" / "celebahq64.yaml")
    assert "inversion.mask_input=true" in settings and "data.test_count=500" in settings
    bad = tmp_path / "bad.yaml"
    bad.write_text("inversion:\n  hole_weight: 6\n")
    with pytest.raises(ParamsError, match="unknown key inversion.hole_weight"):
        overrides(bad)
    bad.write_text("inverson:\n  epochs: 6\n")
    with pytest.raises(ParamsError, match="unknown section 'inverson'"):
        overrides(bad)
