//! The `clicks` table's row. The click path that buffers and writes them is
//! `crate::clicks`; the rollups count them ([`super::rollups`]).

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::schema::clicks;

/// A click waiting to be written.
#[derive(Debug, Clone, Insertable, Serialize, Deserialize)]
#[diesel(table_name = clicks, treat_none_as_default_value = false)]
pub struct ClickRow {
    /// `click_…`.
    pub id: String,
    /// Its program.
    pub program_id: String,
    /// Whose link.
    pub affiliate_id: String,
    /// The code clicked.
    pub referral_code: String,
    /// Referrer.
    pub source_url: Option<String>,
    /// Landing page.
    pub landing_url: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Visitor address.
    pub ip_address: Option<String>,
    /// When, ms.
    pub created_at: i64,
}

/// A click of the program: (affiliate id, created at).
pub fn find(
    c: &mut super::DbConn,
    program_id: &str,
    click_id: &str,
) -> QueryResult<Option<(String, i64)>> {
    clicks::table
        .find(click_id)
        .filter(clicks::program_id.eq(program_id))
        .select((clicks::affiliate_id, clicks::created_at))
        .first(c)
        .optional()
}
