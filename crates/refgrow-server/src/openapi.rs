//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of the API.
//!
//! Every request and response body schema is derived (utoipa `ToSchema`) from the very types
//! in `refgrow-types` that the handlers deserialize and serialize, so a body cannot drift from
//! its schema. The operations are declared once, in [`operations`]; the test
//! `openapi::every_registered_route_is_documented` reads the route registrations of
//! `routes/*.rs` and fails when one is missing here. Every operation documents the error
//! envelope for each error status it can return, and bearer authentication.
//!
//! `components/schemas` is not a list kept by hand: every typed body is a `$ref` made by
//! [`collect::schema_ref`], which records the type and everything it refers to while
//! [`build`] runs ([`collect`]). The headers ([`headers`]) and the webhook events
//! ([`webhooks`], OpenAPI 3.1 `webhooks`) are added to the built document, and the tests
//! check that no `$ref` points at nothing ([`refs`]).

pub mod collect;
pub mod headers;
pub mod refs;
pub mod webhooks;

use std::sync::OnceLock;

use refgrow_types::api as dto;
use refgrow_types::error::ErrorEnvelope;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required, ResponseBuilder, Schema,
};
use utoipa::ToSchema;

/// How an operation answers when it succeeds.
pub enum Answer {
    /// JSON `{"success": true, "data": <schema>}`.
    Json(Box<RefOr<Schema>>),
    /// Another content type with a free-form body (CSV, Prometheus text).
    Other(&'static str),
    /// No body (a redirect).
    Empty,
}

/// A query parameter.
pub struct Query {
    name: &'static str,
    schema: RefOr<Schema>,
    description: &'static str,
}

/// One documented operation.
pub struct Op {
    /// HTTP method.
    pub method: HttpMethod,
    /// Full path, with `{param}` segments.
    pub path: &'static str,
    /// `operationId`.
    pub id: &'static str,
    /// Group.
    pub tag: &'static str,
    /// One line.
    pub summary: &'static str,
    /// The JSON request body, if any (`required` when the second field is true).
    pub body: Option<(RefOr<Schema>, bool)>,
    /// Success status.
    pub status: u16,
    /// Success body.
    pub answer: Answer,
    /// Query parameters.
    pub query: Vec<Query>,
    /// Whether the API key is required.
    pub auth: bool,
    /// Another success status with the same body.
    pub also: Option<u16>,
    /// An example of the request body.
    pub example: Option<serde_json::Value>,
    /// Whether it takes an `Idempotency-Key` (a replay answers 200).
    pub idempotent: bool,
}

use collect::schema_ref;

fn prim(t: Type) -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(t))
            .build(),
    ))
}

fn int_range(min: i64, max: Option<i64>) -> RefOr<Schema> {
    let mut b = ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Integer))
        .minimum(Some(min as f64));
    if let Some(m) = max {
        b = b.maximum(Some(m as f64));
    }
    RefOr::T(Schema::Object(b.build()))
}

fn enum_of(values: &[&str]) -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .enum_values(Some(values.iter().copied()))
            .build(),
    ))
}

fn q(name: &'static str, schema: RefOr<Schema>, description: &'static str) -> Query {
    Query {
        name,
        schema,
        description,
    }
}

/// `limit` and `offset`.
fn paging() -> Vec<Query> {
    vec![
        q(
            "limit",
            int_range(1, Some(100)),
            "Page size, 1 to 100 (default 20)",
        ),
        q("offset", int_range(0, None), "Items to skip (default 0)"),
    ]
}

fn time_range() -> Vec<Query> {
    vec![
        q(
            "from",
            prim(Type::String),
            "From (inclusive): RFC 3339 timestamp or YYYY-MM-DD",
        ),
        q(
            "to",
            prim(Type::String),
            "To (exclusive): RFC 3339 timestamp or YYYY-MM-DD",
        ),
    ]
}

fn with(mut a: Vec<Query>, b: Vec<Query>) -> Vec<Query> {
    a.extend(b);
    a
}

fn json<T: ToSchema>() -> Answer {
    Answer::Json(Box::new(schema_ref::<T>()))
}

fn body<T: ToSchema>() -> Option<(RefOr<Schema>, bool)> {
    Some((schema_ref::<T>(), true))
}

/// Any of several schemas (a path that takes or answers a seed API's shape too). `anyOf`, not
/// `oneOf`: a small native body can also read as the seed's shape.
fn one_of(schemas: Vec<RefOr<Schema>>) -> RefOr<Schema> {
    let mut b = utoipa::openapi::schema::AnyOfBuilder::new();
    for s in schemas {
        b = b.item(s);
    }
    RefOr::T(Schema::AnyOf(b.build()))
}

fn optional_body<T: ToSchema>() -> Option<(RefOr<Schema>, bool)> {
    Some((schema_ref::<T>(), false))
}

fn op(
    method: HttpMethod,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
) -> Op {
    Op {
        method,
        path,
        id,
        tag,
        summary,
        body: None,
        status: 200,
        answer: Answer::Other("application/json"),
        query: Vec::new(),
        auth: path.starts_with("/v1/"),
        also: None,
        example: None,
        idempotent: false,
    }
}

impl Op {
    fn ok(mut self, status: u16, answer: Answer) -> Op {
        self.status = status;
        self.answer = answer;
        self
    }
    fn body(mut self, b: Option<(RefOr<Schema>, bool)>) -> Op {
        self.body = b;
        self
    }
    fn query(mut self, q: Vec<Query>) -> Op {
        self.query = q;
        self
    }
    fn also(mut self, status: u16) -> Op {
        self.also = Some(status);
        self
    }
    fn public(mut self) -> Op {
        self.auth = false;
        self
    }
    /// Needs the API key (paths outside `/v1` are public unless marked).
    fn authed(mut self) -> Op {
        self.auth = true;
        self
    }
    /// An example of the request body (checked against its schema by the linter).
    fn example(mut self, example: serde_json::Value) -> Op {
        self.example = Some(example);
        self
    }
    /// Takes an `Idempotency-Key`; a replay answers 200 with the saved body.
    fn idempotent(mut self) -> Op {
        self.idempotent = true;
        self
    }
}

/// Every operation of the API.
pub fn operations() -> Vec<Op> {
    use HttpMethod::{Delete, Get, Patch, Post, Put};
    let status_q =
        |values: &'static [&'static str]| q("status", enum_of(values), "Only this status");
    vec![
        op(
            Get,
            "/healthz",
            "healthz",
            "operations",
            "The process is up",
        )
        .public(),
        op(
            Get,
            "/readyz",
            "readyz",
            "operations",
            "The database answers",
        )
        .public(),
        op(
            Get,
            "/metrics",
            "metrics",
            "operations",
            "Prometheus metrics (send `Authorization: Bearer <REFGROW_METRICS_TOKEN>` when the server sets one)",
        )
        .ok(200, Answer::Other("text/plain"))
        .public(),
        op(
            Get,
            "/v1/openapi.json",
            "openapi",
            "operations",
            "This document",
        )
        .public(),
        op(
            Get,
            "/r/{code}",
            "redirect",
            "tracking",
            "Public referral link: records the click and redirects (302) to the website",
        )
        .ok(302, Answer::Empty)
        .query(vec![q(
            "to",
            prim(Type::String),
            "A path on the program's website",
        )])
        .public(),
        // Program.
        op(
            Get,
            "/v1/program",
            "getProgram",
            "program",
            "The program of the key",
        )
        .ok(200, json::<dto::ProgramResponse>()),
        op(
            Patch,
            "/v1/program",
            "updateProgram",
            "program",
            "Change settings and the commission rule",
        )
        .body(body::<dto::UpdateProgram>())
        .example(serde_json::json!({"websiteUrl": "https://example.com", "cookieDays": 60, "holdDays": 30, "minPayout": 50, "commission": {"type": "percentage", "rate": 20}}))
        .ok(200, json::<dto::ProgramResponse>()),
        // Keys and audit.
        op(
            Post,
            "/v1/api-keys",
            "createApiKey",
            "keys",
            "Create a key (its secret is shown once: the same request replayed with its Idempotency-Key is a 409 conflict naming the key, never the secret again)",
        )
        .body(body::<dto::CreateApiKey>())
        .example(serde_json::json!({"label": "backend", "scopes": ["read", "write"]}))
        .ok(201, json::<dto::CreatedApiKey>())
        .idempotent(),
        op(
            Get,
            "/v1/api-keys",
            "listApiKeys",
            "keys",
            "The program's keys",
        )
        .ok(200, json::<dto::ApiKeyList>()),
        op(
            Delete,
            "/v1/api-keys/{id}",
            "revokeApiKey",
            "keys",
            "Revoke a key",
        )
        .ok(200, json::<dto::ApiKeyResponse>()),
        op(
            Get,
            "/v1/audit-log",
            "listAuditLog",
            "keys",
            "Every mutating call, newest first",
        )
        .query(with(
            paging(),
            with(
                vec![
                    q("keyId", prim(Type::String), "Only calls of this key"),
                    q(
                        "resourceId",
                        prim(Type::String),
                        "Only calls on this resource",
                    ),
                    q(
                        "action",
                        prim(Type::String),
                        "Only this action, e.g. 'POST /v1/affiliates'",
                    ),
                    q(
                        "method",
                        enum_of(&["POST", "PUT", "PATCH", "DELETE"]),
                        "Only this method",
                    ),
                ],
                time_range(),
            ),
        ))
        .ok(200, json::<dto::AuditLog>()),
        // Affiliates.
        op(
            Post,
            "/v1/affiliates",
            "createAffiliate",
            "affiliates",
            "Enrol an affiliate",
        )
        .body(body::<dto::CreateAffiliate>())
        .example(serde_json::json!({"email": "jane@example.com", "name": "Jane Doe", "referralCode": "JANE10"}))
        .ok(201, json::<dto::AffiliateResponse>())
        .idempotent(),
        op(
            Get,
            "/v1/affiliates",
            "listAffiliates",
            "affiliates",
            "List affiliates",
        )
        .query(with(
            paging(),
            vec![
                status_q(&["pending", "active", "suspended", "blocked"]),
                q("email", prim(Type::String), "Only this email"),
            ],
        ))
        .ok(200, json::<dto::AffiliateList>()),
        op(
            Get,
            "/v1/affiliates/by-code/{code}",
            "getAffiliateByCode",
            "affiliates",
            "An affiliate by referral code",
        )
        .ok(200, json::<dto::AffiliateResponse>()),
        op(
            Get,
            "/v1/affiliates/{id}",
            "getAffiliate",
            "affiliates",
            "An affiliate; a segment that is not an aff_ id is a referral code, answered in the store-affiliate shape (docs/compat.md)",
        )
        .ok(
            200,
            Answer::Json(Box::new(one_of(vec![
                schema_ref::<dto::AffiliateResponse>(),
                schema_ref::<dto::compat::StoreAffiliateResponse>(),
            ]))),
        ),
        op(
            Patch,
            "/v1/affiliates/{id}",
            "updateAffiliate",
            "affiliates",
            "Change, approve, suspend, block or reactivate an affiliate",
        )
        .body(body::<dto::UpdateAffiliate>())
        .example(serde_json::json!({"status": "suspended", "suspendedReason": "Spam traffic"}))
        .ok(200, json::<dto::AffiliateResponse>()),
        // Invitations.
        op(
            Post,
            "/v1/affiliates/invitations",
            "createInvitations",
            "invitations",
            "Invite up to 25 people",
        )
        .body(body::<dto::CreateInvitations>())
        .example(serde_json::json!({"emails": ["sam@example.com", "kim@example.com"], "message": "Join our partner program"}))
        .ok(201, json::<dto::InvitationBatch>()),
        op(
            Get,
            "/v1/affiliates/invitations",
            "listInvitations",
            "invitations",
            "List invitations",
        )
        .query(with(
            paging(),
            vec![status_q(&["pending", "accepted", "expired", "cancelled"])],
        ))
        .ok(200, json::<dto::InvitationList>()),
        op(
            Get,
            "/v1/affiliates/invitations/{id}",
            "getInvitation",
            "invitations",
            "An invitation",
        )
        .ok(200, json::<dto::InvitationResponse>()),
        op(
            Delete,
            "/v1/affiliates/invitations/{id}",
            "cancelInvitation",
            "invitations",
            "Cancel a pending invitation",
        )
        .ok(200, json::<dto::InvitationResponse>()),
        op(
            Post,
            "/v1/invitations/{token}/accept",
            "acceptInvitation",
            "invitations",
            "Join by invitation (the token is the credential)",
        )
        .body(body::<dto::AcceptInvitation>())
        .ok(201, json::<dto::AffiliateResponse>())
        .public(),
        // Embedded dashboard.
        op(
            Post,
            "/v1/embed-tokens",
            "createEmbedToken",
            "embed",
            "A short-lived token for one affiliate's embedded referral dashboard (finds or enrols the affiliate by email; idempotent on tenantId)",
        )
        .body(body::<dto::CreateEmbedToken>())
        .example(serde_json::json!({"email": "jane@example.com", "name": "Jane Doe", "tenantId": "user_42"}))
        .ok(201, json::<dto::EmbedToken>()),
        // Tracking.
        op(
            Post,
            "/v1/referrals/track",
            "trackClick",
            "tracking",
            "Record a click",
        )
        .body(body::<dto::TrackClick>())
        .example(serde_json::json!({"referralCode": "JANE10", "landingUrl": "https://example.com/pricing"}))
        .ok(201, json::<dto::Click>()),
        op(
            Post,
            "/v1/customers",
            "createCustomer",
            "tracking",
            "Bind a signup to its affiliate (also Partnero's body, told apart by 'partner')",
        )
        .body(Some((
            one_of(vec![
                schema_ref::<dto::CreateCustomer>(),
                schema_ref::<dto::compat::PartneroCustomer>(),
            ]),
            true,
        )))
        .example(serde_json::json!({"key": "user_1042", "email": "buyer@example.com", "referralCode": "JANE10"}))
        .ok(
            201,
            Answer::Json(Box::new(one_of(vec![
                schema_ref::<dto::CustomerResponse>(),
                schema_ref::<dto::IgnoredSignup>(),
                schema_ref::<dto::compat::PartneroCustomerResponse>(),
            ]))),
        )
        .also(200)
        .idempotent(),
        op(
            Patch,
            "/v1/customers/{key}",
            "updateCustomer",
            "tracking",
            "Change a customer's email or name (attribution stays)",
        )
        .body(body::<dto::UpdateCustomer>())
        .example(serde_json::json!({"email": "new@example.com", "name": "Sam Buyer"}))
        .ok(200, json::<dto::CustomerResponse>()),
        op(
            Get,
            "/v1/customers/{key}",
            "getCustomer",
            "tracking",
            "A customer by your key",
        )
        .ok(200, json::<dto::CustomerResponse>()),
        op(
            Delete,
            "/v1/customers/{key}",
            "deleteCustomer",
            "tracking",
            "Delete a customer",
        )
        .ok(200, json::<dto::CustomerResponse>()),
        // Sales.
        op(
            Post,
            "/v1/referrals/convert",
            "createConversion",
            "sales",
            "Record a referred sale (idempotent by orderId)",
        )
        .body(body::<dto::CreateConversion>())
        .example(serde_json::json!({"referralCode": "JANE10", "amount": 99.99, "currency": "USD", "orderId": "order-1042"}))
        .ok(201, json::<dto::Conversion>())
        .idempotent(),
        op(
            Post,
            "/v1/transactions",
            "createTransaction",
            "sales",
            "Record a payment of a customer (idempotent by key; also Partnero's body, told apart by 'customer')",
        )
        .body(Some((
            one_of(vec![
                schema_ref::<dto::CreateTransaction>(),
                schema_ref::<dto::compat::PartneroTransaction>(),
            ]),
            true,
        )))
        .example(serde_json::json!({"customerKey": "user_1042", "key": "invoice-2026-12", "amount": 49, "productId": "pro-monthly"}))
        .ok(
            201,
            Answer::Json(Box::new(one_of(vec![
                schema_ref::<dto::TransactionResult>(),
                schema_ref::<dto::compat::PartneroTransactionResponse>(),
            ]))),
        )
        .also(200)
        .idempotent(),
        op(
            Delete,
            "/v1/transactions/{key}",
            "deleteTransaction",
            "sales",
            "Reverse a transaction wholly",
        )
        .ok(200, json::<dto::RefundResult>()),
        op(
            Get,
            "/v1/conversions",
            "listConversions",
            "sales",
            "List conversions",
        )
        .query(with(
            paging(),
            vec![q(
                "affiliateId",
                prim(Type::String),
                "Only this affiliate's",
            )],
        ))
        .ok(200, json::<dto::ConversionList>()),
        op(
            Get,
            "/v1/conversions/{id}",
            "getConversion",
            "sales",
            "A conversion",
        )
        .ok(200, json::<dto::ConversionResponse>()),
        op(
            Post,
            "/v1/conversions/{id}/refunds",
            "refundConversion",
            "sales",
            "Refund part or all of a sale",
        )
        .body(optional_body::<dto::CreateRefund>())
        .ok(201, json::<dto::RefundResult>())
        .idempotent(),
        // Commissions.
        op(
            Get,
            "/v1/commissions",
            "listCommissions",
            "commissions",
            "List commissions",
        )
        .query(with(
            paging(),
            with(
                vec![
                    q("affiliateId", prim(Type::String), "Only this affiliate's"),
                    status_q(&["pending", "approved", "paid", "rejected", "reversed"]),
                ],
                time_range(),
            ),
        ))
        .ok(200, json::<dto::CommissionList>()),
        op(
            Post,
            "/v1/commissions",
            "createCommission",
            "commissions",
            "A manual commission (amount) or a sale priced by the rule (saleAmount); idempotent by orderId",
        )
        .body(body::<dto::CreateCommission>())
        .example(serde_json::json!({"affiliateId": "aff_abc123", "saleAmount": 99.99, "orderId": "order-2026-12"}))
        .ok(201, json::<dto::CommissionResponse>())
        .idempotent(),
        op(
            Get,
            "/v1/commissions/{id}",
            "getCommission",
            "commissions",
            "A commission",
        )
        .ok(200, json::<dto::CommissionResponse>()),
        op(
            Delete,
            "/v1/commissions/{id}",
            "reverseCommission",
            "commissions",
            "Reverse a commission (a paid one leaves a clawback)",
        )
        .query(vec![q("reason", prim(Type::String), "Why")])
        .ok(200, json::<dto::ReversalResult>()),
        op(
            Put,
            "/v1/commissions/{id}/status",
            "setCommissionStatus",
            "commissions",
            "Approve, reject or mark paid",
        )
        .body(body::<dto::UpdateCommissionStatus>())
        .example(serde_json::json!({"status": "approved"}))
        .ok(200, json::<dto::CommissionResponse>()),
        // Payouts and stats.
        op(
            Post,
            "/v1/payouts",
            "createPayoutRun",
            "payouts",
            "Group approved commissions and open clawbacks into payouts (200 when nothing is due)",
        )
        .body(optional_body::<dto::CreatePayoutRun>())
        .ok(201, json::<dto::PayoutRun>())
        .also(200)
        .idempotent(),
        op(Get, "/v1/payouts", "listPayouts", "payouts", "List payouts")
            .query(with(
                paging(),
                vec![
                    status_q(&["pending", "paid"]),
                    q("affiliateId", prim(Type::String), "Only this affiliate's"),
                ],
            ))
            .ok(200, json::<dto::PayoutList>()),
        op(
            Get,
            "/v1/payouts/{id}",
            "getPayout",
            "payouts",
            "A payout with its commissions",
        )
        .ok(200, json::<dto::PayoutResponse>()),
        op(
            Post,
            "/v1/payouts/{id}/paid",
            "markPayoutPaid",
            "payouts",
            "Mark a payout and its commissions paid",
        )
        .body(optional_body::<dto::MarkPayoutPaid>())
        .ok(200, json::<dto::PayoutResponse>())
        .idempotent(),
        op(
            Get,
            "/v1/payouts/{id}/export.csv",
            "exportPayout",
            "payouts",
            "A payout as a PayPal or Wise mass-payment CSV",
        )
        .query(vec![q(
            "format",
            enum_of(&["paypal", "wise"]),
            "File format (default paypal)",
        )])
        .ok(200, Answer::Other("text/csv")),
        op(
            Get,
            "/v1/payouts/export.csv",
            "exportPayouts",
            "payouts",
            "Payouts as a PayPal or Wise mass-payment CSV",
        )
        .query(vec![
            q(
                "format",
                enum_of(&["paypal", "wise"]),
                "File format (default paypal)",
            ),
            status_q(&["pending", "paid"]),
        ])
        .ok(200, Answer::Other("text/csv")),
        op(
            Get,
            "/v1/affiliates/{id}/stats",
            "getAffiliateStats",
            "stats",
            "An affiliate's totals and time series",
        )
        .query(with(
            time_range(),
            vec![q(
                "interval",
                enum_of(&["day", "week", "month"]),
                "Bucket size (default day)",
            )],
        ))
        .ok(200, json::<dto::AffiliateStats>()),
        op(
            Get,
            "/v1/reports/summary",
            "getProgramSummary",
            "stats",
            "The program's totals, time series and top affiliates",
        )
        .query(with(
            time_range(),
            vec![q(
                "interval",
                enum_of(&["day", "week", "month"]),
                "Bucket size (default day)",
            )],
        ))
        .ok(200, json::<dto::ProgramSummary>()),
        op(
            Get,
            "/v1/reports/reconcile",
            "getReconcileReport",
            "stats",
            "The ledger invariants checked against the stored rows (ok and every difference)",
        )
        .ok(200, json::<dto::ReconcileReport>()),
        // Webhooks and events.
        op(
            Post,
            "/v1/webhook-endpoints",
            "createWebhookEndpoint",
            "webhooks",
            "Register an endpoint (its secret is shown once)",
        )
        .body(body::<dto::CreateWebhookEndpoint>())
        .example(serde_json::json!({"url": "https://example.com/hooks/refgrow", "events": ["conversion.created", "commission.updated"], "description": "Billing service"}))
        .ok(201, json::<dto::WebhookEndpointResponse>()),
        op(
            Get,
            "/v1/webhook-endpoints",
            "listWebhookEndpoints",
            "webhooks",
            "List endpoints",
        )
        .query(paging())
        .ok(200, json::<dto::WebhookEndpointList>()),
        op(
            Get,
            "/v1/webhook-endpoints/{id}",
            "getWebhookEndpoint",
            "webhooks",
            "An endpoint",
        )
        .ok(200, json::<dto::WebhookEndpointResponse>()),
        op(
            Patch,
            "/v1/webhook-endpoints/{id}",
            "updateWebhookEndpoint",
            "webhooks",
            "Change url, events, description or enabled",
        )
        .body(body::<dto::UpdateWebhookEndpoint>())
        .ok(200, json::<dto::WebhookEndpointResponse>()),
        op(
            Delete,
            "/v1/webhook-endpoints/{id}",
            "deleteWebhookEndpoint",
            "webhooks",
            "Delete an endpoint",
        )
        .ok(200, json::<dto::WebhookEndpointResponse>()),
        op(
            Post,
            "/v1/webhook-endpoints/{id}/rotate-secret",
            "rotateWebhookSecret",
            "webhooks",
            "New secret; the old one also signs during the grace period",
        )
        .ok(200, json::<dto::WebhookEndpointResponse>()),
        op(
            Post,
            "/v1/webhook-endpoints/{id}/test",
            "testWebhookEndpoint",
            "webhooks",
            "Queue a webhook.test event to this endpoint",
        )
        .ok(201, json::<dto::WebhookTestResult>()),
        op(
            Get,
            "/v1/webhook-endpoints/{id}/deliveries",
            "listWebhookDeliveries",
            "webhooks",
            "Deliveries to an endpoint",
        )
        .query(with(
            paging(),
            vec![status_q(&["pending", "retrying", "delivered", "failed"])],
        ))
        .ok(200, json::<dto::WebhookDeliveryList>()),
        op(
            Post,
            "/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/retry",
            "retryWebhookDelivery",
            "webhooks",
            "Send a delivery again now",
        )
        .ok(200, json::<dto::WebhookDeliveryResponse>()),
        op(
            Get,
            "/v1/events",
            "listEvents",
            "webhooks",
            "The event log, newest first",
        )
        .query(with(
            with(
                paging(),
                vec![q("type", prim(Type::String), "Only this event type")],
            ),
            time_range(),
        ))
        .ok(200, json::<dto::EventList>()),
        op(Get, "/v1/events/{id}", "getEvent", "webhooks", "An event")
            .ok(200, json::<dto::EventResponse>()),
        // Compatibility with the seed APIs (docs/compat.md).
        op(
            Post,
            "/v1/conversions",
            "linkjoltCreateConversion",
            "compat",
            "LinkJolt: record a referred sale by tracking code (idempotent by order_id)",
        )
        .body(body::<dto::compat::LinkjoltConversion>())
        .example(serde_json::json!({"tracking_code": "tc_ABC123", "order_value": 99.99, "order_id": "order_12345", "customer_email": "customer@example.com"}))
        .ok(201, json::<dto::compat::LinkjoltConversionData>())
        .idempotent(),
        op(
            Delete,
            "/v1/transactions",
            "partneroDeleteTransaction",
            "compat",
            "Partnero: reverse a transaction by the key in the body (an unknown key is acknowledged)",
        )
        .body(body::<dto::compat::PartneroKey>())
        .example(serde_json::json!({"key": "transaction_123"}))
        .ok(200, json::<dto::compat::PartneroTransactionResponse>()),
        op(
            Delete,
            "/v1/customers",
            "partneroDeleteCustomer",
            "compat",
            "Partnero: delete a customer by the key in the body (an unknown key is acknowledged)",
        )
        .body(body::<dto::compat::PartneroKey>())
        .example(serde_json::json!({"key": "CUSTOMER_KEY"}))
        .ok(200, json::<dto::compat::PartneroCustomerResponse>()),
        op(
            Post,
            "/api/partners",
            "guideCreatePartner",
            "compat",
            "Integration guide: POST /v1/affiliates",
        )
        .body(body::<dto::CreateAffiliate>())
        .example(serde_json::json!({"email": "jane@example.com", "name": "Jane Doe", "customFields": {"userId": "u_1042"}}))
        .ok(201, json::<dto::AffiliateResponse>())
        .idempotent()
        .authed(),
        op(
            Get,
            "/api/partners/{id}/stats",
            "guidePartnerStats",
            "compat",
            "Integration guide: GET /v1/affiliates/{id}/stats",
        )
        .query(with(
            time_range(),
            vec![q(
                "interval",
                enum_of(&["day", "week", "month"]),
                "Bucket size (default day)",
            )],
        ))
        .ok(200, json::<dto::AffiliateStats>())
        .authed(),
        op(
            Post,
            "/api/customers",
            "guideCreateCustomer",
            "compat",
            "Integration guide: POST /v1/customers",
        )
        .body(body::<dto::CreateCustomer>())
        .example(serde_json::json!({"key": "user_1042", "email": "buyer@example.com", "affiliateId": "aff_abc123"}))
        .ok(201, json::<dto::CustomerResponse>())
        .also(200)
        .idempotent()
        .authed(),
        op(
            Post,
            "/api/commissions",
            "guideCreateCommission",
            "compat",
            "Integration guide: a sale of an affiliate (amount is the SALE amount); POST /v1/commissions with saleAmount",
        )
        .body(body::<dto::compat::GuideCommission>())
        .example(serde_json::json!({"affiliateId": "aff_abc123", "amount": 99.99, "orderId": "order_123456"}))
        .ok(201, json::<dto::CommissionResponse>())
        .idempotent()
        .authed(),
        op(
            Delete,
            "/api/commissions/{id}",
            "guideReverseCommission",
            "compat",
            "Integration guide: DELETE /v1/commissions/{id}",
        )
        .query(vec![q("reason", prim(Type::String), "Why")])
        .ok(200, json::<dto::ReversalResult>())
        .authed(),
        // Stripe.
        op(
            Post,
            "/v1/integrations/stripe/{program_id}/webhook",
            "stripeWebhook",
            "stripe",
            "Stripe events, signed with the program's Stripe secret",
        )
        .body(Some((prim(Type::Object), true)))
        .ok(200, Answer::Json(Box::new(prim(Type::Object))))
        .public(),
    ]
}

/// The error statuses every operation documents.
const ERROR_STATUSES: &[(u16, &str)] = &[
    (
        400,
        "invalid_request: a field is malformed, missing, of the wrong type or out of range",
    ),
    (
        401,
        "authentication_error: no key, an unknown key or a revoked key",
    ),
    (403, "permission_denied: a read-only key writing"),
    (404, "resource_not_found: no such resource in this program"),
    (
        409,
        "conflict: a duplicate, an idempotent replay with another body, an illegal transition",
    ),
    (413, "payload_too_large: the body is over the limit"),
    (
        429,
        "rate_limit_exceeded: over the key's rate; see Retry-After",
    ),
    (
        503,
        "service_unavailable: the database is not reachable right now",
    ),
];

/// `{"success": true, "data": <data>}`; named `<Data>Envelope` when `data` is a named schema,
/// so generators make one type of it however many operations answer it.
fn envelope(data: RefOr<Schema>) -> RefOr<Schema> {
    let name = match &data {
        RefOr::Ref(r) => r
            .ref_location
            .rsplit('/')
            .next()
            .map(|n| format!("{n}Envelope")),
        RefOr::T(_) => None,
    };
    let schema = RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Object))
            .description(Some("The success envelope"))
            .property("success", prim(Type::Boolean))
            .property("data", data)
            .required("success")
            .required("data")
            .build(),
    ));
    match name {
        Some(name) => {
            collect::record_named(&name, schema);
            RefOr::Ref(Ref::from_schema_name(name))
        }
        None => schema,
    }
}

fn path_params(path: &str) -> Vec<utoipa::openapi::path::Parameter> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(prim(Type::String)))
                .build()
        })
        .collect()
}

/// The groups of operations, in the order they are shown (a test checks that every
/// operation's tag is here: the linter wants each described).
const TAGS: &[(&str, &str)] = &[
    (
        "program",
        "The program of the API key: settings and the commission rule",
    ),
    ("keys", "API keys and the audit log of every mutating call"),
    ("affiliates", "The people who refer customers"),
    ("invitations", "Inviting affiliates by email"),
    (
        "embed",
        "The embeddable referral dashboard: tokens that open one affiliate's dashboard",
    ),
    ("tracking", "Referral links, clicks and customers"),
    ("sales", "Conversions, transactions and refunds"),
    ("commissions", "What affiliates earn, and its approval"),
    ("payouts", "Paying affiliates what they earned"),
    ("stats", "Totals and time series"),
    (
        "webhooks",
        "Webhook endpoints, deliveries and the event log",
    ),
    ("stripe", "The Stripe integration"),
    (
        "compat",
        "The seed APIs' calls accepted as they are written (docs/compat.md)",
    ),
    ("operations", "Health, metrics and this document"),
];

/// The method as under a path item.
fn method_name(m: &HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "get",
        HttpMethod::Post => "post",
        HttpMethod::Put => "put",
        HttpMethod::Patch => "patch",
        HttpMethod::Delete => "delete",
        HttpMethod::Head => "head",
        HttpMethod::Options => "options",
        HttpMethod::Trace => "trace",
    }
}

/// The whole document: the operations, their named schemas, headers and webhooks.
pub fn build() -> serde_json::Value {
    let ((api, decorations, (hooks, hook_schemas)), named) = collect::collecting(|| {
        let (api, decorations) = build_paths();
        (api, decorations, webhooks::webhooks())
    });
    let mut doc = serde_json::to_value(&api).unwrap_or_default();
    let mut schemas = match doc["components"]["schemas"].take() {
        serde_json::Value::Object(listed) => listed,
        _ => serde_json::Map::new(),
    };
    for (name, schema) in named {
        schemas.insert(name, serde_json::to_value(&schema).unwrap_or_default());
    }
    schemas.extend(hook_schemas);
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        headers::decorate(paths, &decorations);
    }
    let mut parameters = headers::parameters();
    if let (Some(all), Some(hook)) = (
        parameters.as_object_mut(),
        webhooks::header_parameters().as_object(),
    ) {
        all.extend(hook.clone());
    }
    doc["components"]["schemas"] = serde_json::Value::Object(schemas);
    doc["components"]["parameters"] = parameters;
    doc["components"]["headers"] = headers::headers();
    doc["webhooks"] = hooks;
    doc["tags"] = TAGS
        .iter()
        .map(|(name, description)| serde_json::json!({"name": name, "description": description}))
        .collect();
    // Relative: the server that serves this document (paths begin with /v1).
    doc["servers"] = serde_json::json!([{"url": "/", "description": "This server"}]);
    doc["info"]["license"] = serde_json::json!({"name": "Apache-2.0", "identifier": "Apache-2.0"});
    doc
}

fn build_paths() -> (OpenApi, Vec<headers::OpHeaders>) {
    let mut paths = PathsBuilder::new();
    let mut decorations = Vec::new();
    for o in operations() {
        decorations.push(headers::OpHeaders {
            path: o.path,
            method: method_name(&o.method),
            auth: o.auth,
            idempotent: o.idempotent,
        });
        let mut b = OperationBuilder::new()
            .operation_id(Some(o.id))
            .tag(o.tag)
            .summary(Some(o.summary));
        for p in path_params(o.path) {
            b = b.parameter(p);
        }
        for qp in o.query {
            b = b.parameter(
                ParameterBuilder::new()
                    .name(qp.name)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(qp.description))
                    .schema(Some(qp.schema))
                    .build(),
            );
        }
        if let Some((schema, required)) = o.body {
            b = b.request_body(Some(
                RequestBodyBuilder::new()
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(schema))
                            .example(o.example)
                            .build(),
                    )
                    .required(Some(if required {
                        Required::True
                    } else {
                        Required::False
                    }))
                    .build(),
            ));
        }
        let ok = match o.answer {
            Answer::Json(s) => ResponseBuilder::new().description("Success").content(
                "application/json",
                ContentBuilder::new().schema(Some(envelope(*s))).build(),
            ),
            Answer::Other(ct) => ResponseBuilder::new()
                .description("Success")
                .content(ct, ContentBuilder::new().build()),
            Answer::Empty => ResponseBuilder::new().description("Success, no body"),
        };
        let ok = ok.build();
        let also = match o.also {
            Some(also) => Some(also),
            // A replay of an idempotent write answers 200 with the saved body.
            None if o.idempotent && o.status != 200 => Some(200),
            None => None,
        };
        if let Some(also) = also {
            b = b.response(also.to_string(), ok.clone());
        }
        b = b.response(o.status.to_string(), ok);
        for (status, text) in ERROR_STATUSES {
            if !o.auth && matches!(status, 401 | 403 | 429) {
                continue;
            }
            b = b.response(
                status.to_string(),
                ResponseBuilder::new()
                    .description(*text)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(schema_ref::<ErrorEnvelope>()))
                            .build(),
                    )
                    .build(),
            );
        }
        if o.auth {
            b = b.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
        } else {
            b = b.securities(Some(Vec::<SecurityRequirement>::new()));
        }
        paths = paths.path(o.path, PathItem::new(o.method, b.build()));
    }
    let components = ComponentsBuilder::new()
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key: Authorization: Bearer rg_…"))
                    .build(),
            ),
        )
        // Schemas: collected from the operations while they are built (see `collect`).
        .build();
    let api = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Refgrow API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Self-hosted, API-first affiliate and referral platform. See README.md.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build();
    (api, decorations)
}

/// The document, built once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_string(&build()).unwrap_or_else(|_| "{}".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_ref_points_at_nothing() {
        let doc = build();
        let dangling = refs::dangling_refs(&doc);
        assert!(dangling.is_empty(), "dangling $refs: {dangling:#?}");
        // The check has something to check.
        assert!(refs::local_refs(&doc).len() > 100);
    }

    #[test]
    fn the_named_types_of_the_operations_are_components() {
        let doc = build();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in [
            "ErrorEnvelope",
            "ErrorCode",
            "Affiliate",
            "Commission",
            "Program",
            "Payout",
            "Customer",
            "Event",
            "Invitation",
            "WebhookEndpoint",
            "Currency",
            "Amount",
            "Email",
            "AffiliateId",
            "AffiliateCreatedEvent",
        ] {
            assert!(schemas.contains_key(name), "{name} missing");
        }
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    }

    #[test]
    fn every_operation_tag_is_described() {
        for o in operations() {
            assert!(
                TAGS.iter().any(|(name, _)| *name == o.tag),
                "{}: add the tag '{}' to TAGS",
                o.id,
                o.tag
            );
        }
    }

    #[test]
    fn building_twice_gives_the_same_document() {
        assert_eq!(build(), build());
    }

    #[test]
    fn headers_webhooks_and_examples_are_described() {
        let doc = build();
        let create = &doc["paths"]["/v1/affiliates"]["post"];
        let params: Vec<&str> = create["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["$ref"].as_str())
            .collect();
        assert!(params.contains(&"#/components/parameters/IdempotencyKey"));
        assert!(params.contains(&"#/components/parameters/RequestId"));
        assert!(create["requestBody"]["content"]["application/json"]["example"].is_object());
        assert!(create["responses"]["200"]["headers"]["Idempotent-Replayed"].is_object());
        assert!(create["responses"]["201"]["headers"]["RateLimit-Remaining"].is_object());
        assert!(create["responses"]["429"]["headers"]["Retry-After"].is_object());
        assert!(
            doc["paths"]["/healthz"]["get"]["responses"]["200"]["headers"]["X-Request-Id"]
                .is_object()
        );
        let hook = &doc["webhooks"]["conversion.created"]["post"];
        assert_eq!(
            hook["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ConversionCreatedEvent"
        );
    }
}
