//! The named schemas of the document, collected from the operations themselves.
//!
//! Every body type named by a handler's `#[utoipa::path]` attribute is recorded by the route
//! registry ([`crate::routes::Routes`]) with the types it refers to; every answer's data (and
//! every webhook payload) is written as a `$ref` through [`schema_ref`], which also records
//! the type's schema and, recursively, the schemas of every type it refers to (utoipa's
//! `ToSchema::schemas`). [`collecting`] runs the
//! building of the document and hands back what was recorded, which becomes
//! `components/schemas`. So a type used by an operation cannot be left out of the
//! components: there is no list to forget it in. A `$ref` written by hand elsewhere is caught
//! by the dangling-reference check ([`super::refs`]).

use std::cell::RefCell;
use std::collections::BTreeMap;

use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::ToSchema;

/// The named schemas of one run of [`collecting`].
pub type Named = BTreeMap<String, RefOr<Schema>>;

thread_local! {
    static NAMED: RefCell<Option<Named>> = const { RefCell::new(None) };
}

/// A `$ref` to `T`'s component schema; records `T` and the types it refers to.
pub fn schema_ref<T: ToSchema>() -> RefOr<Schema> {
    record::<T>();
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

/// Records `T`'s schema and the schemas it refers to, if a [`collecting`] run is under way.
pub fn record<T: ToSchema>() {
    NAMED.with(|named| {
        if let Some(named) = named.borrow_mut().as_mut() {
            let mut found = vec![(T::name().into_owned(), T::schema())];
            T::schemas(&mut found);
            named.extend(found);
        }
    });
}

/// Records a schema built here under `name` (the success envelopes), if a [`collecting`] run
/// is under way.
pub fn record_named(name: &str, schema: RefOr<Schema>) {
    NAMED.with(|named| {
        if let Some(named) = named.borrow_mut().as_mut() {
            named.insert(name.to_string(), schema);
        }
    });
}

/// Runs `f` and returns its result with every schema recorded meanwhile (on this thread).
pub fn collecting<R>(f: impl FnOnce() -> R) -> (R, Named) {
    let outer = NAMED.with(|named| named.borrow_mut().replace(Named::new()));
    let out = f();
    let named = NAMED.with(|named| std::mem::replace(&mut *named.borrow_mut(), outer));
    (out, named.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use refgrow_types::api as dto;

    #[test]
    fn a_ref_records_the_type_and_what_it_refers_to() {
        let (r, named) = collecting(schema_ref::<dto::AffiliateResponse>);
        assert!(matches!(r, RefOr::Ref(_)));
        assert!(
            named.contains_key("AffiliateResponse"),
            "{:?}",
            named.keys()
        );
        // Nested types, found recursively.
        assert!(named.contains_key("Affiliate"), "{:?}", named.keys());
        assert!(named.contains_key("AffiliateId"), "{:?}", named.keys());
    }

    #[test]
    fn nothing_is_recorded_outside_a_run() {
        let _ = schema_ref::<dto::AffiliateResponse>();
        let ((), named) = collecting(|| ());
        assert!(named.is_empty());
    }
}
