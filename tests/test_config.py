import pytest

from inpaint.config import DataParams, MaskParams, ParamsError, from_dict, load_section


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
