"""Reading and writing single rows on the hot paths in raw SQL, as the ORM would, for less CPU.

Every save, and every request's authentication, reads and writes a few rows. Through the ORM
each statement is compiled anew, and ``Model.objects.raw()`` maps the cursor's columns to the
model's fields and their converters anew for every query: on the save path that cost several
times running the statements (bench/save_profile.py). ``row_read`` does what ``raw()`` does for
one row, with the mapping kept per model and columns; ``row_update`` and ``row_insert`` write
as ``save()`` does. No model written this way has save signals or overrides ``save()`` (only
the user's has a receiver), so the rows end up exactly as ``save()`` would leave them.
"""

from django.db import connection, models

_plans: dict[tuple, tuple] = {}  # (model, columns, vendor) -> how to turn a row into an instance


def _plan(model: type[models.Model], columns: tuple[tuple[str, int], ...]) -> tuple:
    """Return how a row's (column, position) pairs make an instance of the model: the attnames of the
    model's fields read, the fields, their positions in the row, their converters, the other columns."""
    key = (model, columns, connection.vendor)
    plan = _plans.get(key)
    if plan is None:
        position_of = dict(columns)
        fields = [field for field in model._meta.concrete_fields if field.column in position_of]
        converters = [
            connection.ops.get_db_converters(field.cached_col) + field.cached_col.get_db_converters(connection)
            for field in fields
        ]
        known = {field.column for field in fields}
        extra = [(position, column) for column, position in columns if column not in known]
        positions = [position_of[field.column] for field in fields]
        plan = _plans[key] = ({field.attname for field in fields}, fields, positions, converters, extra)
    return plan


def row_read(model: type[models.Model], sql: str, params: list, *, related: tuple = ()):
    """Return the first row ``sql`` reads as an instance of ``model``, or None: as ``model.objects.raw(sql,
    params)`` gives it (columns that are not the model's become attributes, unconverted).

    ``related``: (name, model) pairs of foreign keys whose rows the query reads too, each column
    named ``<name>__<column>``: they become the instance's related objects, as ``select_related``.
    ``sql`` is one of a few fixed statements, its values all in ``params``: how its columns make
    the instances is kept per statement.
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        if row is None:
            return None
        key = (model, related, sql, connection.vendor)
        layout = _layouts.get(key)
        # The row's length checks the layout still fits: a table's columns only change with a migration.
        if layout is None or layout[0] != len(row):
            # psycopg builds the description's Column objects anew for every statement (each column's
            # type looked up): on the save path, several times the rest of reading the row.
            layout = _layout(model, related, tuple(column[0] for column in cursor.description))
            if len(_layouts) >= _MAX_LAYOUTS:  # a caller embedding values in its SQL: stay bounded
                _layouts.clear()
            _layouts[key] = layout
    _, own, parts = layout
    instance = _instance(model, own, row)
    for name, related_model, plan in parts:
        setattr(instance, name, _instance(related_model, plan, row))
    return instance


_layouts: dict[tuple, tuple] = {}  # (model, related, sql, vendor) -> (row length, own plan, related plans)
_MAX_LAYOUTS = 256


def _layout(model: type[models.Model], related: tuple, columns: tuple[str, ...]) -> tuple:
    """Return how a row of these columns makes its instances: its length, the model's plan (``_plan``), and each
    related model's, of its ``<name>__`` columns."""
    parts = {name: [] for name, _ in related}
    own = []
    for position, column in enumerate(columns):
        name, _, rest = column.partition("__")
        (parts[name] if rest and name in parts else own).append((column if name not in parts else rest, position))
    return (
        len(columns),
        _plan(model, tuple(own)),
        tuple((name, related_model, _plan(related_model, tuple(parts[name]))) for name, related_model in related),
    )


def _instance(model: type[models.Model], plan: tuple, row: tuple) -> models.Model:
    """Return the instance of ``model`` the row makes, by its plan (``_plan``)."""
    attnames, fields, positions, converters, extra = plan
    values = []
    for field, position, field_converters in zip(fields, positions, converters, strict=True):
        value = row[position]
        for converter in field_converters:
            value = converter(value, field.cached_col, connection)
        values.append(value)
    instance = model.from_db(connection.alias, attnames, values)
    for position, name in extra:
        setattr(instance, name, row[position])
    return instance


def row_update(instance: models.Model, fields: list[str]) -> None:
    """Write these fields of a stored instance as ``instance.save(update_fields=fields)`` does.

    ``auto_now`` fields among them get the current time, on the instance too, as ``save`` gives them.
    """
    key = (type(instance), tuple(fields), connection.vendor)
    statement = _updates.get(key)
    if statement is None:
        meta = instance._meta
        written = [meta.get_field(name) for name in fields]
        columns = ", ".join(f"{connection.ops.quote_name(field.column)} = %s" for field in written)
        sql = (
            f"UPDATE {connection.ops.quote_name(meta.db_table)} SET {columns} "
            f"WHERE {connection.ops.quote_name(meta.pk.column)} = %s"
        )
        statement = _updates[key] = (sql, written)
    sql, written = statement
    values = [field.get_db_prep_save(field.pre_save(instance, False), connection) for field in written]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, instance.pk])


_updates: dict[tuple, tuple] = {}  # (model, fields, vendor) -> (UPDATE statement, fields): a save makes three


def row_insert(*instances: models.Model) -> None:
    """Insert new instances of one model, in one statement, as ``save()`` does each, but for reading back their ids
    (left unset)."""
    meta = instances[0]._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    values = [
        field.get_db_prep_save(field.pre_save(instance, True), connection) for instance in instances for field in fields
    ]
    table, places = connection.ops.quote_name(meta.db_table), ", ".join(["%s"] * len(fields))
    rows = ", ".join([f"({places})"] * len(instances))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {rows}", values)
