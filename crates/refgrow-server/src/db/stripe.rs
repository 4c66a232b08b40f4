//! The `stripe_events` and `stripe_refs` tables: the inbox of Stripe events (each stored once
//! per program and event id, with the outcome of applying it) and the payment references
//! (charges, payment intents) of the conversions Stripe invoices recorded. How events are
//! applied is `crate::services::stripe`.

use diesel::prelude::*;

use super::schema::{stripe_events, stripe_refs};
use super::DbConn;

/// Inserts an event with the outcome `processing` ([`super::insert_unless_taken`]) unless the program has
/// it already. Returns whether it was inserted; a duplicate leaves the caller's transaction
/// usable.
pub fn insert_event(
    c: &mut DbConn,
    program_id: &str,
    event_id: &str,
    event_type: &str,
    payload: &str,
    now: i64,
) -> QueryResult<bool> {
    super::insert_unless_taken(c, |c| {
        diesel::insert_into(stripe_events::table)
            .values((
                stripe_events::program_id.eq(program_id),
                stripe_events::event_id.eq(event_id),
                stripe_events::event_type.eq(event_type),
                stripe_events::payload.eq(payload),
                stripe_events::outcome.eq("processing"),
                stripe_events::received_at.eq(now),
            ))
            .execute(c)
    })
}

/// The stored outcome of an event (it must exist).
pub fn event_outcome(c: &mut DbConn, program_id: &str, event_id: &str) -> QueryResult<String> {
    stripe_events::table
        .find((program_id, event_id))
        .select(stripe_events::outcome)
        .first(c)
}

/// Stores the outcome of an event.
pub fn set_outcome(
    c: &mut DbConn,
    program_id: &str,
    event_id: &str,
    outcome: &str,
) -> QueryResult<()> {
    diesel::update(stripe_events::table.find((program_id, event_id)))
        .set(stripe_events::outcome.eq(outcome))
        .execute(c)
        .map(|_| ())
}

/// Remembers that a payment reference paid for a conversion ([`super::insert_unless_taken`]); a reference
/// the program already has is kept as it is. Returns whether it was inserted.
pub fn insert_ref(
    c: &mut DbConn,
    program_id: &str,
    reference: &str,
    conversion_id: &str,
) -> QueryResult<bool> {
    super::insert_unless_taken(c, |c| {
        diesel::insert_into(stripe_refs::table)
            .values((
                stripe_refs::program_id.eq(program_id),
                stripe_refs::ref_.eq(reference),
                stripe_refs::conversion_id.eq(conversion_id),
            ))
            .execute(c)
    })
}

/// The conversion a payment reference paid for, if it is known.
pub fn conversion_of_ref(
    c: &mut DbConn,
    program_id: &str,
    reference: &str,
) -> QueryResult<Option<String>> {
    stripe_refs::table
        .find((program_id, reference))
        .select(stripe_refs::conversion_id)
        .first(c)
        .optional()
}
