"""Hole ratios, buckets, generation, determinism and the fixed evaluation pairing."""
import numpy as np
import pytest
from PIL import Image

from conftest import shared_path
from inpaint.data.images import list_images
from inpaint.data.masks import (assign_buckets, binarise, bucket_labels, evaluation_pairs,
                                generate_masks, hole_ratio, load_grey, load_mask, split_pools)

EDGES = [0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]


def test_hole_ratio_of_hand_made_masks():
    known = np.ones((10, 10), np.uint8)
    assert hole_ratio(known) == 0.0
    known[:3, :] = 0  # 30 of 100 pixels are hole
    assert hole_ratio(known) == pytest.approx(0.3)


def test_bucket_edges():
    ratios = np.array([0.005, 0.01, 0.099, 0.1, 0.35, 0.6, 0.61])
    assert assign_buckets(ratios, EDGES).tolist() == [-1, 0, 0, 1, 3, 5, -1]
    assert bucket_labels(EDGES)[0] == "1-10%" and bucket_labels(EDGES)[-1] == "50-60%"


def test_mask_file_white_is_hole_and_resizing_keeps_the_ratio(tmp_path):
    hole = np.zeros((512, 512), np.uint8)
    hole[:, :128] = 255  # a quarter of the image is white = hole
    Image.fromarray(hole).convert("RGB").save(tmp_path / "m.png")
    known = load_mask(tmp_path / "m.png", 64)
    assert known.shape == (64, 64) and known.dtype == np.uint8
    assert hole_ratio(known) == pytest.approx(0.25)
    assert known[:, 0].max() == 0 and known[:, -1].min() == 1


def test_generation_is_deterministic_and_fills_every_bucket():
    a = generate_masks(3, 300, 64, 0.01, 0.6)
    assert np.array_equal(a, generate_masks(3, 300, 64, 0.01, 0.6))
    assert not np.array_equal(a, generate_masks(4, 300, 64, 0.01, 0.6))
    buckets = assign_buckets(1 - a.reshape(300, -1).mean(1), EDGES)
    assert all((buckets == b).sum() >= 20 for b in range(6))
    touches = [(m[0] == 0).any() or (m[-1] == 0).any() or (m[:, 0] == 0).any()
               or (m[:, -1] == 0).any() for m in a]
    assert 0 < sum(touches) < len(a), "some masks touch the border, some do not"


def test_evaluation_pairs_are_stable_and_cover_each_bucket():
    buckets = np.repeat(np.arange(6), 5)
    pairs = evaluation_pairs(7, buckets, 6, seed=0)
    assert pairs == evaluation_pairs(7, buckets, 6, seed=0)
    assert len(pairs) == 42
    for image, bucket, mask in pairs:
        assert buckets[mask] == bucket
    first_bucket = [m for _, b, m in pairs if b == 0]
    assert len(set(first_bucket)) == 5, "all five masks of a bucket are used before repeats"


def test_empty_bucket_is_an_error():
    with pytest.raises(ValueError, match="bucket 2 has no evaluation masks"):
        evaluation_pairs(3, np.array([0, 1, 3]), 4, seed=0)


def test_pools_are_disjoint_and_seeded():
    is_eval = split_pools(100, 0.3, seed=1)
    assert is_eval.sum() == 30
    assert np.array_equal(is_eval, split_pools(100, 0.3, seed=1))


@pytest.mark.shared
def test_nvidia_masks_fill_six_buckets_of_2000():
    folder = shared_path("masks", "nvidia_irregular_test")
    ratios = []
    for path in list_images(folder):  # one file at a time: all 12,000 at 512 px are 12 GB
        grey = load_grey(path)
        ratios.append((hole_ratio(binarise(grey, 512)), hole_ratio(binarise(grey, 64))))
    at_512, at_64 = (assign_buckets(np.array(column), EDGES) for column in zip(*ratios))
    counts = np.bincount(at_512 + 1, minlength=7)
    print(f"NVIDIA masks per bucket at 512 px: {counts[1:].tolist()}, outside: {counts[0]}")
    print(f"masks that change bucket at 64 px: {(at_512 != at_64).sum()} of {len(ratios)}")
    assert all(abs(c - 2000) <= 60 for c in counts[1:])
    assert (at_512 != at_64).mean() < 0.1
