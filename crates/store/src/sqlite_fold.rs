//! SQLite's built-in `lower()` folds ASCII only, so `LOWER(name) = 'öztürk'` would miss
//! `ÖZTÜRK` where PostgreSQL finds it. Every SQLite connection Roster opens replaces
//! `lower()` with the core's `fold_case`, which folds like PostgreSQL's `lower()`; no index
//! or schema depends on it, so other tools may still open the file.

use std::ffi::c_int;

use libsqlite3_sys as ffi;
use roster_core::domain::fold_case;

/// Registers `lower(text)` on the connection `db`; returns SQLite's result code.
///
/// # Safety
/// `db` must be an open connection that no other thread uses during the call.
pub unsafe fn register_lower(db: *mut ffi::sqlite3) -> c_int {
    ffi::sqlite3_create_function_v2(
        db,
        c"lower".as_ptr(),
        1,
        ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC,
        std::ptr::null_mut(),
        Some(lower),
        None,
        None,
        None,
    )
}

/// `lower(value)`: NULL stays NULL; anything else is read as UTF-8 text and folded.
unsafe extern "C" fn lower(
    ctx: *mut ffi::sqlite3_context,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) {
    if argc != 1 {
        ffi::sqlite3_result_error_code(ctx, ffi::SQLITE_MISUSE);
        return;
    }
    let value = *argv;
    if ffi::sqlite3_value_type(value) == ffi::SQLITE_NULL {
        ffi::sqlite3_result_null(ctx);
        return;
    }
    let text = ffi::sqlite3_value_text(value);
    let len = ffi::sqlite3_value_bytes(value);
    if text.is_null() || len <= 0 {
        ffi::sqlite3_result_text(ctx, c"".as_ptr(), 0, ffi::SQLITE_TRANSIENT());
        return;
    }
    let bytes = std::slice::from_raw_parts(text, len as usize);
    let folded = fold_case(&String::from_utf8_lossy(bytes));
    let Ok(folded_len) = c_int::try_from(folded.len()) else {
        ffi::sqlite3_result_error_toobig(ctx);
        return;
    };
    ffi::sqlite3_result_text(
        ctx,
        folded.as_ptr().cast(),
        folded_len,
        ffi::SQLITE_TRANSIENT(),
    );
}
