"""Small pictures for the admin: an image's thumbnail, and a mask drawn over it.

Pure: no ORM, no HTTP; the image file's bytes in (read by ``files.image_read``, wherever the file
is stored), PNG or JPEG bytes out. ``None`` stands for a file that cannot be had: a grey box says
why (``absent``).
"""

import io

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw, UnidentifiedImageError
from pycocotools import mask as coco_mask

from .display_copies import display_pixels

MASK_COLOUR = (255, 40, 40)
MASK_OPACITY = 0.55


def _open_scaled(content: bytes | None, size: int, absent: str) -> PILImage.Image:
    """Return the picture shrunk to fit a size x size box, in RGB; a grey box saying why if it cannot be read."""
    if content is None:
        return placeholder(size, absent)
    try:
        with PILImage.open(io.BytesIO(content)) as picture:
            picture.draft("RGB", (size, size))  # JPEG decodes at a reduced scale: much faster for big files
            shown = display_pixels(picture)  # 16-bit, CMYK, palette: as the app shows them
            shown.thumbnail((size, size))
            return shown.convert("RGB")
    except (UnidentifiedImageError, OSError):  # not an image (any more), or truncated
        return placeholder(size, "unreadable")


def placeholder(size: int, text: str) -> PILImage.Image:
    box = PILImage.new("RGB", (size, size * 3 // 4), (225, 225, 225))
    ImageDraw.Draw(box).text((8, 8), text, fill=(90, 90, 90))
    return box


def image_thumbnail(content: bytes | None, size: int = 160, *, absent: str = "missing") -> bytes:
    """Return a JPEG thumbnail of an image file's bytes."""
    out = io.BytesIO()
    _open_scaled(content, size, absent).save(out, format="JPEG", quality=85)
    return out.getvalue()


def decode_mask(mask_rle: str, width: int, height: int) -> np.ndarray:
    """Return the boolean mask of COCO compressed RLE counts (as stored with each annotation)."""
    if not mask_rle:
        return np.zeros((height, width), dtype=bool)
    return coco_mask.decode({"size": [height, width], "counts": mask_rle.encode("ascii")}).astype(bool)


def mask_overlay(content: bytes | None, mask: np.ndarray, size: int = 160, *, absent: str = "missing") -> bytes:
    """Return a PNG of the image (its file's bytes) shrunk to a size x size box with the mask painted over it in red."""
    picture = _open_scaled(content, size, absent)
    if mask.any():
        shrunk = PILImage.fromarray(mask.astype(np.uint8) * 255).resize(picture.size, PILImage.Resampling.BOX)
        alpha = (np.asarray(shrunk, dtype=np.float32) / 255.0 * MASK_OPACITY)[..., None]
        pixels = np.asarray(picture, dtype=np.float32)
        pixels = pixels * (1 - alpha) + np.array(MASK_COLOUR, dtype=np.float32) * alpha
        picture = PILImage.fromarray(pixels.round().astype(np.uint8))
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=False)
    return out.getvalue()
