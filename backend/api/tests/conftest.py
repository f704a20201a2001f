"""Factories and fixtures shared by the API tests."""

import itertools
from pathlib import Path

import numpy as np
import pytest
from django.core.cache import cache
from PIL import Image as PILImage
from rest_framework.test import APIClient

from backend.api import services
from backend.api.models import Dataset, Image, Role, shuffle_key
from backend.api.selectors.queue import forget_eligible_counts

_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The login throttle counts in the cache; each test starts from zero. So does the queue's
    # count of eligible annotators, which each process keeps for a minute.
    cache.clear()
    forget_eligible_counts()


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    # The manifest storage needs collectstatic first; pages rendered in tests only need URLs.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _display_copies_in_tmp(settings, tmp_path):
    # PNG copies of images browsers cannot show are kept on disk: never in the repository's data/.
    settings.DISPLAY_COPY_ROOT = str(tmp_path / "display-copies")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Real hashers take ~0.3 s a password by design; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def dataset_root(tmp_path, settings):
    """An empty DATASET_ROOT for this test."""
    root = tmp_path / "datasets"
    root.mkdir()
    settings.DATASET_ROOT = root
    return root


def write_image(path: Path, width: int = 64, height: int = 48, seed: int = 0, fmt: str | None = None) -> Path:
    """Write a small random greyscale image (distinct per seed) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width), dtype=np.uint8)
    PILImage.fromarray(pixels).save(path, format=fmt)
    return path


def write_dataset(folder: Path, names=("a.png", "b.png", "c.png"), csv_text: str | None = None, size=(64, 48)):
    """Write images/ and metadata.csv (filename, ground_truth, sensor) into folder."""
    for seed, name in enumerate(names):
        write_image(folder / "images" / name, *size, seed=seed + 100 * len(str(folder)))
    if csv_text is None:
        lines = ["filename,ground_truth,sensor"]
        lines += [f"{name},{'real' if i % 2 == 0 else 'fake'},LG{i}" for i, name in enumerate(names)]
        csv_text = "\n".join(lines) + "\n"
    (folder / "metadata.csv").write_text(csv_text)
    return folder


@pytest.fixture
def make_user(db):
    def make(role=Role.ANNOTATOR, username=None, is_test=False):
        username = username or f"{role}{next(_numbers)}"
        return services.user_create(username=username, password="pw-" + username, role=role, is_test=is_test)

    return make


@pytest.fixture
def admin_client(client, make_user):
    """Django's test client signed in as a superuser admin (the admin's own pages)."""
    boss = make_user(Role.ADMIN)
    boss.is_superuser = True
    boss.save()
    client.force_login(boss)
    return client


@pytest.fixture
def annotator(make_user):
    return make_user(Role.ANNOTATOR)


@pytest.fixture
def researcher(make_user):
    return make_user(Role.RESEARCHER)


@pytest.fixture
def admin_user(make_user):
    return make_user(Role.ADMIN)


@pytest.fixture
def demo_dataset(dataset_root, db) -> Dataset:
    """A dataset of three 64x48 images with files on disk, choices real/fake, a choice and a mask required."""
    folder = write_dataset(dataset_root / "demo")
    report = services.dataset_import(
        folder=folder,
        name="Demo",
        question="Is this image real or fake?",
        choices=["real", "fake"],
        require_choice=True,
        require_mask=True,
    )
    return report.dataset


@pytest.fixture
def image(demo_dataset) -> Image:
    return demo_dataset.images.order_by("position").first()


@pytest.fixture
def client_for():
    """Return an API client signed in (by session) as the given user."""

    def make(user):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


def brush(points, width=4.0, tool="brush"):
    """Return a stroke through (x, y) points, with increasing times and full pressure."""
    return {
        "tool": tool,
        "width": width,
        "points": [[float(x), float(y), float(10 * i), 0.5] for i, (x, y) in enumerate(points)],
    }


def document(strokes=(), label=None, text="", status="draft", version=0, **extra):
    return {"strokes": list(strokes), "label": label, "text": text, "status": status, "version": version, **extra}


@pytest.fixture
def make_dataset(db):
    """Return a factory of datasets of n images as rows only (no files): fast, for the queue's tests."""

    def make(n=6, width=64, height=48, **options) -> Dataset:
        number = next(_numbers)
        dataset = Dataset.objects.create(
            name=f"Queue {number}", slug=f"queue-{number}", root=f"queue-{number}", **options
        )
        Image.objects.bulk_create(
            Image(
                dataset=dataset,
                sha256=f"{number:032x}{i:032x}",
                path=f"images/{i:05d}.png",
                position=i,
                width=width,
                height=height,
                shuffle_key=shuffle_key(dataset.seed, f"{number:032x}{i:032x}"),
            )
            for i in range(n)
        )
        Dataset.objects.filter(pk=dataset.pk).update(image_count=n)
        dataset.refresh_from_db()
        return dataset

    return make


def pytest_collection_modifyitems(config, items):
    """Skip the tests marked ``postgres`` (row locks, real concurrency) when the suite runs on SQLite."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL; `make test` runs the suite on it too")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


# Studies' fixtures (study_datasets, study), for every test module.
from .study_fixtures import study, study_datasets  # noqa: E402, F401
