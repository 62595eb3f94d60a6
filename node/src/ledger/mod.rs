//! The Kyoto rules as a pure, deterministic state machine.
//!
//! `State::apply_block(block, txs) -> receipts + changed leaves + state root`. No IO,
//! clock or randomness: the same blocks give the same state root on every node
//! (DESIGN.md §2, invariant 5). Transactions arrive already signature-checked; a
//! transaction the rules refuse is a [`Refusal`] value that changes nothing but its
//! signer's nonce.

pub mod apply;
pub mod genesis;
pub mod refusal;
pub mod state;
pub mod tx;
pub mod types;

pub use apply::{BlockContext, BlockError, BlockOutcome};
pub use genesis::{Genesis, GenesisError, GenesisIssuance, GenesisParty, GenesisValidator};
pub use refusal::Refusal;
pub use state::{
    Account, Holder, LeafWrite, Party, PartyKind, Position, State, StateError, TreatyStatus,
    party_holding,
};
pub use tx::{Applied, AppliedKind, Receipt, Tx, TxKind, UnitFilter};
pub use types::{
    AccountId, AccountKind, Amount, Hash, PartyCode, Period, PublicKey, SerialBlock, UnitType,
};
