//! Transactions as the ledger sees them: already decoded and signature-checked at the
//! boundary (`crate::tx`), so the ledger only applies the Kyoto rules. Receipts are
//! the ledger's answer for each transaction of a block.

use std::collections::BTreeMap;

use super::refusal::Refusal;
use super::types::{
    AccountId, AccountKind, Activity, Amount, Hash, PartyCode, Period, PublicKey, SerialBlock,
    UnitType,
};
use crate::governance::records::GovTx;

/// Which units a transaction moves; the ledger takes the lowest serials held that match
/// (expired tCERs and lCERs never match).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitFilter {
    pub unit_type: UnitType,
    /// Applicable commitment period.
    pub period: Period,
    pub origin: Option<PartyCode>,
    pub project: Option<String>,
}

impl UnitFilter {
    pub fn new(unit_type: UnitType, period: Period) -> Self {
        UnitFilter {
            unit_type,
            period,
            origin: None,
            project: None,
        }
    }

    /// Whether the block matches, at ledger time `now_ms`: units of the kind asked
    /// for that have not expired.
    pub fn matches(&self, b: &SerialBlock, now_ms: i64) -> bool {
        self.matches_kind(b) && !b.expired_at(now_ms)
    }

    /// Whether the block is of the kind asked for (type, period, origin, project),
    /// expired or not.
    pub fn matches_kind(&self, b: &SerialBlock) -> bool {
        b.unit_type == self.unit_type
            && b.applicable_period == self.period
            && self.origin.as_ref().is_none_or(|o| &b.origin == o)
            && self
                .project
                .as_ref()
                .is_none_or(|p| b.project.as_ref() == Some(p))
    }
}

/// A range of serial numbers of one origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerialRange {
    pub origin: PartyCode,
    pub start: u64,
    pub end: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxKind {
    /// Issuance by a Party's registry authority: AAUs up to the assigned amount
    /// (Art. 3.7), RMUs up to the reported net removals of the activity (Art. 3.3/3.4).
    IssueUnits {
        party: PartyCode,
        unit_type: UnitType,
        period: Period,
        amount: Amount,
        to: Option<AccountId>,
        activity: Option<Activity>,
    },
    /// Internal (one registry) or external (two registries, Art. 3.10-3.12) transfer;
    /// from the CDM pending account, the forwarding of CERs to project participants.
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
    /// Reviewed annual inventory (Art. 7, 8): emissions and net removals per activity.
    ReportInventory {
        party: PartyCode,
        year: u32,
        emissions: Amount,
        removals: BTreeMap<Activity, Amount>,
    },
    /// The host or the acquiring Party approves a JI project (Art. 6.1(a)).
    ApproveJiProject {
        project: String,
        host: PartyCode,
        acquirer: PartyCode,
    },
    /// The host converts AAUs or RMUs it holds into ERUs for an approved JI project (Art. 6).
    ConvertToEru {
        project: String,
        from: AccountId,
        amount: Amount,
        units: UnitFilter,
    },
    /// The CDM executive board registers a project hosted by a non-Annex I Party (Art. 12).
    RegisterCdmProject {
        project: String,
        host: PartyCode,
        participants: Vec<AccountId>,
    },
    /// The CDM executive board issues CERs (or tCERs/lCERs) into the pending account,
    /// less the share of proceeds for the Adaptation Fund (Art. 12.8).
    IssueCers {
        project: String,
        unit_type: UnitType,
        period: Period,
        amount: Amount,
        expiry_ms: Option<i64>,
    },
    /// Units leave circulation for good, into a cancellation account of the registry.
    CancelUnits {
        from: AccountId,
        kind: AccountKind,
        amount: Amount,
        units: UnitFilter,
    },
    /// Units are retired for a period toward compliance (Art. 3.1).
    RetireUnits {
        from: AccountId,
        amount: Amount,
        units: UnitFilter,
    },
    /// Units valid for a period become valid for the next one (Art. 3.13).
    CarryOver {
        from: AccountId,
        amount: Amount,
        units: UnitFilter,
    },
    /// Retired tCERs/lCERs that expire are covered by other units moved into the
    /// replacement account.
    ReplaceUnits {
        party: PartyCode,
        expiring: SerialRange,
        from: AccountId,
        units: UnitFilter,
    },
    /// The CDM executive board changes the expiry date of tCERs/lCERs (renewed crediting).
    ChangeExpiry { range: SerialRange, expiry_ms: i64 },
    /// Governance: proposals, consent, votes, acceptances, membership, withdrawal.
    Gov(GovTx),
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
    CerForwarding,
    AccountOpened,
    InventoryReported,
    JiApproval,
    EruConversion,
    CdmProjectRegistered,
    CerIssuance,
    Cancellation,
    Retirement,
    CarryOver,
    Replacement,
    ExpiryChange,
    ProposalSubmitted,
    ConsentGiven,
    VoteCast,
    AcceptanceDeposited,
    NonAcceptanceNotified,
    InstrumentDeposited,
    WithdrawalNotified,
}

impl AppliedKind {
    pub fn name(self) -> &'static str {
        match self {
            AppliedKind::Issuance => "issuance",
            AppliedKind::InternalTransfer => "internal_transfer",
            AppliedKind::ExternalTransfer => "external_transfer",
            AppliedKind::CerForwarding => "cer_forwarding",
            AppliedKind::AccountOpened => "account_opened",
            AppliedKind::InventoryReported => "inventory_reported",
            AppliedKind::JiApproval => "ji_approval",
            AppliedKind::EruConversion => "eru_conversion",
            AppliedKind::CdmProjectRegistered => "cdm_project_registered",
            AppliedKind::CerIssuance => "cer_issuance",
            AppliedKind::Cancellation => "cancellation",
            AppliedKind::Retirement => "retirement",
            AppliedKind::CarryOver => "carry_over",
            AppliedKind::Replacement => "replacement",
            AppliedKind::ExpiryChange => "expiry_change",
            AppliedKind::ProposalSubmitted => "proposal_submitted",
            AppliedKind::ConsentGiven => "consent_given",
            AppliedKind::VoteCast => "vote_cast",
            AppliedKind::AcceptanceDeposited => "acceptance_deposited",
            AppliedKind::NonAcceptanceNotified => "non_acceptance_notified",
            AppliedKind::InstrumentDeposited => "instrument_deposited",
            AppliedKind::WithdrawalNotified => "withdrawal_notified",
        }
    }
}

/// What an applied transaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub kind: AppliedKind,
    pub amount: Amount,
    /// The exact serial ranges issued, moved or changed (as they are after the change).
    pub serials: Vec<SerialBlock>,
    pub from: Option<AccountId>,
    pub to: Option<AccountId>,
    /// Every account whose holdings changed (for the accounts' audit trails).
    pub accounts: Vec<AccountId>,
    /// The units each account received, in order: an issuance may credit several (a
    /// CER issuance puts the share of proceeds in the Adaptation Fund's account,
    /// Art. 12.8); a move credits its destination.
    pub credited: Vec<(AccountId, Amount)>,
    /// The proposal a governance act concerns (submitted, consented to, voted on,
    /// accepted or not accepted).
    pub proposal: Option<u64>,
    /// A vote: the votes it counts for under Art. 22 (1 for a State; for a REIO, its
    /// member States that are Parties when it votes).
    pub weight: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub index: u32,
    pub tx_hash: Hash,
    pub signer: PublicKey,
    pub nonce: u64,
    pub outcome: Result<Applied, Refusal>,
}
