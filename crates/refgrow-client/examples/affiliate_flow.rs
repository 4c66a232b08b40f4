//! The whole affiliate flow against a running Refgrow server: enrol an affiliate, record a
//! click on their link, bind the signup, record a sale, refund part of it, and list what the
//! affiliate earned.
//!
//! ```sh
//! refgrow-server program create --name "Demo"          # once
//! export REFGROW_KEY=$(refgrow-server key create --program Demo)
//! export REFGROW_URL=http://127.0.0.1:8080
//! cargo run -p refgrow-client --example affiliate_flow
//! ```
//!
//! Each run uses fresh emails and order ids, so it can be run again and again.

use std::time::{SystemTime, UNIX_EPOCH};

use refgrow_client::api::{
    CreateAffiliate, CreateConversion, CreateCustomer, CreateRefund, Email, ReferralCode,
    TrackClick,
};
use refgrow_client::{Amount, Client, ErrorCode, ListCommissions, RetryPolicy};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn amount(s: &str) -> Result<Amount> {
    s.parse::<Amount>()
        .map_err(|e| format!("amount {s:?}: {e}").into())
}

#[tokio::main]
async fn main() -> Result<()> {
    let url = std::env::var("REFGROW_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let key = std::env::var("REFGROW_KEY").map_err(|_| "set REFGROW_KEY to an API key")?;
    let client = Client::builder()
        .base_url(&url)
        .api_key(key)
        .user_agent("refgrow-example/affiliate_flow")
        .retry(RetryPolicy::with_max_retries(3))
        .build()?;

    let program = client.program().get().await?;
    println!(
        "program {} ({}), pays in {}, commission rule {:?} {:?}",
        program.name,
        program.id,
        program.currency,
        program.commission.kind,
        program.commission.rate
    );

    // A suffix so that every run enrols a new affiliate and records new orders.
    let run = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();

    // 1. Enrol an affiliate. They get a referral code and a link to share.
    let affiliate = client
        .affiliates()
        .create(CreateAffiliate {
            email: Email::parse(&format!("jane+{run}@example.com")).ok_or("a bad email")?,
            name: "Jane Doe".into(),
            referral_code: None,
            custom_fields: None,
            parent_affiliate_id: None,
            payment_method: Some("paypal".into()),
            payment_details: Some("jane@example.com".into()),
        })
        .await?;
    println!(
        "1. affiliate {} ({}) shares {}",
        affiliate.id, affiliate.referral_code, affiliate.referral_link
    );

    // 2. A visitor follows the link: record the click, keep the click id (in a cookie).
    let click = client
        .referrals()
        .track(TrackClick {
            referral_code: ReferralCode::parse(&affiliate.referral_code)
                .ok_or("a bad referral code")?,
            source_url: Some("https://blog.example.org/best-tools".into()),
            landing_url: Some("https://my-saas.example.com/pricing".into()),
            user_agent: Some("Mozilla/5.0".into()),
            ip_address: None,
        })
        .await?;
    println!("2. click {} at {}", click.click_id, click.timestamp);

    // 3. The visitor signs up: bind your user id to the click.
    let user_key = format!("user_{run}");
    let customer = client
        .customers()
        .create(CreateCustomer {
            key: user_key.clone(),
            email: Email::parse(&format!("buyer+{run}@example.org")),
            name: Some("A. Buyer".into()),
            click_id: Some(click.click_id.clone()),
            referral_code: None,
            affiliate_id: None,
        })
        .await?;
    println!(
        "3. customer {} ({}) attributed to {:?}",
        customer.id, customer.key, customer.affiliate_id
    );

    // 4. The customer pays: record the sale. The order id (and the Idempotency-Key, reused by
    //    every retry) make it safe to send again: a replay returns the same conversion.
    let order_id = format!("order_{run}");
    let conversion = client
        .referrals()
        .with_idempotency_key(format!("convert-{order_id}"))
        .convert(CreateConversion {
            click_id: None,
            referral_code: None,
            customer_key: Some(user_key.clone()),
            amount: amount("99.00")?,
            currency: None,
            order_id: Some(order_id.clone()),
            customer: None,
            products: None,
        })
        .await?;
    println!(
        "4. conversion {} of {} {} earns {} {} (commission {:?})",
        conversion.conversion_id,
        conversion.amount,
        conversion.currency,
        conversion.commission,
        conversion.commission_currency,
        conversion.commission_id
    );

    // 5. Part of the sale is refunded: the commission shrinks in proportion.
    let refund = client
        .conversions()
        .refund(
            &conversion.conversion_id,
            CreateRefund {
                amount: Some(amount("33.00")?),
                reason: Some("downgraded to a cheaper plan".into()),
            },
        )
        .await?;
    println!(
        "5. refunded {} of {}; commissions now {:?}",
        refund.conversion.refunded_amount,
        refund.conversion.amount,
        refund
            .commissions
            .iter()
            .map(|c| c.amount.to_string())
            .collect::<Vec<_>>()
    );

    // 6. What the affiliate earned.
    let commissions = client
        .commissions()
        .list(ListCommissions {
            affiliate_id: Some(affiliate.id.clone()),
            ..Default::default()
        })
        .await?;
    println!("6. {} commission(s):", commissions.total);
    for c in &commissions.commissions {
        println!(
            "   {} {} {} {} (sale {:?})",
            c.id,
            c.amount,
            c.currency,
            c.status.as_str(),
            c.conversion_amount.map(|a| a.to_string())
        );
    }

    // Errors carry the contract's code, the HTTP status and the request id.
    match client.affiliates().get_by_code("NO-SUCH-CODE").await {
        Err(e) if e.code() == Some(ErrorCode::ResourceNotFound) => {
            println!(
                "an unknown code is {} (request {})",
                e.status().unwrap_or_default(),
                e.request_id().unwrap_or("-")
            );
        }
        Err(e) => return Err(e.into()),
        Ok(a) => println!("unexpectedly found {}", a.id),
    }
    Ok(())
}
