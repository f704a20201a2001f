"""A study's research side over the API: the dashboard, maps per condition, agreement per condition."""

import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image as PILImage

from backend.api import services
from backend.api.models import Participant, Study, Trial

from .study_fixtures import mask_document, participant_client, write_study_datasets

PARTICIPANTS = 6


def take_part(number, *, box=(10, 10, 40, 30), withdraw=False):
    """Take one participant through the study, annotating every image of the phase with the box."""
    client, _ = participant_client(PROLIFIC_PID=f"p{number}")
    client.post("/api/participation/steps/0/", {"agree": True, "version": "v1"}, format="json")
    client.post("/api/participation/steps/1/", {}, format="json")
    client.post("/api/participation/steps/2/", {"answers": {"age": "18-30"}}, format="json")
    for _ in range(5):
        trial = client.get("/api/participation/trials/").json()["trials"][0]
        client.put(
            f"/api/participation/images/{trial['image']['id']}/annotation/", mask_document(box=box), format="json"
        )
    if withdraw:
        client.post("/api/participation/withdraw/")
    else:
        client.post("/api/participation/steps/5/", {}, format="json")
    return Participant.objects.get(number=number + 1)


@pytest.fixture
def study_datasets(dataset_root, db):
    # Four images to annotate, three participants each: every image has a map under several conditions.
    return write_study_datasets(dataset_root, main_images=4)


@pytest.fixture
def done_study(study):
    for number in range(PARTICIPANTS):
        take_part(number, box=(10, 10, 40, 30) if number % 2 == 0 else (20, 5, 60, 40))
    return study


def test_the_dashboard(study, researcher, client_for):
    for number in range(3):
        take_part(number, withdraw=number == 2)
    participant_client(PROLIFIC_PID="late")
    client, _ = participant_client(PROLIFIC_PID="no")
    client.post("/api/participation/steps/0/", {"agree": False}, format="json")
    body = client_for(researcher).get(f"/api/studies/{study.pk}/dashboard/").json()
    flagged = Participant.objects.filter(flagged=True).count()
    assert body["participants"] == {"enrolled": 4, "active": 1, "completed": 2, "withdrawn": 1, "timed_out": 0,
                                   "excluded": 0, "flagged": flagged, "declined": 1, "deleted": 0}  # fmt: skip
    assert body["rates"] == {"completion": 0.5, "drop_out": 0.25}
    assert body["enrolment"][0]["enrolled"] == 4
    consent = next(step for step in body["steps"] if step["kind"] == "consent")
    assert consent["active"] == 1  # the one who only enrolled
    assert sum(c["participants"] for c in body["conditions"]) == 4
    assert body["times"]["median_total_seconds"] >= 0 and body["times"]["median_image_ms"] is not None


def test_admins_open_pause_and_close_a_study(study, admin_user, researcher, client_for):
    response = client_for(admin_user).post(f"/api/studies/{study.pk}/status/", {"status": "paused"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "paused"
    assert Study.objects.get().status == "paused"
    assert (
        client_for(researcher).post(f"/api/studies/{study.pk}/status/", {"status": "open"}, format="json").status_code
        == 403
    )
    assert (
        client_for(admin_user).post(f"/api/studies/{study.pk}/status/", {"status": "gone"}, format="json").status_code
        == 400
    )


def test_a_condition_s_mean_map_of_an_image_and_the_difference_of_two(done_study, researcher, client_for):
    client = client_for(researcher)
    image_id = Trial.objects.filter(kind="main", participant__condition__slug="no-help").values_list(
        "image_id", flat=True
    )[0]
    response = client.get(f"/api/studies/{done_study.pk}/images/{image_id}/saliency.npy?condition=no-help")
    heat = np.load(io.BytesIO(response.content))
    assert heat.shape == (48, 64) and 0 < heat.max() <= 1
    png = client.get(f"/api/studies/{done_study.pk}/images/{image_id}/saliency.png?condition=no-help")
    assert png["Content-Type"] == "image/png" and PILImage.open(io.BytesIO(png.content)).size == (64, 48)
    difference = client.get(
        f"/api/studies/{done_study.pk}/images/{image_id}/saliency.npy?condition=no-help&minus=ai-saliency"
    )
    other = np.load(io.BytesIO(client.get(
        f"/api/studies/{done_study.pk}/images/{image_id}/saliency.npy?condition=ai-saliency").content))  # fmt: skip
    assert np.allclose(np.load(io.BytesIO(difference.content)), heat - other)
    assert (
        client.get(f"/api/studies/{done_study.pk}/images/{image_id}/saliency.png?condition=x&colour=1").status_code
        == 400
    )
    assert client.get(f"/api/studies/{done_study.pk}/images/999999/saliency.png?condition=no-help").status_code == 404


def test_agreement_per_condition(done_study, researcher, client_for):
    client = client_for(researcher)
    body = client.get(f"/api/studies/{done_study.pk}/stats/").json()
    assert body["images"] >= 1
    assert {c["condition"] for c in body["conditions"]} <= {"no-help", "ai-saliency"}
    for image in body["per_image"]:
        for pair in image["pairs"]:
            assert -1 <= pair["cc"] <= 1 and pair["kl_a_b"] >= 0
    rows = b"".join(client.get(f"/api/studies/{done_study.pk}/stats/?format=csv").streaming_content).decode()
    assert rows.startswith("image_id,condition,masks,split_half_r,spearman_brown,cc_with_")


def test_an_image_s_figures_per_condition(done_study, researcher, client_for):
    image_id = Trial.objects.filter(kind="main").values_list("image_id", flat=True)[0]
    body = client_for(researcher).get(f"/api/studies/{done_study.pk}/images/{image_id}/stats/").json()
    assert body["image"] == image_id
    assert all(row["masks"] >= 1 for row in body["conditions"])


def test_excluded_participants_leave_the_maps(done_study, researcher, client_for):
    mine = Trial.objects.filter(kind="main", participant__number=1).values_list("image_id", flat=True)
    shared = [i for i in mine if Trial.objects.filter(kind="main", image_id=i).count() >= 2]
    image_id = shared[0]  # an image others annotated too, so it keeps a map without them
    slug = Participant.objects.get(number=1).condition.slug
    url = f"/api/studies/{done_study.pk}/images/{image_id}/stats/"
    before = {row["condition"]: row["masks"] for row in client_for(researcher).get(url).json()["conditions"]}
    services.participant_set_excluded(participant_id=Participant.objects.get(number=1).pk, excluded=True)
    after = {row["condition"]: row["masks"] for row in client_for(researcher).get(url).json()["conditions"]}
    assert after.get(slug, 0) == before[slug] - 1


def test_each_condition_s_masks_agree_by_pairwise_iou_and_dice(done_study, researcher, client_for):
    body = client_for(researcher).get(f"/api/studies/{done_study.pk}/stats/").json()
    rows = [row for image in body["per_image"] for row in image["conditions"]]
    assert rows and all(set(row) == {"condition", "masks", "split_half", "iou", "dice"} for row in rows)
    for row in rows:
        if row["masks"] >= 2:
            assert 0 <= row["iou"] <= row["dice"] <= 1  # Dice = 2 IoU / (1 + IoU) >= IoU
        else:
            assert row["iou"] is None and row["dice"] is None
    assert all({"iou", "dice"} <= set(c) for c in body["conditions"])


def test_the_command_writes_the_files_the_api_serves(done_study, researcher, client_for, tmp_path):
    client = client_for(researcher)
    out = io.StringIO()
    call_command("export_study_maps", "iris-test", "--out", str(tmp_path), stdout=out)
    assert "Wrote iris-test-stats.json and .csv" in out.getvalue()
    api_csv = b"".join(client.get(f"/api/studies/{done_study.pk}/stats/?format=csv").streaming_content)
    assert (tmp_path / "iris-test-stats.csv").read_bytes() == api_csv
    assert (
        json.loads((tmp_path / "iris-test-stats.json").read_bytes())
        == client.get(f"/api/studies/{done_study.pk}/stats/").json()
    )
    written = {path.name for path in (tmp_path / "maps").iterdir()}
    checked = 0
    for image_id in set(Trial.objects.filter(kind="main").values_list("image_id", flat=True)):
        shown = {
            row["condition"]
            for row in client.get(f"/api/studies/{done_study.pk}/images/{image_id}/stats/").json()["conditions"]
        }
        for query in [f"condition={c}" for c in shown] + (
            ["condition=no-help&minus=ai-saliency"] if len(shown) == 2 else []
        ):
            for suffix in ("png", "npy"):
                response = client.get(f"/api/studies/{done_study.pk}/images/{image_id}/saliency.{suffix}?{query}")
                name = response["Content-Disposition"].split('filename="')[1].rstrip('"')
                assert name in written and (tmp_path / "maps" / name).read_bytes() == response.content
                checked += 1
    assert checked == len(written) > 0  # every file written is one the API serves, byte for byte


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "there is no study 'nope'"),
        (["iris-test", "--formats", "gif"], "--formats: any of png, npy"),
        (["iris-test", "--sigma", "-1"], "--sigma must be from 0"),
    ],
)
def test_the_maps_command_names_what_is_wrong(study, tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("export_study_maps", *args, "--out", str(tmp_path), stdout=io.StringIO())
