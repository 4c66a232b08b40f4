"""A smoke flow of the Python client generated from a running server's /v1/openapi.json
(openapi-python-client): create an affiliate, track a click, convert, list commissions,
approve one, read the affiliate's stats, and verify a webhook delivery with the
`standardwebhooks` package.

The generated client raises on any status the document does not list and parses every
answer into its models; every answer is also checked against the schema the document gives
for its operation and status (jsonschema, JSON Schema 2020-12, which OpenAPI 3.1 uses), and
so is the webhook payload: the flow fails when the document and the server disagree.

    REFGROW_URL=http://127.0.0.1:8080 REFGROW_API_KEY=rg_... python smoke.py

The package `refgrow_client` must be importable (scripts/gen-clients generates it beside
this file, then runs this flow against a server of its own).
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from standardwebhooks import Webhook

from refgrow_client import AuthenticatedClient
from refgrow_client.api.affiliates import create_affiliate
from refgrow_client.api.commissions import list_commissions, set_commission_status
from refgrow_client.api.program import update_program
from refgrow_client.api.sales import create_conversion
from refgrow_client.api.stats import get_affiliate_stats
from refgrow_client.api.tracking import track_click
from refgrow_client.api.webhooks import create_webhook_endpoint
from refgrow_client.models import (
    CommissionRule,
    CommissionStatus,
    CreateAffiliate,
    CreateConversion,
    CreateWebhookEndpoint,
    ErrorEnvelope,
    GetAffiliateStatsInterval,
    ListCommissionsStatus,
    RuleType,
    TrackClick,
    UpdateCommissionStatus,
    UpdateProgram,
)

BASE = os.environ.get("REFGROW_URL", "http://127.0.0.1:8080")
API_KEY = os.environ.get("REFGROW_API_KEY") or sys.exit("set REFGROW_API_KEY")
DOC_ID = "urn:refgrow:openapi"


def check(ok: object, what: str) -> None:
    if not ok:
        raise AssertionError(f"smoke: {what}")


# --- The served document, to check every answer against -----------------------------------
doc = httpx.get(f"{BASE}/v1/openapi.json").raise_for_status().json()
registry = Registry().with_resource(
    DOC_ID, Resource.from_contents(doc, default_specification=DRAFT202012)
)


def pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def conforms(value: object, ptr: str, what: str) -> None:
    validator = Draft202012Validator({"$ref": f"{DOC_ID}#{ptr}"}, registry=registry)
    errors = sorted(validator.iter_errors(value), key=str)
    if errors:
        raise AssertionError(
            f"smoke: {what} does not match the document ({ptr}): "
            + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
        )


# Path templates, most literal segments first (`/by-code/{code}` before `/{id}`).
templates = sorted(
    doc["paths"],
    key=lambda t: -sum(1 for s in t.split("/") if s and not s.startswith("{")),
)


def template_regex(template: str) -> re.Pattern[str]:
    parts = ("[^/]+" if s.startswith("{") else re.escape(s) for s in template.split("/"))
    return re.compile("^" + "/".join(parts) + "$")


patterns = [(t, template_regex(t)) for t in templates]


def matches_document(response: httpx.Response) -> None:
    """httpx response hook: the status and the body are what the document says."""
    request = response.request
    method = request.method.lower()
    path = request.url.path
    what = f"{request.method} {path} -> {response.status_code}"
    template = next((t for t, p in patterns if p.match(path) and method in doc["paths"][t]), None)
    check(template, f"{what}: the operation is not in the document")
    responses = doc["paths"][template][method]["responses"]
    status = str(response.status_code)
    check(status in responses, f"{what}: the status is not documented")
    content = responses[status].get("content") or {}
    if "application/json" in content:
        response.read()
        ctype = response.headers.get("content-type", "")
        check(ctype.startswith("application/json"), f"{what}: content-type {ctype}")
        conforms(
            response.json(),
            pointer("paths", template, method, "responses", status, "content")
            + "/application~1json/schema",
            what,
        )
    check(response.headers.get("x-request-id"), f"{what}: no X-Request-Id")


def ok(response, what: str):
    """The parsed success body, or a failure with the error envelope."""
    parsed = response.parsed
    if parsed is None or isinstance(parsed, ErrorEnvelope):
        raise AssertionError(
            f"smoke: {what} failed: {response.status_code} {response.content[:500]!r}"
        )
    return parsed.data


# --- A webhook receiver ---------------------------------------------------------------------
deliveries: list[tuple[dict[str, str], bytes]] = []


class Receiver(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()


receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=receiver.serve_forever, daemon=True).start()
hook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks/refgrow"


def main() -> None:
    run = format(time.time_ns() // 1_000_000, "x")
    client = AuthenticatedClient(
        base_url=BASE,
        token=API_KEY,
        raise_on_unexpected_status=True,
        httpx_args={"event_hooks": {"response": [matches_document]}},
    )
    with client as c:
        # The program: a 20% commission, referral links landing on example.com.
        ok(
            update_program.sync_detailed(
                client=c,
                body=UpdateProgram(
                    website_url="https://example.com",
                    commission=CommissionRule(type_=RuleType.PERCENTAGE, rate=20),
                ),
            ),
            "updateProgram",
        )

        endpoint = ok(
            create_webhook_endpoint.sync_detailed(
                client=c,
                body=CreateWebhookEndpoint(
                    url=hook_url, events=["conversion.created"], description="Python smoke"
                ),
            ),
            "createWebhookEndpoint",
        ).webhook_endpoint
        check(str(endpoint.secret).startswith("whsec_"), "the secret is shown at creation")

        # An affiliate, created with an Idempotency-Key: the retry answers 200, same one.
        def create():
            return create_affiliate.sync_detailed(
                client=c,
                idempotency_key=f"py-smoke-{run}",
                body=CreateAffiliate(
                    email=f"py-{run}@example.com", name="Python Smoke", referral_code=f"PY{run}"
                ),
            )

        first = create()
        check(first.status_code == 201, f"createAffiliate answered {first.status_code}")
        affiliate = ok(first, "createAffiliate").affiliate
        replay = create()
        check(replay.status_code == 200, "a replay answers 200")
        check(replay.headers.get("idempotent-replayed") == "true", "Idempotent-Replayed")
        check(ok(replay, "replay").affiliate.id == affiliate.id, "the same affiliate")

        click = ok(
            track_click.sync_detailed(
                client=c,
                body=TrackClick(
                    referral_code=affiliate.referral_code,
                    landing_url="https://example.com/pricing",
                ),
            ),
            "trackClick",
        )
        check(click.affiliate_id == affiliate.id, "the click is the affiliate's")

        conversion = ok(
            create_conversion.sync_detailed(
                client=c,
                body=CreateConversion(
                    click_id=click.click_id, amount=99.99, order_id=f"py-order-{run}"
                ),
            ),
            "createConversion",
        )
        check(conversion.affiliate_id == affiliate.id, "the sale is the affiliate's")
        check(conversion.commission == 20, f"20% of 99.99 is 20.00, not {conversion.commission}")

        listed = ok(
            list_commissions.sync_detailed(
                client=c,
                affiliate_id=affiliate.id,
                status=ListCommissionsStatus.PENDING,
                limit=10,
            ),
            "listCommissions",
        )
        check(listed.total == 1 and len(listed.commissions) == 1, "one pending commission")

        approved = ok(
            set_commission_status.sync_detailed(
                id=listed.commissions[0].id,
                client=c,
                body=UpdateCommissionStatus(status=CommissionStatus.APPROVED),
            ),
            "setCommissionStatus",
        ).commission
        check(approved.status == CommissionStatus.APPROVED, "the commission is approved")

        stats = ok(
            get_affiliate_stats.sync_detailed(
                id=affiliate.id, client=c, interval=GetAffiliateStatsInterval.DAY
            ),
            "getAffiliateStats",
        )
        check(stats.totals.clicks == 1 and stats.totals.conversions == 1, "stats count the sale")
        usd = next(m for m in stats.totals.money if m.currency == "USD")
        check(usd.earnings.approved == 20, "stats show the approved 20.00")

    # The webhook: verified with the Standard Webhooks library, then checked against the
    # document's `webhooks` entry for its type.
    deadline = time.time() + 30
    while not deliveries and time.time() < deadline:
        time.sleep(0.1)
    check(deliveries, "no webhook delivery within 30 s")
    headers, body = deliveries[0]
    payload = Webhook(endpoint.secret).verify(body, headers)
    check(payload["type"] == "conversion.created", f"webhook type {payload['type']}")
    conforms(
        json.loads(body),
        pointer("webhooks", "conversion.created", "post", "requestBody", "content")
        + "/application~1json/schema",
        "the conversion.created delivery",
    )
    try:
        Webhook(endpoint.secret).verify(body.replace(b"99.99", b"9999"), headers)
        raise AssertionError("smoke: a changed body must not verify")
    except AssertionError:
        raise
    except Exception:  # noqa: BLE001 - any verification error is the expected outcome
        pass
    print("python smoke: ok")


if __name__ == "__main__":
    try:
        main()
    finally:
        receiver.shutdown()
