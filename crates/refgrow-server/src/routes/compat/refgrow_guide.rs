//! The integration guide (`seeds/000`): `/api/partners`, `/api/customers`,
//! `/api/commissions`. Each is the `/v1` call of the same meaning, with the same bodies and
//! answers; the one difference is `POST /api/commissions`, whose `amount` is the guide's
//! **sale** amount (the commission is computed by the program's rule), as `saleAmount` is on
//! `POST /v1/commissions`.

use actix_web::{web, HttpRequest, HttpResponse};
use refgrow_types::api::compat::GuideCommission;
use refgrow_types::api::CreateCommission;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::{affiliates, commissions, customers, stats};
use crate::state::AppState;

/// Registers the routes (at the root, beside `/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/partners", web::post().to(affiliates::create))
        .route("/api/partners/{id}/stats", web::get().to(stats::affiliate))
        .route("/api/customers", web::post().to(customers::create))
        .route("/api/commissions", web::post().to(create_commission))
        .route(
            "/api/commissions/{id}",
            web::delete().to(commissions::reverse),
        );
}

/// `POST /api/commissions {affiliateId, amount | saleAmount, orderId?, productId?}`: a sale
/// of the affiliate; answers the commission it earned.
async fn create_commission(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    ApiJson(body): ApiJson<GuideCommission>,
) -> Result<HttpResponse, ApiError> {
    let sale = match (body.amount, body.sale_amount) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "saleAmount",
                "give the sale amount once, as amount or as saleAmount",
            ))
        }
        (a, s) => a.or(s),
    }
    .ok_or_else(|| ApiError::invalid("amount", "the sale amount is required"))?;
    let native = CreateCommission {
        affiliate_id: body.affiliate_id,
        amount: None,
        sale_amount: Some(sale),
        product_id: body.product_id,
        order_id: body.order_id,
        description: None,
    };
    commissions::create_commission(state, req, auth, native).await
}
