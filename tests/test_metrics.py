"""Metrics (PSNR, hole PSNR, SSIM, LPIPS, FID) and the metric networks' converted weights."""
from __future__ import annotations

import pickle
from pathlib import Path

import lpips
import numpy as np
import pytest
import torch
from conftest import shared_path
from pytorch_fid.fid_score import calculate_frechet_distance
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from inpaint.evaluation import metrics
from inpaint.evaluation.weights import (INCEPTION_SOURCE, LPIPS_FILE, MissingWeightsError,
                                        fetch_metric_weights, load_inception, load_lpips,
                                        load_numpy_pickle, load_torchscript, read_member)

CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Converted weights, from the shared download cache (downloaded once if absent).

    A failed download fails the tests: the project must be able to get what it needs.
    """
    return fetch_metric_weights(tmp_path_factory.mktemp("weights") / "metric_weights")


@pytest.fixture(scope="session")
def ctx(weights_dir: Path) -> metrics.MetricContext:
    return metrics.MetricContext(weights_dir=weights_dir, device=CPU, batch_size=2)


def noisy_pair(n: int = 3, size: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    real = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    noise = rng.integers(-20, 21, real.shape)
    return real, np.clip(real + noise, 0, 255).astype(np.uint8)


def test_registry_names_and_unknown_metric() -> None:
    with pytest.raises(ValueError, match="unknown metric 'fid50k'; valid metrics: psnr, "
                                         "psnr_hole, ssim, lpips_alex"):
        metrics.calc_metric("fid50k", *noisy_pair())


def test_psnr_matches_skimage_and_identical_is_inf() -> None:
    real, fake = noisy_pair()
    expected = [peak_signal_noise_ratio(r, f, data_range=255) for r, f in zip(real, fake)]
    np.testing.assert_allclose(metrics.calc_metric("psnr", real, fake), expected, rtol=1e-12)
    assert np.all(metrics.psnr(real, real) == np.inf)


def test_psnr_hole_counts_only_hole_pixels() -> None:
    real, fake = noisy_pair(n=2)
    known = np.ones(real.shape[:3], dtype=np.uint8)
    known[:, 4:10, 2:12] = 0
    outside_changed = np.where(known[..., None] == 1, fake, real)
    assert np.all(metrics.psnr_hole(real, outside_changed, known) == np.inf)
    hole = known == 0
    expected = [peak_signal_noise_ratio(r[h], f[h], data_range=255)
                for r, f, h in zip(real, fake, hole)]
    np.testing.assert_allclose(metrics.psnr_hole(real, fake, known), expected, rtol=1e-12)
    assert np.isnan(metrics.psnr_hole(real, fake, np.ones_like(known))).all()
    with pytest.raises(ValueError, match="known-masks"):
        metrics.psnr_hole(real, fake)


def test_ssim_matches_skimage_and_small_images() -> None:
    real, fake = noisy_pair()
    expected = [structural_similarity(r, f, channel_axis=-1, data_range=255)
                for r, f in zip(real, fake)]
    np.testing.assert_allclose(metrics.ssim(real, fake), expected, rtol=1e-12)
    small_real, small_fake = noisy_pair(size=6)
    expected = [structural_similarity(r, f, win_size=5, channel_axis=-1, data_range=255)
                for r, f in zip(small_real, small_fake)]
    np.testing.assert_allclose(metrics.ssim(small_real, small_fake), expected, rtol=1e-12)
    assert np.isnan(metrics.ssim(*noisy_pair(size=2))).all()


def test_missing_weights_folder_names_folder_and_stage(tmp_path: Path) -> None:
    missing = tmp_path / "no_weights"
    for load in (load_inception, load_lpips):
        with pytest.raises(MissingWeightsError, match="dvc repro metric_weights") as err:
            load(missing, CPU)
        assert str(missing) in str(err.value)


def test_restricted_unpickler_refuses_other_globals() -> None:
    arrays = {"a": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}}
    np.testing.assert_array_equal(load_numpy_pickle(pickle.dumps(arrays))["a"]["kernel"],
                                  arrays["a"]["kernel"])
    with pytest.raises(pickle.UnpicklingError, match="os.system"):
        load_numpy_pickle(b"cos\nsystem\n(S'true'\ntR.")


def test_lpips_alex_reference_distances(weights_dir: Path,
                                        ctx: metrics.MetricContext) -> None:
    folder = shared_path("lpips_reference")
    ref, p0, p1 = (lpips.load_image(str(folder / f"{name}.png"))
                   for name in ("ex_ref", "ex_p0", "ex_p1"))
    model = load_lpips(weights_dir, CPU)
    with torch.no_grad():
        d0, d1 = (model(lpips.im2tensor(ref), lpips.im2tensor(p)).item() for p in (p0, p1))
    assert d0 == pytest.approx(0.722, abs=1e-3)
    assert d1 == pytest.approx(0.138, abs=1e-3)
    batched = metrics.lpips_alex(np.stack([ref, ref, ref]), np.stack([p0, p1, ref]), ctx=ctx)
    np.testing.assert_allclose(batched, [d0, d1, 0.0], atol=1e-5)


def test_lpips_linear_layers_equal_lpips_own(weights_dir: Path) -> None:
    ours = torch.load(weights_dir / LPIPS_FILE, weights_only=True)
    own = torch.load(Path(lpips.__file__).parent / "weights/v0.1/alex.pth", map_location="cpu",
                     weights_only=True)
    for key, value in own.items():
        assert torch.equal(ours[key], value), key


def test_inception_matches_torchscript(weights_dir: Path) -> None:
    model = load_inception(weights_dir, CPU)
    assert not model.training
    # Both networks see the same 299x299 input in [-1, 1]; ours otherwise resizes and scales.
    model.resize_input = model.normalize_input = False
    script = load_torchscript(read_member(INCEPTION_SOURCE))
    x = torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        ours, reference = model(x)[0].flatten(1), script(x)
    assert ours.shape == (2, 2048)
    assert (ours - reference).abs().max().item() < 1e-4


def test_inception_features_are_cached_by_content(ctx: metrics.MetricContext,
                                                   tmp_path: Path) -> None:
    real = noisy_pair(n=3, size=32)[0]
    features = metrics.cached_inception_features(real, ctx, tmp_path)
    assert features.shape == (3, 2048)
    assert len(list(tmp_path.glob("inception_features_*.npy"))) == 1
    ctx_without_network = metrics.MetricContext(weights_dir=tmp_path / "absent", device=CPU)
    again = metrics.cached_inception_features(real, ctx_without_network, tmp_path)  # the file
    np.testing.assert_array_equal(again, features)
    with pytest.raises(ValueError, match="at least 2 images"):
        metrics.fid_from_features(features[:1], features)


def test_fast_fid_equals_the_matrix_square_root_formula() -> None:
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(30, 64)), rng.normal(0.3, 1.2, size=(45, 64))
    reference = calculate_frechet_distance(real.mean(0), np.cov(real, rowvar=False),
                                           fake.mean(0), np.cov(fake, rowvar=False))
    assert metrics.fid_from_features(real, fake) == pytest.approx(reference, rel=1e-6)
    many = rng.normal(size=(100, 16))
    assert metrics.fid_from_features(many, many + 0.5) == pytest.approx(16 * 0.25, rel=1e-6)
