//! Dashboard tokens and the program's allowed frame origins.
//!
//! A dashboard token (`rgemb_` and 40 random base62 characters, about 238 bits) opens the
//! embedded referral dashboard of one affiliate until it expires (default one hour,
//! `REFGROW_EMBED_TOKEN_SECS`). It is shown once and stored only as its SHA-256, so a copy of
//! the database cannot open a dashboard; replicas share the table, so any replica accepts it.
//! It can read the affiliate's figures and change only the affiliate's payout details.
//!
//! `POST /v1/embed-tokens` with an email finds the affiliate by the SaaS's `tenantId`, then by
//! email, or enrols one; the primary key of `embed_tenants` and the unique email of
//! affiliates decide concurrent retries, which then find the winner's affiliate.

use diesel::Connection;
use refgrow_types::api::{AffiliateSource, CreateAffiliate, CreateEmbedToken, Email};
use refgrow_types::AffiliateId;

use crate::db::affiliates::{self as affiliate_store, AffiliateRow};
use crate::db::embed::{self as store, AccessTokenRow, KIND_EMBED, KIND_MAGIC};
use crate::db::programs::ProgramRow;
use crate::db::{is_unique_violation, DbConn};
use crate::error::ApiError;
use crate::idgen::{hash_secret, random_base62};
use crate::services::{affiliates, events};
use crate::validate::check_len;

/// The prefix of dashboard tokens.
pub const TOKEN_PREFIX: &str = "rgemb_";
/// The prefix of magic sign-in links.
pub const MAGIC_PREFIX: &str = "rgml_";
/// The most allowed origins a program may set.
pub const MAX_ORIGINS: usize = 20;
/// The longest token looked up; anything longer is unknown.
const MAX_TOKEN_LEN: usize = 100;

/// Checks and normalises allowed frame origins: `http(s)://host[:port]`, nothing more.
pub fn check_origins(list: &[String]) -> Result<Vec<String>, ApiError> {
    if list.len() > MAX_ORIGINS {
        return Err(ApiError::invalid(
            "embedOrigins",
            format!("must hold at most {MAX_ORIGINS} origins"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for raw in list {
        let bad = || {
            ApiError::invalid(
                "embedOrigins",
                format!("'{raw}' is not an origin like https://app.example.com"),
            )
        };
        if raw.len() > 300 {
            return Err(bad());
        }
        let url = url::Url::parse(raw.trim()).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || !url.username().is_empty()
            || url.password().is_some()
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(bad());
        }
        let origin = url.origin().ascii_serialization();
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    Ok(out)
}

/// The allowed frame origins of a program (none when it set none).
pub fn origins(c: &mut DbConn, program_id: &str) -> Result<Vec<String>, ApiError> {
    Ok(match store::origins(c, program_id)? {
        Some(json) => serde_json::from_str(&json).unwrap_or_default(),
        None => Vec::new(),
    })
}

/// Replaces the allowed frame origins of a program.
pub fn set_origins(
    c: &mut DbConn,
    program_id: &str,
    list: &[String],
    now: i64,
) -> Result<Vec<String>, ApiError> {
    let list = check_origins(list)?;
    let json = serde_json::to_string(&list).map_err(ApiError::internal)?;
    store::set_origins(c, program_id, &json, now)?;
    Ok(list)
}

/// The `frame-ancestors` source list for the allowed origins (`'none'` when there are none).
pub fn frame_ancestors(origins: &[String]) -> String {
    if origins.is_empty() {
        "'none'".to_string()
    } else {
        origins.join(" ")
    }
}

/// The affiliate a `POST /v1/embed-tokens` names: exactly one of `affiliateId` or `email`.
pub fn resolve(
    c: &mut DbConn,
    prog: &ProgramRow,
    req: &CreateEmbedToken,
    public_base: &str,
    now: i64,
) -> Result<AffiliateRow, ApiError> {
    match (&req.affiliate_id, &req.email) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "affiliateId",
            "give either affiliateId or email, not both",
        )),
        (None, None) => Err(ApiError::invalid(
            "affiliateId",
            "give affiliateId, or email (with name and tenantId optional)",
        )),
        (Some(id), None) => {
            if req.name.is_some() || req.tenant_id.is_some() {
                return Err(ApiError::invalid(
                    if req.name.is_some() {
                        "name"
                    } else {
                        "tenantId"
                    },
                    "is only accepted with email",
                ));
            }
            affiliate_store::find(c, &prog.id, id.as_str())?.ok_or_else(|| {
                ApiError::invalid("affiliateId", "no such affiliate in this program")
            })
        }
        (None, Some(email)) => {
            if let Some(t) = &req.tenant_id {
                check_len("tenantId", t, 1, 200)?;
            }
            if let Some(n) = &req.name {
                check_len("name", n, 1, 200)?;
            }
            // A concurrent first call may win the tenant id or the email: try again once
            // to find its affiliate.
            let mut tries = 0;
            loop {
                match c.transaction(|c| find_or_enrol(c, prog, email, req, public_base, now)) {
                    Err(e) if tries < 2 && e.code == refgrow_types::ErrorCode::Conflict => {
                        tries += 1;
                    }
                    other => return other,
                }
            }
        }
    }
}

fn find_or_enrol(
    c: &mut DbConn,
    prog: &ProgramRow,
    email: &Email,
    req: &CreateEmbedToken,
    public_base: &str,
    now: i64,
) -> Result<AffiliateRow, ApiError> {
    if let Some(t) = &req.tenant_id {
        if let Some(id) = store::tenant_affiliate(c, &prog.id, t)? {
            return affiliates::load(c, &prog.id, &id);
        }
    }
    let row = match affiliate_store::find_by_email(c, &prog.id, email.as_str())? {
        Some(row) => row,
        None => {
            let name = req.name.clone().unwrap_or_else(|| {
                email
                    .as_str()
                    .split('@')
                    .next()
                    .unwrap_or("affiliate")
                    .to_string()
            });
            affiliates::create(
                c,
                prog,
                CreateAffiliate {
                    email: email.clone(),
                    name,
                    referral_code: None,
                    custom_fields: None,
                    parent_affiliate_id: None,
                    payment_method: None,
                    payment_details: None,
                },
                AffiliateSource::Api,
                now,
            )
            .and_then(|row| {
                events::affiliate_changed(c, prog, &row, "affiliate.created", public_base, now)?;
                Ok(row)
            })?
        }
    };
    if let Some(t) = &req.tenant_id {
        match crate::db::guarded(c, |c| store::insert_tenant(c, &prog.id, t, &row.id, now)) {
            Ok(()) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(ApiError::conflict("The tenant id was taken meanwhile"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(row)
}

/// Issues a token of `kind` for an affiliate: the token (shown once) and when it expires.
pub fn mint(
    c: &mut DbConn,
    program_id: &str,
    affiliate_id: &str,
    kind: &str,
    ttl_ms: i64,
    now: i64,
) -> Result<(String, i64), ApiError> {
    let prefix = if kind == KIND_MAGIC {
        MAGIC_PREFIX
    } else {
        TOKEN_PREFIX
    };
    let token = format!("{prefix}{}", random_base62(40));
    let expires_at = now.saturating_add(ttl_ms);
    store::insert_token(
        c,
        &AccessTokenRow {
            token_hash: hash_secret(&token),
            kind: kind.to_string(),
            program_id: program_id.to_string(),
            affiliate_id: affiliate_id.to_string(),
            created_at: now,
            expires_at,
            used_at: None,
        },
    )?;
    Ok((token, expires_at))
}

/// The live dashboard token `token`, if it is one.
pub fn open(c: &mut DbConn, token: &str, now: i64) -> Result<Option<AccessTokenRow>, ApiError> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() > MAX_TOKEN_LEN {
        return Ok(None);
    }
    Ok(store::find_token(c, &hash_secret(token), KIND_EMBED)?.filter(|t| t.expires_at > now))
}

/// Redeems a magic link: its row when it was live and unused (now used), else None.
pub fn redeem_magic(
    c: &mut DbConn,
    token: &str,
    now: i64,
) -> Result<Option<AccessTokenRow>, ApiError> {
    if !token.starts_with(MAGIC_PREFIX) || token.len() > MAX_TOKEN_LEN {
        return Ok(None);
    }
    let hash = hash_secret(token);
    if !store::use_token(c, &hash, now)? {
        return Ok(None);
    }
    Ok(store::find_token(c, &hash, KIND_MAGIC)?)
}

/// The dashboard URL of a token.
pub fn dashboard_url(public_base: &str, token: &str) -> String {
    format!("{public_base}/embed/referrals?token={token}")
}

/// The id of an affiliate row, typed.
pub fn affiliate_id(row: &AffiliateRow) -> AffiliateId {
    AffiliateId::from_trusted(row.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_and_checked() {
        let ok = check_origins(&[
            "https://App.Example.com".into(),
            "http://localhost:3000/".into(),
            "https://app.example.com".into(),
        ])
        .expect("valid");
        assert_eq!(ok, vec!["https://app.example.com", "http://localhost:3000"]);
        for bad in [
            "app.example.com",
            "ftp://x.com",
            "https://x.com/path",
            "https://u:p@x.com",
            "https://x.com?q=1",
            "*",
        ] {
            assert!(check_origins(&[bad.into()]).is_err(), "{bad}");
        }
        assert_eq!(frame_ancestors(&[]), "'none'");
    }
}
