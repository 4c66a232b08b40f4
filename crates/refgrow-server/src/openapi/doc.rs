//! What a handler's `#[utoipa::path(...)]` attribute names besides its body types: the
//! success answers in the API's envelope, the query parameters, the `Idempotency-Key` marker.
//!
//! - `responses(Success<T>)` / `responses(Created<T>)`: `200` / `201` with
//!   `{"success": true, "data": T}`, a named `<T>Envelope` component when `T` is named;
//!   `T` may be [`AnyOf`] of several types or [`AnyObject`]. `PlainText`, `Csv`,
//!   `UntypedJson` and `Redirect` answer without a typed body.
//! - `params(SomeQuery)`: the query struct a handler parses documents its parameters beside
//!   its definition (`query_params!(SomeQuery, paging(), status(&[…]), text(…))`, an
//!   `IntoParams` implementation), from [`paging`], [`time_range`], [`status`], [`text`], ….
//! - `params(IdempotencyKey)`: the operation takes an `Idempotency-Key`; the document refers
//!   to the shared header parameter and documents the replay's `200` ([`super::build`]).
//!
//! The error answers, the path parameters (read from the path) and the response headers are
//! the same rule for every operation and are added in one place ([`super::build`]).

use std::collections::BTreeMap;
use std::marker::PhantomData;

use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{
    ContentBuilder, Ref, RefOr, Required, Response, ResponseBuilder, ResponsesBuilder, Schema,
};
use utoipa::{IntoParams, IntoResponses, ToSchema};

use super::collect::{self, schema_ref};

/// The schema of the `data` of a success answer.
pub trait Data {
    /// The schema (a `$ref` for a named type, which is recorded).
    fn data() -> RefOr<Schema>;
}

impl<T: ToSchema> Data for T {
    fn data() -> RefOr<Schema> {
        schema_ref::<T>()
    }
}

/// Any of several schemas (a path that takes or answers a seed API's shape too). `anyOf`, not
/// `oneOf`: a small native body can also read as the seed's shape. `T` is a tuple of types.
pub struct AnyOf<T>(PhantomData<T>);

impl<A: Data, B: Data> Data for AnyOf<(A, B)> {
    fn data() -> RefOr<Schema> {
        any_of(vec![A::data(), B::data()])
    }
}

impl<A: Data, B: Data, C: Data> Data for AnyOf<(A, B, C)> {
    fn data() -> RefOr<Schema> {
        any_of(vec![A::data(), B::data(), C::data()])
    }
}

/// An `anyOf` of `schemas`.
pub fn any_of(schemas: Vec<RefOr<Schema>>) -> RefOr<Schema> {
    let mut b = AnyOfBuilder::new();
    for s in schemas {
        b = b.item(s);
    }
    RefOr::T(Schema::AnyOf(b.build()))
}

/// A free-form JSON object.
pub struct AnyObject;

impl Data for AnyObject {
    fn data() -> RefOr<Schema> {
        prim(Type::Object)
    }
}

/// A schema of one primitive type.
pub fn prim(t: Type) -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(t))
            .build(),
    ))
}

/// `{"success": true, "data": <data>}`; named `<Data>Envelope` when `data` is a named schema,
/// so generators make one type of it however many operations answer it.
pub fn envelope(data: RefOr<Schema>) -> RefOr<Schema> {
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

fn one(status: &str, response: Response) -> BTreeMap<String, RefOr<Response>> {
    ResponsesBuilder::new()
        .response(status, response)
        .build()
        .into()
}

fn json_success<T: Data>() -> Response {
    ResponseBuilder::new()
        .description("Success")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(envelope(T::data())))
                .build(),
        )
        .build()
}

fn untyped(content_type: &str) -> Response {
    ResponseBuilder::new()
        .description("Success")
        .content(content_type, ContentBuilder::new().build())
        .build()
}

/// `200 {"success": true, "data": T}`.
pub struct Success<T>(PhantomData<T>);

impl<T: Data> IntoResponses for Success<T> {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        one("200", json_success::<T>())
    }
}

/// `201 {"success": true, "data": T}`.
pub struct Created<T>(PhantomData<T>);

impl<T: Data> IntoResponses for Created<T> {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        one("201", json_success::<T>())
    }
}

/// Declares answers `200` with a body of one media type that is not the envelope.
macro_rules! untyped_200 {
    ($($(#[$doc:meta])* $name:ident = $media:literal;)*) => {$(
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                one("200", untyped($media))
            }
        }
    )*};
}

untyped_200! {
    /// `200` with JSON that is not the envelope (health answers, this document).
    UntypedJson = "application/json";
    /// `200` with `text/plain` (Prometheus metrics).
    PlainText = "text/plain";
    /// `200` with `text/csv`.
    Csv = "text/csv";
}

/// `302` without a body.
pub struct Redirect;

impl IntoResponses for Redirect {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        one(
            "302",
            ResponseBuilder::new()
                .description("Success, no body")
                .build(),
        )
    }
}

/// `params(IdempotencyKey)`: the operation takes an `Idempotency-Key` (a replay answers 200
/// with the saved body). Stands for `#/components/parameters/IdempotencyKey` in the document.
pub struct IdempotencyKey;

/// The header [`IdempotencyKey`] stands for.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

impl IntoParams for IdempotencyKey {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![ParameterBuilder::new()
            .name(IDEMPOTENCY_KEY)
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .build()]
    }
}

/// An optional query parameter.
pub fn query(name: &str, schema: RefOr<Schema>, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// An optional string query parameter.
pub fn text(name: &str, description: &str) -> Parameter {
    query(name, prim(Type::String), description)
}

/// An integer from `min` (to `max`).
pub fn int_range(min: i64, max: Option<i64>) -> RefOr<Schema> {
    let mut b = ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Integer))
        .minimum(Some(min as f64));
    if let Some(m) = max {
        b = b.maximum(Some(m as f64));
    }
    RefOr::T(Schema::Object(b.build()))
}

/// One of these strings.
pub fn enum_of(values: &[&str]) -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .enum_values(Some(values.iter().copied()))
            .build(),
    ))
}

/// `status`: only one of these statuses.
pub fn status(values: &[&str]) -> Parameter {
    query("status", enum_of(values), "Only this status")
}

/// `limit` and `offset`.
pub fn paging() -> Vec<Parameter> {
    vec![
        query(
            "limit",
            int_range(1, Some(100)),
            "Page size, 1 to 100 (default 20)",
        ),
        query("offset", int_range(0, None), "Items to skip (default 0)"),
    ]
}

/// `from` and `to`.
pub fn time_range() -> Vec<Parameter> {
    vec![
        text("from", "From (inclusive): RFC 3339 timestamp or YYYY-MM-DD"),
        text("to", "To (exclusive): RFC 3339 timestamp or YYYY-MM-DD"),
    ]
}

/// `interval`: the bucket size of a time series.
pub fn interval() -> Parameter {
    query(
        "interval",
        enum_of(&["day", "week", "month"]),
        "Bucket size (default day)",
    )
}

/// `format`: a payout file format.
pub fn payout_format() -> Parameter {
    query(
        "format",
        enum_of(&["paypal", "wise"]),
        "File format (default paypal)",
    )
}

/// Declares a request body that is any of several types (a path that also takes a seed
/// API's body), for `request_body(content = inline(Name))`:
/// `any_of_body!(/** doc */ Name: A, B);`.
macro_rules! any_of_body {
    ($(#[$meta:meta])* $name:ident: $($t:ty),+ $(,)?) => {
        $(#[$meta])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
                $crate::openapi::doc::any_of(vec![
                    $($crate::openapi::collect::schema_ref::<$t>()),+
                ])
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}
pub(crate) use any_of_body;

/// One query parameter, or several ([`paging`], [`time_range`]).
pub trait QueryParams {
    /// Appends them to `out`.
    fn append_to(self, out: &mut Vec<Parameter>);
}

impl QueryParams for Parameter {
    fn append_to(self, out: &mut Vec<Parameter>) {
        out.push(self);
    }
}

impl QueryParams for Vec<Parameter> {
    fn append_to(self, out: &mut Vec<Parameter>) {
        out.extend(self);
    }
}

/// Documents the query parameters of a handler's query struct, beside it, in order:
/// `query_params!(ListQuery, paging(), status(&["a", "b"]), text("email", "Only this email"));`
/// then `params(ListQuery)` in the handler's attribute.
macro_rules! query_params {
    ($ty:ty, $($params:expr),+ $(,)?) => {
        impl utoipa::IntoParams for $ty {
            fn into_params(
                _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
            ) -> Vec<utoipa::openapi::path::Parameter> {
                let mut out = Vec::new();
                $($crate::openapi::doc::QueryParams::append_to($params, &mut out);)+
                out
            }
        }
    };
}
pub(crate) use query_params;
