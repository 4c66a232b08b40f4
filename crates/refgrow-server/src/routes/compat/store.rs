//! The store-affiliate API (`seeds/003`): `GET /v1/affiliates/{affiliateCode}` answered in its
//! shape (`total_visits`, `total_sales`, `total_earnings` with a formatted amount, a nested
//! `account`). The path is shared with `GET /v1/affiliates/{id}`: a segment without the
//! `aff_` prefix is a code. Its invitations call is the native one (`sentBy` says who sent
//! each).

use actix_web::{web, HttpResponse};
use refgrow_types::api::compat::{
    FormattedAmount, StoreAccount, StoreAffiliate, StoreAffiliateResponse, StoreUser,
};
use refgrow_types::api::{normalize_referral_code, Affiliate};

use crate::auth::Auth;
use crate::db::affiliates as store;
use crate::error::ApiError;
use crate::routes::affiliates::read_affiliate;
use crate::routes::ok;
use crate::state::AppState;

/// A native affiliate in the store shape.
pub fn to_store(a: &Affiliate) -> StoreAffiliate {
    StoreAffiliate {
        id: a.id.to_string(),
        code: a.referral_code.clone(),
        status: a.status,
        source: a.source,
        total_visits: a.click_count,
        total_sales: a.conversion_count,
        total_earnings: FormattedAmount {
            amount: a.total_earnings,
            currency: a.currency,
            formatted: a.total_earnings_formatted.clone(),
        },
        account: StoreAccount {
            user: StoreUser {
                name: a.account.user.name.clone(),
                email: a.account.user.email.clone(),
            },
            pseudo: a.account.pseudo.clone(),
            country: a.account.country.clone(),
        },
        referral_link: a.referral_link.clone(),
        suspended_at: a.suspended_at,
        suspended_reason: a.suspended_reason.clone(),
        created_at: a.created_at,
    }
}

/// `GET /v1/affiliates/{affiliateCode}`.
pub async fn affiliate_by_code(
    state: web::Data<AppState>,
    auth: Auth,
    code: String,
) -> Result<HttpResponse, ApiError> {
    let code = normalize_referral_code(&code).ok_or_else(|| {
        ApiError::invalid(
            "id",
            "must be an affiliate id beginning with 'aff_' or a referral code of 3 to 32 letters, digits, '-' or '_'",
        )
    })?;
    let affiliate = read_affiliate(&state, auth, move |c, program| {
        store::find_by_code(c, program, &code)?.ok_or_else(|| {
            ApiError::not_found("affiliate").with_details(serde_json::json!({
                "field": "id",
                "issue": "no affiliate has this referral code (affiliate ids begin with 'aff_')"
            }))
        })
    })
    .await?;
    Ok(ok(StoreAffiliateResponse {
        affiliate: to_store(&affiliate),
    }))
}
