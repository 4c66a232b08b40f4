//! Clicks, conversions, customers, transactions and refunds: how a referral becomes money.

use refgrow_types::api::{
    Click, Conversion, ConversionList, ConversionResponse, CreateConversion, CreateCustomer,
    CreateRefund, CreateTransaction, Customer, CustomerResponse, IgnoredSignup, RefundResult,
    TrackClick, TransactionResult, UpdateCustomer,
};
use refgrow_types::ConversionId;
use reqwest::Method;
use serde::{Deserialize, Deserializer};

use crate::Error;

/// The `data` of `POST /v1/referrals/convert`: the contract shows the conversion itself
/// (`{"conversionId": ...}`), the server may wrap it (`{"conversion": {...}}`); both are read.
struct ConversionData(Conversion);

impl<'de> Deserialize<'de> for ConversionData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut v = serde_json::Value::deserialize(d)?;
        let wrapped = v
            .as_object_mut()
            .filter(|o| o.len() == 1 && !o.contains_key("conversionId"))
            .and_then(|o| o.remove("conversion"));
        serde_json::from_value(wrapped.unwrap_or(v))
            .map(ConversionData)
            .map_err(serde::de::Error::custom)
    }
}

resource_handle!(
    /// `/v1/referrals`: record clicks on referral links and sales they led to. Get one with
    /// [`Client::referrals`](crate::Client::referrals).
    ReferralsApi
);

impl ReferralsApi<'_> {
    /// `POST /v1/referrals/track`: records a click on an affiliate's link. Keep the returned
    /// `clickId` (a cookie, a hidden form field) to bind the signup or the sale later.
    pub async fn track(&self, click: TrackClick) -> Result<Click, Error> {
        self.call_json(Method::POST, &["referrals", "track"], &click)
            .await
    }

    /// `POST /v1/referrals/convert`: records a sale referred by a click, a code or a known
    /// customer, and the commission it earns.
    ///
    /// Idempotent by `orderId` and by the `Idempotency-Key` (random per call unless set on the
    /// handle): a replay returns the original conversion, never a second commission.
    pub async fn convert(&self, conversion: CreateConversion) -> Result<Conversion, Error> {
        let r: ConversionData = self
            .call_json(Method::POST, &["referrals", "convert"], &conversion)
            .await?;
        Ok(r.0)
    }
}

resource_handle!(
    /// `/v1/customers`: bind signups to the affiliates who referred them. Get one with
    /// [`Client::customers`](crate::Client::customers).
    CustomersApi
);

impl CustomersApi<'_> {
    /// `POST /v1/customers`: binds a signup (your user id as `key`) to its referrer, inside
    /// the attribution window. A key seen before returns the existing customer (the first
    /// binding wins); a signup without a referral is recorded unattributed; a self-referral is
    /// refused.
    pub async fn create(&self, customer: CreateCustomer) -> Result<Customer, Error> {
        let r: CustomerResponse = self
            .call_json(Method::POST, &["customers"], &customer)
            .await?;
        Ok(r.customer)
    }

    /// `POST /v1/customers` for a program that sets `ignoreUnattributed`: `None` when the
    /// signup attributed to nobody and was acknowledged without being stored. (`create` fails
    /// to decode that answer.)
    pub async fn create_unless_ignored(
        &self,
        customer: CreateCustomer,
    ) -> Result<Option<Customer>, Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Signup {
            Bound(CustomerResponse),
            // Read only to recognise the answer.
            #[allow(dead_code)]
            Ignored(IgnoredSignup),
        }
        let r: Signup = self
            .call_json(Method::POST, &["customers"], &customer)
            .await?;
        Ok(match r {
            Signup::Bound(r) => Some(r.customer),
            Signup::Ignored(_) => None,
        })
    }

    /// `PATCH /v1/customers/{key}`: changes the email or name (`Some(None)` clears); the
    /// attribution stays.
    pub async fn update(&self, key: &str, changes: UpdateCustomer) -> Result<Customer, Error> {
        let r: CustomerResponse = self
            .call_json(Method::PATCH, &["customers", key], &changes)
            .await?;
        Ok(r.customer)
    }

    /// `GET /v1/customers/{key}`.
    pub async fn get(&self, key: &str) -> Result<Customer, Error> {
        let r: CustomerResponse = self.call(Method::GET, &["customers", key]).await?;
        Ok(r.customer)
    }

    /// `DELETE /v1/customers/{key}`: returns the customer as it was.
    pub async fn delete(&self, key: &str) -> Result<Customer, Error> {
        let r: CustomerResponse = self.call(Method::DELETE, &["customers", key]).await?;
        Ok(r.customer)
    }
}

resource_handle!(
    /// `/v1/transactions`: payments of known customers (each renewal is one). Get one with
    /// [`Client::transactions`](crate::Client::transactions).
    TransactionsApi
);

impl TransactionsApi<'_> {
    /// `POST /v1/transactions`: one payment of a customer bound with
    /// [`CustomersApi::create`]. The program's `recurring` rule decides whether it earns; an
    /// unknown or unattributed customer is acknowledged with `attributed: false`.
    /// Idempotent by `key`.
    pub async fn create(&self, transaction: CreateTransaction) -> Result<TransactionResult, Error> {
        self.call_json(Method::POST, &["transactions"], &transaction)
            .await
    }

    /// `DELETE /v1/transactions/{key}`: reverses a payment (a full refund of its
    /// conversion) and what it earned. Deleting again changes nothing.
    pub async fn delete(&self, key: &str) -> Result<RefundResult, Error> {
        self.call(Method::DELETE, &["transactions", key]).await
    }
}

resource_handle!(
    /// `/v1/conversions`: recorded sales and their refunds. Get one with
    /// [`Client::conversions`](crate::Client::conversions).
    ConversionsApi
);

/// Filters and paging of `GET /v1/conversions`, shared with the server.
pub use refgrow_types::api::ListConversions;

impl ConversionsApi<'_> {
    paged_list!(
        /// Newest first.
        GET ["conversions"], ListConversions => ConversionList of Conversion
    );

    /// `GET /v1/conversions/{id}`.
    pub async fn get(&self, id: &ConversionId) -> Result<Conversion, Error> {
        let r: ConversionResponse = self
            .call(Method::GET, &["conversions", id.as_str()])
            .await?;
        Ok(r.conversion)
    }

    /// `POST /v1/conversions/{id}/refunds`: a full (no `amount`) or partial refund. The
    /// commissions shrink in proportion; money already paid out becomes a negative adjustment
    /// taken from the affiliate's next payout.
    pub async fn refund(
        &self,
        id: &ConversionId,
        refund: CreateRefund,
    ) -> Result<RefundResult, Error> {
        self.call_json(
            Method::POST,
            &["conversions", id.as_str(), "refunds"],
            &refund,
        )
        .await
    }
}
