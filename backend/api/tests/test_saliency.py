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


def test_the_hot_colours_run_black_red_yellow_white():
    colours = saliency.hot_colours(np.array([[0.0, 1 / 3, 2 / 3, 1.0]]))
    assert colours[0].tolist() == [[0, 0, 0], [255, 0, 0], [255, 255, 0], [255, 255, 255]]


def test_the_overlay_leaves_the_image_where_nobody_drew_and_blends_where_everyone_did():
    grey = PILImage.fromarray(np.full((H, W), 100, dtype=np.uint8))
    heat = saliency.heat_map([block(0, 0, 4, 6)], W, H)
    pixels = np.asarray(PILImage.open(io.BytesIO(saliency.overlay_png(grey, heat, opacity=0.5))))
    assert pixels.shape == (H, W, 3)
    assert pixels[0, 7].tolist() == [100, 100, 100]
    assert pixels[0, 0].tolist() == [178, 178, 178]  # halfway between grey 100 and white 255: 177.5


def test_the_overlay_refuses_an_image_of_another_size():
    with pytest.raises(ValueError, match="does not match"):
        saliency.overlay_png(PILImage.new("L", (3, 3)), np.zeros((H, W)), opacity=0.5)
