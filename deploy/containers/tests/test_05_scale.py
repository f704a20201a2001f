"""Three web replicas behind Nginx, as docs/operations.md ("Scaling past one machine") says."""

import uuid

from deploy.containers import stack as ctr

from .test_03_operator_commands import image_ids
from .test_04_restarts import wait_for


def logs(container: str) -> str:
    result = ctr.run(["docker", "logs", container])
    return result.stdout + result.stderr  # Gunicorn's access log goes to stderr


def test_three_replicas_serve_every_request_while_one_is_stopped_and_sessions_hold(stack, accounts):
    with ctr.step("docker compose up -d --scale web=3, restart nginx (until healthy)"):
        stack.up("--scale", "web=3")
        stack.sh("docker compose restart nginx")  # so that Nginx resolves the new replicas
        stack.up("--scale", "web=3")
    try:
        replicas = stack.containers("web")
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
        ctr.run(["docker", "start", replicas[0]], check=False)
        with ctr.step("back to one web replica"):
            stack.up("--scale", "web=1")
            stack.sh("docker compose restart nginx")
            stack.up()
    wait_for(lambda: len(stack.containers("web")) == 1, 30, "one replica")
