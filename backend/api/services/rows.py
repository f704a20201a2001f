"""Writing some fields of a row the save path has read, in one raw UPDATE.

``instance.save(update_fields=...)`` builds its UPDATE through the ORM's query compiler each
time: on a save's hot path that cost several times running the statement (bench/save_profile.py).
No model written this way has save signals or overrides ``save()`` (only the user's has a
receiver), so the row ends up exactly as ``save(update_fields=...)`` would leave it.
"""

from django.db import connection, models


def row_update(instance: models.Model, fields: list[str]) -> None:
    """Write these fields of a stored instance as ``instance.save(update_fields=fields)`` does.

    ``auto_now`` fields among them get the current time, on the instance too, as ``save`` gives them.
    """
    meta = instance._meta
    columns, values = [], []
    for name in fields:
        field = meta.get_field(name)
        columns.append(f"{connection.ops.quote_name(field.column)} = %s")
        values.append(field.get_db_prep_save(field.pre_save(instance, False), connection))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(meta.db_table)} SET {', '.join(columns)} "
            f"WHERE {connection.ops.quote_name(meta.pk.column)} = %s",
            [*values, instance.pk],
        )
