"""Saliency heat maps on hand-made masks: means, smoothing, the PNG, the array and the overlay."""

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from backend.api import saliency

W, H = 8, 6


def block(x0, y0, x1, y1):
    mask = np.zeros((H, W), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_the_heat_map_is_the_fraction_of_annotators_covering_each_pixel():
    heat = saliency.heat_map([block(0, 0, 4, 6), block(2, 0, 6, 6), block(2, 0, 3, 1)], W, H)
    assert heat.dtype == np.float32 and heat.shape == (H, W)
    assert heat[3, 0] == pytest.approx(1 / 3)  # only the first
    assert heat[3, 2] == pytest.approx(2 / 3)  # first and second
    assert heat[0, 2] == pytest.approx(1.0)  # all three
    assert heat[3, 5] == pytest.approx(1 / 3) and heat[3, 7] == 0


def test_no_masks_give_a_zero_heat_map():
    assert not saliency.heat_map([], W, H).any()


def test_a_mask_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="shape"):
        saliency.heat_map([np.zeros((2, 2), dtype=bool)], W, H)


def test_smoothing_keeps_a_full_mask_at_one_and_spreads_a_point():
    assert saliency.heat_map([np.ones((H, W), dtype=bool)], W, H, sigma=3).min() == pytest.approx(1.0)
    big = np.zeros((41, 41), dtype=bool)
    big[20, 20] = True
    heat = saliency.heat_map([big], 41, 41, sigma=2)
    assert heat.sum() == pytest.approx(1.0, abs=1e-5)  # the mass is kept, far from the edges
    assert heat[20, 20] == pytest.approx(1 / (2 * np.pi * 4), rel=0.05)  # the Gaussian's peak
    assert heat[20, 22] == pytest.approx(heat[20, 20] * np.exp(-0.5), rel=0.05)  # one sigma away


def test_sigma_zero_changes_nothing_and_a_bad_sigma_is_refused():
    masks = [block(0, 0, 3, 3)]
    assert (saliency.heat_map(masks, W, H, sigma=0) == saliency.heat_map(masks, W, H)).all()
    for bad in (-1, saliency.MAX_SIGMA + 1, float("nan")):
        with pytest.raises(ValueError, match="sigma"):
            saliency.smooth(np.zeros((H, W)), bad)


def test_the_png_is_greyscale_with_255_where_everyone_drew():
    heat = saliency.heat_map([block(0, 0, 4, 6), block(2, 0, 6, 6)], W, H)
    picture = PILImage.open(io.BytesIO(saliency.heat_png(heat)))
    assert (picture.mode, picture.size) == ("L", (W, H))
    pixels = np.asarray(picture)
    assert (pixels[0, 0], pixels[0, 2], pixels[0, 7]) == (128, 255, 0)  # 127.5 rounds to even 128


def test_the_npy_file_loads_as_the_float_array():
    heat = saliency.heat_map([block(0, 0, 4, 6), block(2, 0, 6, 6)], W, H)
    loaded = np.load(io.BytesIO(saliency.heat_npy(heat)), allow_pickle=False)
    assert loaded.dtype == np.float32 and (loaded == heat).all()


def test_the_viridis_colours_run_from_dark_purple_to_yellow_through_its_stops():
    colours = saliency.viridis_colours(np.array([[0.0, 0.5, 1.0, 1 / 16]]))
    # The last is halfway between the first two stops.
    assert colours[0].tolist() == [[68, 1, 84], [33, 145, 140], [253, 231, 37], [70, 23, 104]]


def test_the_viridis_scale_darkens_as_the_value_falls():
    values = np.linspace(0, 1, 101)[None, :]
    luminance = saliency.viridis_colours(values).astype(float) @ np.array([0.2126, 0.7152, 0.0722])
    assert (np.diff(luminance[0]) >= 0).all()  # no white in the middle to mistake for full agreement


def test_the_overlay_dims_the_image_where_nobody_drew_and_blends_where_everyone_did():
    grey = PILImage.fromarray(np.full((H, W), 100, dtype=np.uint8))
    heat = saliency.heat_map([block(0, 0, 4, 6)], W, H)
    pixels = np.asarray(PILImage.open(io.BytesIO(saliency.overlay_png(grey, heat, opacity=0.5))))
    assert pixels.shape == (H, W, 3)
    assert pixels[0, 7].tolist() == [50, 50, 50]  # grey 100, dimmed by half
    # Halfway between the dimmed grey 50 and viridis yellow (253, 231, 37): 151.5, 140.5, 43.5, rounded to even.
    assert pixels[0, 0].tolist() == [152, 140, 44]


def test_the_overlay_refuses_an_image_of_another_size():
    with pytest.raises(ValueError, match="does not match"):
        saliency.overlay_png(PILImage.new("L", (3, 3)), np.zeros((H, W)), opacity=0.5)


# --- Comparing maps ------------------------------------------------------------------------


def test_correlation_of_a_map_with_itself_its_opposite_and_an_unrelated_one():
    rng = np.random.default_rng(1)
    a = rng.random((20, 30))
    assert saliency.correlation(a, a) == pytest.approx(1.0)
    assert saliency.correlation(a, 1 - a) == pytest.approx(-1.0)
    assert saliency.correlation(a, 2 * a + 5) == pytest.approx(1.0)  # CC ignores scale and offset
    assert abs(saliency.correlation(a, rng.random((20, 30)))) < 0.2
    assert saliency.correlation(a, np.zeros((20, 30))) is None


def test_correlation_of_a_hand_computed_case():
    # x = (1, 2, 3), y = (1, 3, 2): centred (-1, 0, 1) and (-1, 1, 0): sum xy = 1, |x|^2 = |y|^2 = 2, so 0.5.
    assert saliency.correlation(np.array([1, 2, 3]), np.array([1, 3, 2])) == pytest.approx(0.5)


def test_kl_divergence_is_zero_for_the_same_distribution_and_grows_as_they_part():
    p = np.array([[0.0, 1.0], [1.0, 2.0]])
    assert saliency.kl_divergence(p, 3 * p) == pytest.approx(0.0, abs=1e-9)
    q = np.array([[1.0, 1.0], [1.0, 1.0]])
    # P = (0, .25, .25, .5), Q uniform: KL = .25 ln 1 + .25 ln 1 + .5 ln 2 = 0.3466 nats.
    assert saliency.kl_divergence(p, q) == pytest.approx(0.5 * np.log(2), rel=1e-6)
    assert saliency.kl_divergence(q, np.array([[1.0, 0.0], [0.0, 0.0]])) > 10  # Q misses where P is
    assert saliency.kl_divergence(np.zeros((2, 2)), q) is None


def test_split_half_reliability_of_identical_and_of_random_masks():
    same = [np.ones((8, 8), dtype=bool) & (np.arange(8) < 4)[None, :] for _ in range(6)]
    assert saliency.split_half(same, 8, 8, seed=1) == {"r": 1.0, "spearman_brown": 1.0, "splits": 10, "masks": 6}
    assert saliency.split_half([np.zeros((8, 8), dtype=bool)] * 4, 8, 8, seed=1) is None  # constant halves
    rng = np.random.default_rng(2)
    region = np.zeros((16, 16), dtype=bool)
    region[4:12, 4:12] = True
    agreeing = [region ^ (rng.random((16, 16)) < 0.05) for _ in range(8)]
    result = saliency.split_half(agreeing, 16, 16, seed=3)
    assert result["r"] > 0.9 and result["spearman_brown"] > result["r"] and result["masks"] == 8
    noise = [rng.random((16, 16)) < 0.5 for _ in range(8)]
    assert saliency.split_half(noise, 16, 16, seed=3)["r"] < 0.5
    assert saliency.split_half(agreeing, 16, 16, seed=3) == result  # seeded: the same splits
    assert saliency.split_half(agreeing[:1], 16, 16, seed=3) is None


def test_a_difference_is_white_where_maps_agree_red_and_blue_where_not():
    colours = saliency.difference_colours(np.array([[0.0, 1.0, -1.0]]))
    assert colours[0].tolist() == [[255, 255, 255], [178, 24, 43], [33, 102, 172]]
    assert saliency.difference_png(np.zeros((3, 4))).startswith(b"\x89PNG")
