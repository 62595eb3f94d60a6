//! The Kyoto rules as a pure, deterministic state machine.
//!
//! `State::apply_block(block, txs) -> receipts + changed leaves + state root`. No IO,
//! clock or randomness: the same blocks give the same state root on every node
//! (ARCHITECTURE.md, invariant 5). Transactions arrive already signature-checked; a
//! transaction the rules refuse is a [`Refusal`] value that changes nothing but its
//! signer's nonce.

pub mod accounts;
pub mod block;
pub mod calendar;
pub mod cdm;
pub mod ceremony;
mod checks;
pub mod compliance;
pub mod dev;
pub mod genesis;
pub mod governance;
pub mod invariants;
pub mod issuance;
pub mod joint_implementation;
mod leaves;
pub mod limits;
mod plan;
pub mod refusal;
pub mod state;
pub mod transfers;
pub mod tx;
pub mod types;

pub use block::{BlockContext, BlockError, BlockOutcome};
pub use compliance::Compliance;
pub use genesis::{Genesis, GenesisError, GenesisIssuance, GenesisParty, GenesisValidator};
pub use leaves::{Leaf, LeafWrite, StateError, StateKey};
pub use refusal::{InvalidArgument, NotAuthorised, Refusal};
pub use state::{
    Account, CdmRegistry, Holder, Inventory, Params, Party, PartyKind, PeriodDef, Position,
    Project, State, TreatyStatus, party_holding,
};
pub use tx::{Applied, AppliedKind, Receipt, SerialRange, Tx, TxKind, UnitFilter};
pub use types::{
    AccountId, AccountKind, Activity, Amount, Eligibility, Hash, PartyCode, Period, PublicKey,
    SerialBlock, Total, UnitType,
};
