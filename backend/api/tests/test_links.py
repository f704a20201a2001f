"""Signed study links (links.py): what is signed, and every way a link is refused."""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import pytest

from backend.api import links

NAMES = ["PROLIFIC_PID", "STUDY_ID", "SESSION_ID"]
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def signed(params, **options):
    return dict(parse_qsl(links.signed_query("k3y", params, NAMES, **options)))


def test_the_message_is_the_study_s_parameters_sorted_and_percent_encoded():
    params = {"STUDY_ID": "s 1", "PROLIFIC_PID": "a/b", "utm_source": "mail", "expires": "1800000000"}
    assert links.message(params, NAMES) == "PROLIFIC_PID=a%2Fb&STUDY_ID=s%201&expires=1800000000"


def test_the_signature_is_hmac_sha256_of_the_message_in_hex():
    params = {"PROLIFIC_PID": "p1", "STUDY_ID": "s1"}
    expected = hmac.new(b"k3y", b"PROLIFIC_PID=p1&STUDY_ID=s1", hashlib.sha256).hexdigest()
    assert links.signature("k3y", params, NAMES) == expected == signed(params)["sig"]


def test_a_signed_link_passes_and_so_does_one_with_unsigned_extras():
    params = signed({"PROLIFIC_PID": "p1", "SESSION_ID": "x"})
    links.verify("k3y", params, NAMES, now=NOW)
    links.verify("k3y", {**params, "utm_source": "mail"}, NAMES, now=NOW)  # never read, never stored


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda p: p.pop("sig"), "unsigned_link"),
        (lambda p: p.update(PROLIFIC_PID="p2"), "tampered_link"),
        (lambda p: p.pop("SESSION_ID"), "tampered_link"),
        (lambda p: p.update(STUDY_ID="another"), "tampered_link"),
        (lambda p: p.update(sig="0" * 64), "tampered_link"),
        (lambda p: p.update(sig="not hex at all"), "tampered_link"),
    ],
)
def test_a_link_changed_after_it_was_signed_is_refused(change, code):
    params = signed({"PROLIFIC_PID": "p1", "SESSION_ID": "x"})
    change(params)
    with pytest.raises(links.LinkRefused) as refused:
        links.verify("k3y", params, NAMES, now=NOW)
    assert refused.value.code == code


def test_another_study_s_secret_does_not_sign_this_one_s_links():
    with pytest.raises(links.LinkRefused):
        links.verify("other", signed({"PROLIFIC_PID": "p1"}), NAMES, now=NOW)


def test_a_link_is_refused_after_it_expires_and_its_expiry_cannot_be_moved():
    params = signed({"PROLIFIC_PID": "p1"}, expires=NOW + timedelta(hours=1))
    links.verify("k3y", params, NAMES, now=NOW)
    with pytest.raises(links.LinkRefused) as late:
        links.verify("k3y", params, NAMES, now=NOW + timedelta(hours=2))
    assert late.value.code == "link_expired"
    moved = {**params, "expires": str(int((NOW + timedelta(days=9)).timestamp()))}
    with pytest.raises(links.LinkRefused) as refused:
        links.verify("k3y", moved, NAMES, now=NOW + timedelta(hours=2))
    assert refused.value.code == "tampered_link"
