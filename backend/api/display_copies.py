"""What browsers are shown of an image file: the file itself when they display it as stored, else a PNG copy.

Pure: no ORM, no HTTP; bytes in, bytes out. The original file and its SHA-256 stay the image's
identity, and its stored pixel grid stays the coordinate system of masks: a display copy has
exactly the original's width and height, pixel for pixel.

Browsers show JPEG, PNG, GIF and WebP, but not TIFF or BMP, not 16-bit PNGs faithfully (and
not at all as TIFF), and CMYK JPEGs in the wrong colours or not at all. And a JPEG's EXIF
orientation tag makes them rotate it, while the importer, Pillow and NumPy read the pixels as
stored: a mask drawn over a rotated picture would not line up. So such files are shown as a PNG
of their stored pixels, with no orientation tag:

- 16-bit and 32-bit greyscale is scaled linearly from its darkest to its brightest pixel to
  0–255 (sensors often fill 10 or 12 of 16 bits; a plain shift would show them near black);
- CMYK is converted to RGB; palette, greyscale and RGB(A) keep their mode where PNG has it;
- EXIF orientation is not applied: the picture is the stored pixel grid, as every export,
  mask and heat map is.
"""

import io

import numpy as np
from PIL import Image as PILImage

EXIF_ORIENTATION = 0x0112
# Formats and modes that browsers draw as stored: the file itself is served.
_BROWSER_FORMATS = {"JPEG": {"L", "RGB"}, "PNG": {"1", "L", "LA", "P", "RGB", "RGBA"}, "GIF": {"P", "L"}, "WEBP": None}
# Modes a PNG holds with 8 bits a channel: kept as they are in a display copy.
_PNG_MODES = {"1", "L", "LA", "P", "RGB", "RGBA"}


def needs_display_copy(picture: PILImage.Image) -> bool:
    """Return whether browsers would not show this opened picture as its pixels are stored."""
    modes = _BROWSER_FORMATS.get(picture.format or "", set())
    if modes is not None and picture.mode not in modes:
        return True
    if picture.format == "JPEG":
        return picture.getexif().get(EXIF_ORIENTATION, 1) != 1
    return False


def display_pixels(picture: PILImage.Image) -> PILImage.Image:
    """Return the picture's stored pixels in a mode with 8 bits a channel (see the module's notes)."""
    if picture.mode in _PNG_MODES:
        return picture.copy() if picture.mode != "P" or picture.format == "PNG" else picture.convert("RGBA")
    if picture.mode == "CMYK":
        return picture.convert("RGB")
    if picture.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(picture, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        return PILImage.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")
    return picture.convert("RGBA" if "A" in picture.getbands() else "RGB")


def display_png(content: bytes) -> bytes:
    """Return a PNG of the image file's stored pixels (no EXIF: browsers show it unrotated)."""
    with PILImage.open(io.BytesIO(content)) as picture:
        picture.load()
        out = io.BytesIO()
        display_pixels(picture).save(out, format="PNG", compress_level=6)
    return out.getvalue()
