//! Every bound the rules put on what a transaction may carry: names, ids, lists and
//! figures. Refusals cite them; the node's admission and the CLI read them from here.

use crate::types::Amount;

/// Longest entity holder name accepted.
pub const MAX_HOLDER_NAME_CHARS: usize = 128;

/// Longest project id accepted.
pub const MAX_PROJECT_ID_CHARS: usize = 64;

/// Most participant accounts of a CDM project.
pub const MAX_PARTICIPANTS: usize = 32;

/// Largest inventory figure (and serial range) accepted: 10^13 t CO2e, far above any
/// country's annual emissions, so that sums over years and periods cannot overflow.
pub const MAX_INVENTORY_AMOUNT: Amount = 10_000_000_000_000;

/// Longest proposal title accepted.
pub const MAX_TITLE_CHARS: usize = 200;
