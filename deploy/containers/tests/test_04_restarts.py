"""What survives: data across `down` and `up`, saves across a killed web container, a database restart."""

import threading
import time

import requests

from deploy.containers import stack as ctr

from .conftest import DATASET, fingerprint
from .test_03_operator_commands import image_ids


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"not {what} after {timeout} s")


def health(stack, service: str) -> str:
    (container,) = stack.containers(service)
    return stack.state(container).get("Health", {}).get("Status", "")


def test_data_and_sessions_survive_down_and_up(stack, accounts):
    session = stack.sign_in("ann1", accounts["ann1"])
    assert session.get(f"{stack.base}/api/datasets/", timeout=10).status_code == 200
    before = fingerprint(stack, skip=("eyetagger_cache",))
    with ctr.step("docker compose down, then up -d (until healthy)"):
        stack.sh("docker compose down")
        assert stack.containers("db") == []
        stack.up()
    assert fingerprint(stack, skip=("eyetagger_cache",)) == before
    # The named volume kept the sessions too: the same cookie is still signed in.
    me = session.get(f"{stack.base}/api/auth/me/", timeout=10)
    assert me.status_code == 200 and me.json()["username"] == "ann1"
    assert DATASET in [d["slug"] for d in session.get(f"{stack.base}/api/datasets/", timeout=10).json()["results"]]


class Saver(threading.Thread):
    """Save one annotation again and again, as the app's sync queue does: retry until acknowledged."""

    def __init__(self, stack, session, image_id: int):
        super().__init__(daemon=True)
        self.stack, self.session = stack, session
        self.url = f"{stack.base}/api/images/{image_id}/annotation/"
        self.stop = threading.Event()
        self.acknowledged: list[tuple[str, int]] = []  # (text, version) the server said it saved
        self.failures: list[str] = []  # what answered while web was away
        self.unexpected: list[str] = []

    def run(self):
        version = self.session.get(self.url, timeout=10).json()["version"]
        count = 0
        while not self.stop.is_set():
            count += 1
            text = f"save {count}"
            while not self.stop.is_set():
                outcome = self.save(text, version)
                if outcome is not None:
                    version = outcome
                    self.acknowledged.append((text, version))
                    break
                time.sleep(0.5)
            time.sleep(0.1)

    def save(self, text: str, version: int) -> int | None:
        document = {"strokes": [], "label": "real", "text": text, "status": "draft", "version": version}
        try:
            response = self.session.put(self.url, json=document, headers=self.stack.write_headers(self.session),
                                        timeout=10)  # fmt: skip
        except requests.RequestException as error:
            self.failures.append(type(error).__name__)
            return None
        if response.status_code in (200, 201):
            return response.json()["version"]
        if response.status_code == 409:  # saved before the answer was lost: the app reads it back
            current = self.session.get(self.url, timeout=10).json()
            if current["text"] == text:
                return current["version"]
        if response.status_code in (502, 503, 504):
            self.failures.append(f"{response.status_code} {response.headers.get('Content-Type')}")
            return None
        self.unexpected.append(f"{response.status_code} {response.text[:200]}")
        return None


def test_a_killed_web_container_is_restarted_and_no_acknowledged_save_is_lost(stack, accounts):
    session = stack.sign_in("ann2", accounts["ann2"])
    image_id = image_ids(stack, session)[3]
    (container,) = stack.containers("web")
    restarts = stack.state(container)["RestartCount"] if "RestartCount" in stack.state(container) else 0
    saver = Saver(stack, session, image_id)
    saver.start()
    try:
        wait_for(lambda: len(saver.acknowledged) >= 5, 60, "saving")
        with ctr.step("docker kill web, until restarted and healthy"):
            ctr.run(["docker", "kill", container])
            wait_for(lambda: stack.state(container)["Running"], 60, "restarted by its policy")
            wait_for(lambda: health(stack, "web") == "healthy", 120, "healthy again")
        acknowledged = len(saver.acknowledged)
        wait_for(lambda: len(saver.acknowledged) >= acknowledged + 5, 60, "saving again after the restart")
    finally:
        saver.stop.set()
        saver.join(30)
    assert saver.unexpected == []
    assert ctr.run(["docker", "inspect", "--format", "{{.RestartCount}}", container]).stdout.strip() != str(restarts)
    text, version = saver.acknowledged[-1]
    stored = session.get(f"{stack.base}/api/images/{image_id}/annotation/", timeout=10).json()
    assert (stored["text"], stored["version"]) == (text, version)
    # Each acknowledged save is one version: none was lost or applied twice.
    versions = [version for _, version in saver.acknowledged]
    assert versions == list(range(versions[0], versions[0] + len(versions)))
    ctr.log(f"saves while web was killed: {len(saver.acknowledged)} acknowledged, failed meanwhile: {saver.failures}")


def test_web_turns_unhealthy_while_the_database_is_stopped_and_recovers(stack, accounts):
    with ctr.step("docker compose stop db, until web unhealthy; start db, until healthy"):
        stack.sh("docker compose stop db")
        try:
            wait_for(lambda: health(stack, "web") == "unhealthy", 60, "unhealthy without its database")
            answer = stack.session().get(f"{stack.base}/api/health/", timeout=10)
            assert answer.status_code == 503 and answer.headers["Retry-After"]
        finally:
            stack.sh("docker compose start db")
        stack.up()
    assert stack.session().get(f"{stack.base}/api/health/", timeout=10).status_code == 200
