//! Process-wide SQLite settings that diesel's connection API cannot reach.
//!
//! SQLite 3.50 re-plans ("re-prepares") a statement every time a new value is bound to a
//! parameter that its plan looked at. `LIMIT ?` is such a parameter, and diesel binds the
//! limit of every `.first()`, `.limit(n)` and page query: so without this setting each of
//! those statements was parsed and planned again on every execution, about a tenth of the
//! SQLite writer's time under load (measured with perf on `scripts/bench-tracking`).
//!
//! The query planner stability guarantee (`SQLITE_DBCONFIG_ENABLE_QPSG`) makes plans not
//! depend on bound values, so prepared statements are reused as they should be. We never
//! run `ANALYZE`, so no plan gains anything from the values. There is no PRAGMA for it and
//! diesel does not expose the raw handle, so it is set through `sqlite3_auto_extension`,
//! which SQLite calls for every connection this process opens from then on.
#![allow(unsafe_code)]

use std::os::raw::{c_char, c_int};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use libsqlite3_sys as ffi;

static INSTALLED: Once = Once::new();
static APPLIED: AtomicBool = AtomicBool::new(false);

/// Called by SQLite for each new connection, with the connection's handle.
unsafe extern "C" fn on_open(
    db: *mut ffi::sqlite3,
    _err: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: `db` is the live handle SQLite passes to an auto extension; ENABLE_QPSG takes
    // an int (1 = on) and an optional int* for the new value, here null.
    let rc = unsafe {
        ffi::sqlite3_db_config(
            db,
            ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as c_int,
            std::ptr::null_mut::<c_int>(),
        )
    };
    if rc == ffi::SQLITE_OK {
        APPLIED.store(true, Ordering::Relaxed);
    }
    // A failure here must not refuse the connection: plans are still correct without it.
    ffi::SQLITE_OK
}

/// Registers the per-connection settings; idempotent. Call before opening connections.
pub fn install() {
    INSTALLED.call_once(|| {
        // SAFETY: `on_open` has the signature SQLite expects of an auto extension and
        // touches nothing but the handle it is given.
        let rc = unsafe { ffi::sqlite3_auto_extension(Some(on_open)) };
        if rc != ffi::SQLITE_OK {
            log::warn!("sqlite3_auto_extension failed ({rc}): statements with LIMIT ? re-plan");
        }
    });
}

/// Whether a connection opened after [`install`] got the setting.
pub fn applied() -> bool {
    APPLIED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use diesel::{Connection, SqliteConnection};

    #[test]
    fn new_connections_get_the_planner_guarantee() {
        super::install();
        let _c = SqliteConnection::establish(":memory:").expect("in-memory SQLite");
        assert!(super::applied());
    }
}
