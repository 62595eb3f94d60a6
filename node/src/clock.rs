//! Time as the node sees it: the wall clock a proposer stamps blocks with, and the
//! bounds of ledger time that every block, built here or received, must keep.

use std::time::{SystemTime, UNIX_EPOCH};

/// 9999-12-31T23:59:59.999Z: no block is timestamped after it.
pub const MAX_LEDGER_TIME_MS: i64 = 253_402_300_799_999;

/// 9998-12-31T23:59:59.999Z: the latest instant a dev chain's time may be moved to;
/// the year after it is left for the blocks that follow (each a millisecond or more
/// after the last), so that the chain never runs out of timestamps.
pub const MAX_DEV_ADVANCE_MS: i64 = 253_370_764_799_999;

/// The wall clock, ms since the Unix epoch (UTC); 0 before 1970, saturating far
/// in the future. Only the proposer reads it: ledger time is the block's timestamp.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
