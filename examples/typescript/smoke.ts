// A smoke flow of the TypeScript client generated from a running server's /v1/openapi.json
// (openapi-typescript types + openapi-fetch): create an affiliate, track a click, convert,
// list commissions, approve one, read the affiliate's stats, and verify a webhook delivery
// with the `standardwebhooks` package.
//
// Every answer is also checked against the schema the document gives for its operation and
// status (Ajv, JSON Schema 2020-12, which OpenAPI 3.1 uses), and so is the webhook payload:
// the flow fails when the document and the server disagree.
//
//   REFGROW_URL=http://127.0.0.1:8080 REFGROW_API_KEY=rg_... npm run smoke
//
// scripts/gen-clients generates the client, builds this file and runs it against a server of
// its own.
import http from "node:http";
import type { AddressInfo } from "node:net";

import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import createClient, { type Middleware } from "openapi-fetch";
import { Webhook } from "standardwebhooks";

import type { components, paths } from "./generated/api.js";

const base = process.env.REFGROW_URL ?? "http://127.0.0.1:8080";
const apiKey = process.env.REFGROW_API_KEY;
if (!apiKey) throw new Error("set REFGROW_API_KEY");

function check(ok: unknown, what: string): asserts ok {
  if (!ok) throw new Error(`smoke: ${what}`);
}

// --- The served document, to check every answer against ----------------------------------
type Json = Record<string, unknown>;
const docResponse = await fetch(`${base}/v1/openapi.json`);
check(docResponse.ok, `GET /v1/openapi.json answered ${docResponse.status}`);
const doc = (await docResponse.json()) as Json;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
for (const format of ["int32", "int64", "float", "double"]) ajv.addFormat(format, true);
const DOC_ID = "urn:refgrow:openapi";
ajv.addSchema({ $id: DOC_ID, components: doc.components, paths: doc.paths, webhooks: doc.webhooks });

const pointer = (...parts: string[]) =>
  parts.map((p) => "/" + p.replaceAll("~", "~0").replaceAll("/", "~1")).join("");

const validators = new Map<string, ReturnType<typeof ajv.compile>>();

/** Validates `value` against the schema at `#<ptr>` of the document. */
function conforms(value: unknown, ptr: string, what: string) {
  let validate = validators.get(ptr);
  if (!validate) {
    validate = ajv.compile({ $ref: `${DOC_ID}#${ptr}` });
    validators.set(ptr, validate);
  }
  if (!validate(value)) {
    throw new Error(
      `smoke: ${what} does not match the document (${ptr}): ` +
        JSON.stringify(validate.errors?.slice(0, 5), null, 1) +
        "\n" +
        JSON.stringify(value).slice(0, 2000),
    );
  }
}

/** Fails the call when the answer's status or body is not what the document says. */
const matchesDocument: Middleware = {
  async onResponse({ request, response, schemaPath }) {
    const method = request.method.toLowerCase();
    const what = `${request.method} ${schemaPath} -> ${response.status}`;
    const op = ((doc.paths as Json)[schemaPath] as Json | undefined)?.[method] as Json | undefined;
    check(op, `${what}: the operation is not in the document`);
    const responses = op.responses as Json;
    check(String(response.status) in responses, `${what}: the status is not documented`);
    const content = (responses[String(response.status)] as Json).content as Json | undefined;
    const type = response.headers.get("content-type") ?? "";
    if (content && "application/json" in content && response.status !== 204) {
      check(type.startsWith("application/json"), `${what}: content-type ${type}`);
      const body: unknown = await response.clone().json();
      conforms(
        body,
        pointer("paths", schemaPath, method, "responses", String(response.status), "content") +
          "/application~1json/schema",
        what,
      );
    }
    check(response.headers.get("x-request-id"), `${what}: no X-Request-Id`);
    return response;
  },
};

const client = createClient<paths>({
  baseUrl: base,
  headers: { Authorization: `Bearer ${apiKey}` },
});
client.use(matchesDocument);

/** The `data` of a success, or a failure with the error envelope. */
function data<T>(r: { data?: { data: T }; error?: unknown; response: Response }, what: string): T {
  if (r.data === undefined) {
    throw new Error(`smoke: ${what} failed: ${r.response.status} ${JSON.stringify(r.error)}`);
  }
  return r.data.data;
}

// --- A webhook receiver -------------------------------------------------------------------
type Delivery = { headers: Record<string, string>; body: string };
const deliveries: Delivery[] = [];
const receiver = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
    deliveries.push({ headers, body: Buffer.concat(chunks).toString("utf8") });
    res.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/refgrow`;

try {
  const run = Date.now().toString(36);

  // The program: a 20% commission, referral links landing on example.com.
  data(
    await client.PATCH("/v1/program", {
      body: { websiteUrl: "https://example.com", commission: { type: "percentage", rate: 20 } },
    }),
    "updateProgram",
  );

  const endpoint = data(
    await client.POST("/v1/webhook-endpoints", {
      body: { url: hookUrl, events: ["conversion.created"], description: "TypeScript smoke" },
    }),
    "createWebhookEndpoint",
  ).webhookEndpoint;
  check(endpoint.secret?.startsWith("whsec_"), "the endpoint's secret is shown at creation");

  // An affiliate, created with an Idempotency-Key: the retry answers 200 with the same one.
  const createAffiliate = () =>
    client.POST("/v1/affiliates", {
      params: { header: { "Idempotency-Key": `ts-smoke-${run}` } },
      body: { email: `ts-${run}@example.com`, name: "TypeScript Smoke", referralCode: `TS${run}` },
    });
  const first = await createAffiliate();
  const affiliate = data(first, "createAffiliate").affiliate;
  check(first.response.status === 201, `createAffiliate answered ${first.response.status}`);
  const replay = await createAffiliate();
  check(replay.response.status === 200, "a replay answers 200");
  check(replay.response.headers.get("idempotent-replayed") === "true", "Idempotent-Replayed");
  check(data(replay, "replay").affiliate.id === affiliate.id, "a replay gives the same affiliate");

  const click = data(
    await client.POST("/v1/referrals/track", {
      body: { referralCode: affiliate.referralCode, landingUrl: "https://example.com/pricing" },
    }),
    "trackClick",
  );
  check(click.affiliateId === affiliate.id, "the click is the affiliate's");

  const conversion = data(
    await client.POST("/v1/referrals/convert", {
      body: { clickId: click.clickId, amount: 99.99, orderId: `ts-order-${run}` },
    }),
    "createConversion",
  );
  check(conversion.affiliateId === affiliate.id, "the sale is the affiliate's");
  check(conversion.commission === 20, `20% of 99.99 is 20.00, not ${conversion.commission}`);

  const listed = data(
    await client.GET("/v1/commissions", {
      params: { query: { affiliateId: affiliate.id, status: "pending", limit: 10 } },
    }),
    "listCommissions",
  );
  check(listed.total === 1 && listed.commissions.length === 1, "one pending commission");
  const commission = listed.commissions[0]!;

  const approved = data(
    await client.PUT("/v1/commissions/{id}/status", {
      params: { path: { id: commission.id } },
      body: { status: "approved" },
    }),
    "setCommissionStatus",
  ).commission;
  check(approved.status === "approved", "the commission is approved");

  const stats = data(
    await client.GET("/v1/affiliates/{id}/stats", {
      params: { path: { id: affiliate.id }, query: { interval: "day" } },
    }),
    "getAffiliateStats",
  );
  check(stats.totals.clicks === 1 && stats.totals.conversions === 1, "stats count the sale");
  const usd = stats.totals.money.find((m) => m.currency === "USD");
  check(usd?.earnings.approved === 20, "stats show the approved 20.00");

  // The webhook: verified with the Standard Webhooks library, then checked against the
  // document's `webhooks` entry for its type.
  const deadline = Date.now() + 30_000;
  while (deliveries.length === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const delivery = deliveries[0];
  check(delivery, "no webhook delivery within 30 s");
  const payload = new Webhook(endpoint.secret!).verify(delivery.body, delivery.headers) as Json;
  check(payload.type === "conversion.created", `webhook type ${String(payload.type)}`);
  conforms(
    payload,
    pointer("webhooks", "conversion.created", "post", "requestBody", "content") +
      "/application~1json/schema",
    "the conversion.created delivery",
  );
  const event = payload as unknown as components["schemas"]["ConversionCreatedEvent"];
  check(event.data.conversion.conversionId === conversion.conversionId, "the delivered sale");
  check(delivery.headers["webhook-id"]?.startsWith("evt_"), "webhook-id is the event id");
  let forged = false;
  try {
    new Webhook(endpoint.secret!).verify(delivery.body.replace("99.99", "9999"), delivery.headers);
  } catch {
    forged = true;
  }
  check(forged, "a changed body must not verify");

  console.log("typescript smoke: ok");
} finally {
  receiver.close();
}
