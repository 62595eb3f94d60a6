//! Transactions as the ledger sees them: already decoded and signature-checked at the
//! boundary (`crate::tx`), so the ledger only applies the Kyoto rules. Receipts are
//! the ledger's answer for each transaction of a block.

use super::refusal::Refusal;
use super::types::{AccountId, Amount, Hash, PartyCode, Period, PublicKey, SerialBlock, UnitType};

/// Which units a transfer moves; the ledger takes the lowest serials held that match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitFilter {
    pub unit_type: UnitType,
    pub period: Period,
    pub origin: Option<PartyCode>,
}

impl UnitFilter {
    pub fn matches(&self, b: &SerialBlock) -> bool {
        b.unit_type == self.unit_type
            && b.applicable_period == self.period
            && self.origin.as_ref().is_none_or(|o| &b.origin == o)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxKind {
    /// Issuance by a Party's registry authority (Art. 3.7 for AAUs).
    IssueUnits {
        party: PartyCode,
        unit_type: UnitType,
        period: Period,
        amount: Amount,
        to: Option<AccountId>,
    },
    /// Internal (one registry) or external (two registries, Art. 3.10-3.12) transfer.
    TransferUnits {
        from: AccountId,
        to: AccountId,
        amount: Amount,
        units: UnitFilter,
    },
    /// A Party authorises an entity to hold units (Art. 6.3, 17).
    OpenAccount {
        party: PartyCode,
        holder_name: String,
        holder_key: PublicKey,
    },
}

/// A transaction whose signature was verified at the boundary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tx {
    pub hash: Hash,
    pub signer: PublicKey,
    pub nonce: u64,
    pub kind: TxKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppliedKind {
    Issuance,
    InternalTransfer,
    ExternalTransfer,
    AccountOpened,
}

impl AppliedKind {
    pub fn name(self) -> &'static str {
        match self {
            AppliedKind::Issuance => "issuance",
            AppliedKind::InternalTransfer => "internal_transfer",
            AppliedKind::ExternalTransfer => "external_transfer",
            AppliedKind::AccountOpened => "account_opened",
        }
    }
}

/// What an applied transaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub kind: AppliedKind,
    pub amount: Amount,
    /// The exact serial ranges issued or moved.
    pub serials: Vec<SerialBlock>,
    pub from: Option<AccountId>,
    pub to: Option<AccountId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub index: u32,
    pub tx_hash: Hash,
    pub signer: PublicKey,
    pub nonce: u64,
    pub outcome: Result<Applied, Refusal>,
}
