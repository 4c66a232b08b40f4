//! LinkJolt (`seeds/002`): `POST /v1/conversions {tracking_code, order_value, order_id,
//! customer_email}`, answered with the flat snake_case object its `conversion.created`
//! webhook carries. Its webhook shape is an endpoint's `format: "linkjolt"` (the mapping is
//! [`refgrow_types::api::compat::linkjolt_payload`]).

use actix_web::{web, HttpRequest, HttpResponse};
use refgrow_types::api as dto;
use refgrow_types::api::compat::{LinkjoltConversion, LinkjoltConversionData};
use refgrow_types::api::{Conversion, ConversionCustomer, CreateConversion, Email, ReferralCode};
use refgrow_types::ClickId;
use serde_json::Value;

use super::{non_empty, reshape};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::openapi::doc::{Created, IdempotencyKey};
use crate::routes::conversions;
use crate::routes::Routes;
use crate::state::AppState;

/// Registers the routes (under `/v1`).
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_create, create);
}

/// The native body of a LinkJolt conversion: `tracking_code` is a click id when it has the
/// `click_` prefix, else a referral code.
fn to_native(body: LinkjoltConversion) -> Result<CreateConversion, ApiError> {
    let code = body.tracking_code.trim();
    let (click_id, referral_code) = if code.starts_with(ClickId::PREFIX) {
        let id = ClickId::parse(code)
            .map_err(|_| ApiError::invalid("tracking_code", "is not a valid click id"))?;
        (Some(id), None)
    } else {
        let rc = ReferralCode::parse(code).ok_or_else(|| {
            ApiError::invalid("tracking_code", refgrow_types::api::REFERRAL_CODE_ISSUE)
        })?;
        (None, Some(rc))
    };
    let customer = match non_empty(body.customer_email) {
        Some(e) => Some(ConversionCustomer {
            key: None,
            email: Some(Email::parse(&e).ok_or_else(|| {
                ApiError::invalid("customer_email", "must be a valid email address")
            })?),
            name: None,
        }),
        None => None,
    };
    Ok(CreateConversion {
        click_id,
        referral_code,
        customer_key: None,
        amount: body.order_value,
        currency: body.currency,
        order_id: non_empty(body.order_id),
        customer,
        products: None,
    })
}

/// A native conversion in LinkJolt's flat shape.
pub fn to_linkjolt(c: &Conversion) -> LinkjoltConversionData {
    LinkjoltConversionData {
        conversion_id: c.conversion_id.to_string(),
        affiliate_id: c.affiliate_id.to_string(),
        commission_amount: c.commission,
        order_value: c.amount,
        currency: c.currency,
        order_id: c.order_id.clone(),
        timestamp: c.timestamp,
    }
}

#[utoipa::path(
    post, path = "/v1/conversions", operation_id = "linkjoltCreateConversion",
    tag = "compat", summary = "LinkJolt: record a referred sale by tracking code (idempotent by order_id)",
    params(IdempotencyKey),
    request_body(
        content = dto::compat::LinkjoltConversion,
        example = json!({"tracking_code": "tc_ABC123", "order_value": 99.99, "order_id": "order_12345", "customer_email": "customer@example.com"}),
    ),
    responses(Created<dto::compat::LinkjoltConversionData>),
    security(("bearer" = [])),
)]
async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    ApiJson(body): ApiJson<LinkjoltConversion>,
) -> Result<HttpResponse, ApiError> {
    let native = to_native(body)?;
    let res = conversions::convert_sale(state, req, auth, native).await?;
    reshape(res, |data: Value| {
        let conv: Conversion = serde_json::from_value(data).map_err(ApiError::internal)?;
        serde_json::to_value(to_linkjolt(&conv)).map_err(ApiError::internal)
    })
    .await
}
