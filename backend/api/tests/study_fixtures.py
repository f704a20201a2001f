"""Studies for the tests: three small datasets on disk (main with AI guidance, practice, catch) and a study file."""

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image as PILImage
from rest_framework.test import APIClient

from backend.api import services

from .conftest import write_image

SIZE = (64, 48)


def write_mask(path: Path, box=(10, 10, 40, 30)) -> Path:
    """Write a reference mask: white inside the box (x0, y0, x1, y1), black elsewhere."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.zeros((SIZE[1], SIZE[0]), dtype=np.uint8)
    x0, y0, x1, y1 = box
    pixels[y0:y1, x0:x1] = 255
    PILImage.fromarray(pixels).save(path)
    return path


def write_study_datasets(root: Path, *, main_images: int = 12) -> dict:
    """Write and import the datasets of a study; return them by role (main, practice, catch)."""
    folders = {}
    for role, count, seed in (("main", main_images, 500), ("practice", 3, 600), ("catch", 4, 700)):
        folder = root / f"study-{role}"
        lines = ["filename,ground_truth,ai_label,ai_confidence,ai_saliency,reference_mask"]
        for i in range(count):
            name = f"{role}_{i:02d}.png"
            write_image(folder / "images" / name, *SIZE, seed=seed + i)
            truth = "real" if i % 2 == 0 else "fake"
            saliency = reference = ""
            if role in ("main", "catch"):
                saliency = f"ai_saliency/{name}"
                write_image(folder / saliency, *SIZE, seed=seed + 50 + i)
            if role in ("practice", "catch"):
                reference = f"masks/{name}"
                write_mask(folder / reference)
            lines.append(f"{name},{truth},{'fake' if i % 3 == 0 else 'real'},0.{80 + i},{saliency},{reference}")
        (folder / "metadata.csv").write_text("\n".join(lines) + "\n")
        folders[role] = folder
    datasets = {}
    for role, folder in folders.items():
        datasets[role] = services.dataset_import(
            folder=folder,
            name=f"Study {role}",
            slug=f"study-{role}",
            question="Is this image real or fake?",
            choices=["real", "fake"],
            require_choice=True,
            require_mask=True,
            access="chosen",
            annotators_per_image=3 if role == "main" else None,
        ).dataset
    return datasets


def study_spec(**changes) -> dict:
    """Return a study file's data: consent, instructions, questionnaire, practice, two phases with catch, finish."""
    spec = {
        "eyetagger_study": 1,
        "slug": "iris-test",
        "title": "Where do you look?",
        "status": "open",
        "platform": {"name": "prolific", "require_participant": False},
        "conditions": [
            {"slug": "no-help", "name": "No help"},
            {
                "slug": "ai-saliency",
                "name": "AI saliency",
                "show": ["ai_saliency"],
                "placement": "over",
                "toggle": True,
            },
        ],
        "assignment": {"between": ["no-help", "ai-saliency"]},
        "catch": {"dataset": "study-catch", "threshold": 0.5, "min_trials": 1},
        "steps": [
            {"type": "consent", "version": "v1", "text": "Do you **agree**?"},
            {
                "type": "instructions",
                "text": "Look: ![an eye](example:eye)",
                "examples": {"eye": {"dataset": "study-practice", "file": "practice_00.png"}},
            },
            {
                "type": "questionnaire",
                "fields": [
                    {"name": "age", "label": "Age", "type": "single", "choices": ["18-30", "31+"]},
                    {"name": "years", "label": "Years", "type": "number", "min": 0, "max": 60, "required": False},
                ],
            },
            {"type": "practice", "dataset": "study-practice", "images": ["practice_00.png", "practice_01"]},
            {"type": "annotation", "title": "Part 1", "dataset": "study-main", "images": 2, "catch": {"slots": [2]}},
            {
                "type": "finish",
                "text": "Thanks!",
                "redirect": "https://app.prolific.com/submissions/complete?cc={code}",
            },
        ],
    }
    spec.update(changes)
    return spec


def study_text(**changes) -> str:
    return yaml.safe_dump(study_spec(**changes), sort_keys=False)


@pytest.fixture
def study_datasets(dataset_root, db):
    return write_study_datasets(dataset_root)


@pytest.fixture
def study(study_datasets):
    return services.study_import(text=study_text()).study


def participant_client(slug="iris-test", **params):
    """Return (client, response) of a new browser enrolling by the study link with these parameters."""
    client = APIClient(enforce_csrf_checks=False)
    response = client.post(f"/api/studies/{slug}/enrol/", {"params": params}, format="json")
    return client, response


def mask_document(label="real", status="submitted", version=0, box=(10, 10, 40, 30)):
    """Return a strokes document filling exactly the box (a lasso along its edges: the reference mask's box)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    stroke = {"tool": "lasso", "width": 1.0, "points": [[x, y, 10.0 * i, 0.5] for i, (x, y) in enumerate(corners)]}
    return {"strokes": [stroke], "label": label, "text": "", "status": status, "version": version}
