//! The tables, as diesel sees them. Written by hand to stay portable across SQLite and
//! PostgreSQL: timestamps are BIGINT milliseconds, money is BIGINT minor units.
#![allow(missing_docs)]

diesel::table! {
    programs (id) {
        id -> Text,
        name -> Text,
        currency -> Text,
        website_url -> Nullable<Text>,
        cookie_days -> Integer,
        attribution -> Text,
        hold_days -> Integer,
        min_payout_minor -> BigInt,
        auto_approve_affiliates -> Bool,
        commission_rule -> Text,
        stripe_webhook_secret -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        ignore_unattributed -> Bool,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        program_id -> Text,
        label -> Nullable<Text>,
        key_hash -> Text,
        key_prefix -> Text,
        scopes -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        rate_limit_per_sec -> Nullable<Integer>,
        expires_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    affiliates (id) {
        id -> Text,
        program_id -> Text,
        email -> Text,
        name -> Text,
        status -> Text,
        source -> Text,
        referral_code -> Text,
        suspended_at -> Nullable<BigInt>,
        suspended_reason -> Nullable<Text>,
        parent_affiliate_id -> Nullable<Text>,
        custom_fields -> Text,
        payment_method -> Nullable<Text>,
        payment_details -> Nullable<Text>,
        click_count -> BigInt,
        signup_count -> BigInt,
        conversion_count -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    clicks (id) {
        id -> Text,
        program_id -> Text,
        affiliate_id -> Text,
        referral_code -> Text,
        source_url -> Nullable<Text>,
        landing_url -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        ip_address -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    customers (id) {
        id -> Text,
        program_id -> Text,
        customer_key -> Text,
        email -> Nullable<Text>,
        name -> Nullable<Text>,
        affiliate_id -> Nullable<Text>,
        click_id -> Nullable<Text>,
        stripe_customer_id -> Nullable<Text>,
        first_payment_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    conversions (id) {
        id -> Text,
        program_id -> Text,
        affiliate_id -> Text,
        customer_id -> Nullable<Text>,
        customer_key -> Nullable<Text>,
        referral_code -> Text,
        order_id -> Nullable<Text>,
        request_hash -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        refunded_minor -> BigInt,
        status -> Text,
        product_id -> Nullable<Text>,
        no_commission_reason -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    commissions (id) {
        id -> Text,
        program_id -> Text,
        affiliate_id -> Text,
        conversion_id -> Nullable<Text>,
        order_id -> Nullable<Text>,
        kind -> Text,
        dedupe_key -> Text,
        request_hash -> Nullable<Text>,
        amount_minor -> BigInt,
        original_minor -> BigInt,
        currency -> Text,
        status -> Text,
        conversion_amount_minor -> Nullable<BigInt>,
        description -> Nullable<Text>,
        payout_id -> Nullable<Text>,
        on_hold -> Bool,
        reason -> Nullable<Text>,
        source_commission_id -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        approved_at -> Nullable<BigInt>,
        paid_at -> Nullable<BigInt>,
        reversed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    refunds (id) {
        id -> Text,
        program_id -> Text,
        conversion_id -> Text,
        amount_minor -> BigInt,
        reason -> Nullable<Text>,
        dedupe_key -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    idempotency_keys (program_id, idem_key) {
        program_id -> Text,
        idem_key -> Text,
        request_hash -> Text,
        status_code -> Integer,
        response_body -> Text,
        created_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    programs,
    api_keys,
    affiliates,
    clicks,
    customers,
    conversions,
    commissions,
    refunds,
    idempotency_keys,
);

diesel::table! {
    daily_stats (program_id, affiliate_id, day, currency) {
        program_id -> Text,
        affiliate_id -> Text,
        day -> BigInt,
        currency -> Text,
        clicks -> BigInt,
        signups -> BigInt,
        conversions -> BigInt,
        revenue_minor -> BigInt,
        refunded_minor -> BigInt,
        pending_minor -> BigInt,
        approved_minor -> BigInt,
        paid_minor -> BigInt,
        reversed_minor -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(daily_stats, affiliates);

diesel::table! {
    stats_deltas (id) {
        id -> BigInt,
        program_id -> Text,
        affiliate_id -> Text,
        day -> BigInt,
        currency -> Text,
        clicks -> BigInt,
        signups -> BigInt,
        conversions -> BigInt,
        revenue_minor -> BigInt,
        refunded_minor -> BigInt,
        pending_minor -> BigInt,
        approved_minor -> BigInt,
        paid_minor -> BigInt,
        reversed_minor -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(stats_deltas, daily_stats);

diesel::table! {
    /// When any replica last folded the deltas (one row, id 1).
    fold_clock (id) {
        id -> Integer,
        folded_at -> BigInt,
    }
}
diesel::allow_tables_to_appear_in_same_query!(stats_deltas, affiliates);

diesel::table! {
    events (id) {
        id -> Text,
        program_id -> Text,
        event_type -> Text,
        payload -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        program_id -> Text,
        url -> Text,
        description -> Nullable<Text>,
        event_types -> Nullable<Text>,
        enabled -> Bool,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<BigInt>,
        failing_since -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        consecutive_failures -> Integer,
        payload_format -> Text,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        program_id -> Text,
        endpoint_id -> Text,
        event_id -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        locked_until -> Nullable<BigInt>,
        last_attempt_at -> Nullable<BigInt>,
        response_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(events, webhook_endpoints, webhook_deliveries);

diesel::table! {
    invitations (id) {
        id -> Text,
        program_id -> Text,
        email -> Text,
        token_hash -> Text,
        status -> Text,
        pending_key -> Nullable<Text>,
        message -> Nullable<Text>,
        affiliate_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        accepted_at -> Nullable<BigInt>,
        cancelled_at -> Nullable<BigInt>,
        sent_by_key_id -> Nullable<Text>,
        sent_by_label -> Nullable<Text>,
    }
}

diesel::table! {
    stripe_events (program_id, event_id) {
        program_id -> Text,
        event_id -> Text,
        event_type -> Text,
        payload -> Text,
        outcome -> Text,
        received_at -> BigInt,
    }
}

diesel::table! {
    stripe_refs (program_id, ref_) {
        program_id -> Text,
        #[sql_name = "ref"]
        ref_ -> Text,
        conversion_id -> Text,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        program_id -> Text,
        key_id -> Nullable<Text>,
        method -> Text,
        path -> Text,
        action -> Text,
        resource_id -> Nullable<Text>,
        status -> Integer,
        request_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    payouts (id) {
        id -> Text,
        program_id -> Text,
        affiliate_id -> Text,
        currency -> Text,
        amount_minor -> BigInt,
        commission_count -> BigInt,
        status -> Text,
        reference -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        paid_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    embed_settings (program_id) {
        program_id -> Text,
        origins -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    embed_tenants (program_id, tenant_id) {
        program_id -> Text,
        tenant_id -> Text,
        affiliate_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    access_tokens (token_hash) {
        token_hash -> Text,
        kind -> Text,
        program_id -> Text,
        affiliate_id -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Text,
        program_id -> Text,
        invitation_id -> Nullable<Text>,
        to_addr -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        sent_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
    }
}
