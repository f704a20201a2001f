"""Images as researchers have them: every kind the importer accepts is shown, as its stored pixels.

TIFF (8 and 16 bit), BMP, 16-bit PNG, greyscale and palette images, CMYK JPEGs and JPEGs with
an EXIF orientation: browsers get the file when they show it as stored, else a PNG copy of the
stored pixels, made once; the file and its SHA-256 stay the identity, its pixel grid the masks'.
"""

import hashlib
import io

import numpy as np
import pytest
from PIL import Image as PILImage

from backend.api import display_copies, files, services
from backend.api.models import Image

WIDTH, HEIGHT = 40, 30
RNG = np.random.default_rng(7)
GREY = RNG.integers(0, 256, (HEIGHT, WIDTH), dtype=np.uint8)
RGB = RNG.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
DEEP = (RNG.integers(0, 4096, (HEIGHT, WIDTH)) + 100).astype(np.uint16)  # a 12-bit sensor in 16 bits


def encode(picture: PILImage.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    picture.save(out, format=fmt, **options)
    return out.getvalue()


def exif_rotated_jpeg() -> bytes:
    exif = PILImage.Exif()
    exif[display_copies.EXIF_ORIENTATION] = 6  # "rotate 90° clockwise to display"
    return encode(PILImage.fromarray(RGB), "JPEG", exif=exif.tobytes(), quality=95)


# name, the file's bytes, whether browsers need a copy
KINDS = {
    "tiff-8.tif": (lambda: encode(PILImage.fromarray(GREY), "TIFF"), True),
    "tiff-16.tif": (lambda: encode(PILImage.fromarray(DEEP), "TIFF"), True),
    "rgb.bmp": (lambda: encode(PILImage.fromarray(RGB), "BMP"), True),
    "palette.bmp": (lambda: encode(PILImage.fromarray(RGB).quantize(16), "BMP"), True),
    "deep.png": (lambda: encode(PILImage.fromarray(DEEP), "PNG"), True),
    "cmyk.jpg": (lambda: encode(PILImage.fromarray(RGB).convert("CMYK"), "JPEG", quality=95), True),
    "rotated.jpg": (exif_rotated_jpeg, True),
    "grey.png": (lambda: encode(PILImage.fromarray(GREY), "PNG"), False),
    "palette.png": (lambda: encode(PILImage.fromarray(RGB).quantize(16), "PNG"), False),
    "plain.jpg": (lambda: encode(PILImage.fromarray(RGB), "JPEG", quality=95), False),
}


def stored_pixels(content: bytes) -> np.ndarray:
    with PILImage.open(io.BytesIO(content)) as picture:
        return np.asarray(picture)


@pytest.mark.parametrize("name", KINDS)
def test_browsers_get_a_copy_exactly_when_they_would_not_show_the_stored_pixels(name):
    make, needed = KINDS[name]
    with PILImage.open(io.BytesIO(make())) as picture:
        assert display_copies.needs_display_copy(picture) == needed


@pytest.mark.parametrize("name", [name for name, (_, needed) in KINDS.items() if needed])
def test_a_copy_is_an_8_bit_png_of_the_stored_pixel_grid_without_exif(name):
    content = KINDS[name][0]()
    copy = PILImage.open(io.BytesIO(display_copies.display_png(content)))
    assert copy.format == "PNG" and copy.size == (WIDTH, HEIGHT)  # not rotated: the masks' coordinates
    assert copy.mode in {"1", "L", "LA", "P", "RGB", "RGBA"}
    assert display_copies.EXIF_ORIENTATION not in copy.getexif()


def test_16_bit_pixels_are_stretched_from_darkest_to_brightest():
    copy = stored_pixels(display_copies.display_png(KINDS["tiff-16.tif"][0]()))
    expected = np.rint((DEEP - DEEP.min()) * (255 / (DEEP.max() - DEEP.min())))
    assert copy.min() == 0 and copy.max() == 255
    assert np.array_equal(copy, expected.astype(np.uint8))


@pytest.mark.parametrize("name", ["tiff-8.tif", "rgb.bmp", "rotated.jpg"])
def test_8_bit_pixels_are_kept_exactly(name):
    content = KINDS[name][0]()
    assert np.array_equal(stored_pixels(display_copies.display_png(content)), stored_pixels(content))


def test_cmyk_becomes_the_rgb_pillow_reads():
    content = KINDS["cmyk.jpg"][0]()
    with PILImage.open(io.BytesIO(content)) as picture:
        rgb = np.asarray(picture.convert("RGB"))
    assert np.array_equal(stored_pixels(display_copies.display_png(content)), rgb)


@pytest.fixture
def every_kind(dataset_root, db):
    folder = dataset_root / "kinds"
    (folder / "images").mkdir(parents=True)
    for name, (make, _) in KINDS.items():
        (folder / "images" / name).write_bytes(make())
    (folder / "metadata.csv").write_text("filename\n" + "".join(f"{name}\n" for name in KINDS))
    report = services.dataset_import(folder=folder)
    assert not report.unreadable and len(report.added) == len(KINDS)
    return folder


@pytest.mark.parametrize("name", KINDS)
def test_every_kind_imports_and_is_served_at_its_stored_size(every_kind, name, researcher, client_for):
    image = Image.objects.get(path=f"images/{name}")
    original = (every_kind / "images" / name).read_bytes()
    assert image.sha256 == hashlib.sha256(original).hexdigest()  # the file stays the identity
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    response = client_for(researcher).get(f"/api/images/{image.pk}/file/")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if KINDS[name][1]:
        assert response["Content-Type"] == "image/png" and body == display_copies.display_png(original)
    else:
        assert body == original
    assert response["ETag"] == f'"{image.sha256}"'
    with PILImage.open(io.BytesIO(body)) as shown:
        assert shown.size == (image.width, image.height)


def test_a_copy_is_made_once_and_kept(every_kind, researcher, client_for, monkeypatch, settings):
    image = Image.objects.get(path="images/tiff-16.tif")
    first = client_for(researcher).get(f"/api/images/{image.pk}/file/").content

    def refuse(content):
        raise AssertionError("made again")

    monkeypatch.setattr(display_copies, "display_png", refuse)
    assert client_for(researcher).get(f"/api/images/{image.pk}/file/").content == first
    kept = list((files.display_copy_root()).rglob("*.png"))
    assert [path.name for path in kept] == [f"{image.sha256}.png"]


def test_a_folder_that_cannot_be_written_only_loses_the_keeping(every_kind, researcher, client_for, settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    settings.DISPLAY_COPY_ROOT = str(blocker / "copies")
    image = Image.objects.get(path="images/rgb.bmp")
    response = client_for(researcher).get(f"/api/images/{image.pk}/file/")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"


def test_admin_thumbnails_show_16_bit_images_as_the_app_does(every_kind):
    from backend.api import thumbnails

    image = Image.objects.get(path="images/deep.png")
    thumbnail = stored_pixels(thumbnails.image_thumbnail(files.image_read(image), size=40))
    assert thumbnail.std() > 20  # not one clipped white (or black) box
