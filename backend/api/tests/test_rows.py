"""Raw reads and writes of single rows (rows.py) give what the ORM gives, with how to read a statement kept."""

from datetime import timedelta

from django.forms.models import model_to_dict
from django.utils import timezone

from backend.api import rows, selectors
from backend.api.models import AnnotatorProgress, Dataset, Image


def fields_of(instance):
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_an_image_read_raw_is_the_orms_again_and_again(image, annotator, researcher):
    expected = Image.objects.select_related("dataset").get(pk=image.pk)
    for user in (annotator, researcher, annotator):  # two statements: with and without the visibility condition
        read = selectors.visible_image(user=user, pk=image.pk)
        assert fields_of(read) == fields_of(expected) and fields_of(read.dataset) == fields_of(expected.dataset)
        assert read._state.adding is False and read.dataset._state.db == "default"


def test_a_statements_columns_are_read_once(image, annotator, monkeypatch):
    layouts = []
    monkeypatch.setattr(rows, "_layouts", {})
    monkeypatch.setattr(rows, "_layout", lambda *args: layouts.append(args) or _real_layout(*args))
    for _ in range(3):
        assert selectors.visible_image(user=annotator, pk=image.pk).dataset.pk == image.dataset_id
    assert len(layouts) == 1


_real_layout = rows._layout


def test_a_kept_layout_that_no_longer_fits_the_row_is_read_again(image, annotator, monkeypatch):
    monkeypatch.setattr(rows, "_layouts", {})
    selectors.visible_image(user=annotator, pk=image.pk)
    ((key, layout),) = rows._layouts.items()
    rows._layouts[key] = (layout[0] - 1, *layout[1:])  # as if a migration had added a column since
    read = selectors.visible_image(user=annotator, pk=image.pk)
    assert fields_of(read) == fields_of(Image.objects.get(pk=image.pk))
    assert rows._layouts[key] == layout


def test_the_kept_layouts_stay_few_whatever_the_statements(image, monkeypatch):
    monkeypatch.setattr(rows, "_layouts", {})
    table = Dataset._meta.db_table
    for k in range(rows._MAX_LAYOUTS + 10):
        sql = f"SELECT d.*, {k} AS k FROM {table} d WHERE d.id = %s"  # a value in the SQL: a statement each
        assert rows.row_read(Dataset, sql, [image.dataset_id]).k == k
    assert len(rows._layouts) <= rows._MAX_LAYOUTS


def test_a_row_update_writes_what_save_would_each_time(demo_dataset, annotator, researcher):
    names = ["submitted_count", "active_ms", "last_active_at"]
    for user, count in ((annotator, 3), (researcher, 5), (annotator, 7)):  # one statement, kept, for each
        progress, _ = AnnotatorProgress.objects.get_or_create(dataset=demo_dataset, annotator=user)
        moment = timezone.now() - timedelta(minutes=count)
        progress.submitted_count, progress.active_ms, progress.last_active_at = count, count * 1000, moment
        progress.skipped_count = 99  # not among the fields written
        rows.row_update(progress, names)
        stored = AnnotatorProgress.objects.get(pk=progress.pk)
        assert model_to_dict(stored, names) == {
            "submitted_count": count,
            "active_ms": count * 1000,
            "last_active_at": moment,
        }
        assert stored.skipped_count == 0
