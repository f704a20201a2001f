"""Talk to a running EyeTagger over HTTP as its single-page app does: shared by the deployment tests.

The app signs in with the session cookie: it fetches the CSRF cookie first, then posts the
credentials with the token, and sends every later write with the current token (Django rotates
it at sign-in), its Origin and Referer (HTTPS stacks check them).
"""

import requests


def spa_sign_in(session: requests.Session, base: str, username: str, password: str) -> requests.Session:
    """Sign the session in at ``base`` as the app does; return it. Anything but a 200 fails the caller."""
    token = session.get(f"{base}/api/auth/csrf/", timeout=10).json()["csrf_token"]
    response = session.post(
        f"{base}/api/auth/login/",
        json={"username": username, "password": password},
        headers={"X-CSRFToken": token, "Origin": base, "Referer": f"{base}/"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return session


def spa_write_headers(session: requests.Session, base: str) -> dict[str, str]:
    """The headers of a write after signing in: the current CSRF token, Origin and Referer."""
    return {"X-CSRFToken": session.cookies["csrftoken"], "Origin": base, "Referer": f"{base}/"}
