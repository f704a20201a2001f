"""The operator's commands from docs/operations.md, typed as written, in the deployment's folder."""

import gzip

from .conftest import DATASET, fingerprint

# The login throttle's counts and the sessions change with every request; everything else must not.
VOLATILE = ("eyetagger_cache", "django_session")


def save(stack, session, image_id: int, text: str) -> dict:
    url = f"{stack.base}/api/images/{image_id}/annotation/"
    current = session.get(url, timeout=10)
    version = current.json()["version"]  # 0: nothing saved yet
    document = {"strokes": [], "label": "real", "text": text, "status": "draft", "version": version}
    response = session.put(url, json=document, headers=stack.write_headers(session), timeout=10)
    assert response.status_code in (200, 201), response.text
    return response.json()


def image_ids(stack, session) -> list[int]:
    datasets = session.get(f"{stack.base}/api/datasets/", timeout=10).json()["results"]
    dataset = next(d for d in datasets if d["slug"] == DATASET)
    images = session.get(f"{stack.base}/api/images/?dataset={dataset['id']}&page_size=100", timeout=10).json()
    return [image["id"] for image in images["results"]]


def test_migrate_has_nothing_left_to_do_after_web_started(stack):
    result = stack.sh("docker compose exec web python manage.py migrate")
    assert "No migrations to apply." in result.stdout


def test_createsuperuser_without_prompts_makes_an_admin(stack, accounts):
    session = stack.sign_in("admin", accounts["admin"])
    assert session.get(f"{stack.base}/api/auth/me/", timeout=10).json()["role"] == "admin"
    admin = session.get(f"{stack.base}/api/admin/", timeout=10)
    assert admin.status_code == 200 and "Site administration" in admin.text


def test_psql_in_the_db_service_reads_the_tables(stack, accounts):
    out = stack.sh(
        "docker compose exec db psql -U eyetagger -d eyetagger -At "
        "-c \"SELECT username FROM auth_user WHERE username LIKE 'ann%' ORDER BY username\""
    ).stdout
    assert out.split() == ["ann1", "ann2"]


def test_a_pg_dump_piped_to_gzip_loads_into_a_new_database_with_the_same_data(stack, accounts):
    stack.sh("docker compose exec -T db pg_dump -U eyetagger eyetagger | gzip > eyetagger.sql.gz")
    assert b"CREATE TABLE public.api_annotation" in gzip.decompress((stack.dir / "eyetagger.sql.gz").read_bytes())
    stack.sh("docker compose exec -T db createdb -U eyetagger eyetagger_copy")
    try:
        stack.sh("gunzip -c eyetagger.sql.gz | docker compose exec -T db psql -q -U eyetagger -d eyetagger_copy")
        assert fingerprint(stack, "eyetagger_copy", VOLATILE) == fingerprint(stack, skip=VOLATILE)
    finally:
        stack.sh("docker compose exec -T db dropdb -U eyetagger eyetagger_copy")


def test_backups_sh_dumps_the_compose_database_and_restore_sh_brings_it_back(stack, accounts):
    session = stack.sign_in("ann1", accounts["ann1"])
    first, second = image_ids(stack, session)[:2]
    kept = save(stack, session, first, "saved before the backup")
    backups_before = set((stack.dir / "data" / "backups").glob("eyetagger_bkp_*.sql.gz"))

    line = stack.sh("./backups.sh").stdout
    assert "backups.sh ok: postgres (compose service db)" in line, line
    (backup,) = set((stack.dir / "data" / "backups").glob("eyetagger_bkp_*.sql.gz")) - backups_before
    at_backup = fingerprint(stack, skip=VOLATILE)

    lost = save(stack, session, second, "saved after the backup: the restore takes it back")
    assert fingerprint(stack, skip=VOLATILE) != at_backup

    restored = stack.sh(f"deploy/restore.sh --yes data/backups/{backup.name}", timeout=600).stdout
    assert fingerprint(stack, skip=VOLATILE) == at_backup, restored
    # web was stopped for the swap and is back: the restored data through Nginx.
    stack.up()
    session = stack.sign_in("ann1", accounts["ann1"])
    url = f"{stack.base}/api/images/{{}}/annotation/"
    assert session.get(url.format(first), timeout=10).json()["text"] == kept["text"]
    assert session.get(url.format(second), timeout=10).json()["version"] == 0, lost  # nothing saved

    # The live database before the restore stays, renamed, until the operator drops it as documented.
    (old,) = [
        name
        for name in stack.psql("SELECT datname FROM pg_database ORDER BY datname", "postgres").split()
        if name.startswith("eyetagger_old_")
    ]
    stack.sh(f"docker compose exec db psql -U eyetagger -d postgres -c 'DROP DATABASE \"{old}\"'")
    assert old not in stack.psql("SELECT datname FROM pg_database", "postgres").split()
