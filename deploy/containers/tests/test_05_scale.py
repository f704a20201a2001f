"""Three web replicas behind Nginx, as docs/operations.md ("Scaling past one machine") says."""

import time
import uuid

from deploy.containers import stack as ctr

from .test_03_operator_commands import image_ids
from .test_04_restarts import wait_for


def healthy(container: str) -> bool:
    return ctr.run(["docker", "inspect", "--format", "{{.State.Health.Status}}", container]).stdout.strip() == "healthy"


def logs(container: str) -> str:
    result = ctr.run(["docker", "logs", container])
    return result.stdout + result.stderr  # Gunicorn's access log goes to stderr


def test_three_replicas_serve_every_request_while_one_is_stopped_and_sessions_hold(stack, accounts):
    with ctr.step("docker compose up -d --scale web=3 (until healthy)"):
        # Not --wait: on a loaded machine compose gives up on a replica still starting (nginx waits for
        # web); the replicas' own healthchecks decide.
        stack.sh("docker compose up -d --scale web=3", check=False)
        wait_for(lambda: len(stack.containers("web")) == 3, 60, "three replicas")
        wait_for(lambda: all(healthy(c) for c in stack.containers("web")), 300, "three healthy replicas")
    # Nginx looks `web` up again every 10 s (NGINX_RESOLVER): by then it sends requests to all three.
    time.sleep(11)
    replicas = stack.containers("web")
    try:
        assert len(replicas) == 3
        session = stack.sign_in("ann1", accounts["ann1"])
        image_id = image_ids(stack, session)[5]
        url = f"{stack.base}/api/images/{image_id}/annotation/"
        ctr.run(["docker", "stop", replicas[0]])
        marker = uuid.uuid4().hex
        version = session.get(url, timeout=10).json()["version"]
        answers = []
        for index in range(30):
            me = session.get(f"{stack.base}/api/auth/me/?request={marker}-{index}", timeout=15)
            answers.append(me.status_code)
            assert me.json()["username"] == "ann1"
            document = {"strokes": [], "label": "real", "text": f"{marker} {index}", "status": "draft",
                        "version": version}  # fmt: skip
            saved = session.put(url, json=document, headers=stack.write_headers(session), timeout=15)
            answers.append(saved.status_code)
            assert saved.status_code in (200, 201), saved.text
            version = saved.json()["version"]
        assert set(answers) <= {200, 201}
        # The session (in Postgres) was honoured by both replicas still running, each logging some requests.
        served = [logs(replica).count(marker) for replica in replicas[1:]]
        assert all(count > 0 for count in served), served
        assert logs(replicas[0]).count(marker) == 0
    finally:
        with ctr.step("back to one web replica"):
            stack.sh("docker compose up -d --scale web=1", check=False)  # as above: the healthchecks decide
            wait_for(lambda: len(stack.containers("web")) == 1, 60, "one replica")
            wait_for(lambda: healthy(stack.containers("web")[0]), 300, "one healthy replica")
