//! Refusals: a transaction the rules refuse is a value, not an error. Each has a
//! stable machine-readable code and a message naming the rule it broke. A refused
//! transaction changes no holdings, accounts or Party figures (DESIGN.md §2, inv. 4).

use std::fmt;

use super::types::{AccountId, Amount, PartyCode, Period, UnitType};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The nonce was already used by this signer (replay protection).
    NonceReused {
        nonce: u64,
        last_used: u64,
    },
    /// The nonce skips ahead of the signer's next nonce.
    NonceGap {
        nonce: u64,
        expected: u64,
    },
    UnknownParty {
        party: PartyCode,
    },
    UnknownAccount {
        account: AccountId,
    },
    /// The signer does not control the account or Party authority it acts for.
    NotAuthorised {
        what: String,
    },
    InvalidAmount,
    InvalidArgument {
        message: String,
    },
    /// The account holds fewer matching units than the transfer moves.
    InsufficientUnits {
        account: AccountId,
        unit_type: UnitType,
        period: Period,
        held: Amount,
        requested: Amount,
    },
    /// Art. 3.7: AAUs issued for a period may not exceed the assigned amount (DES 5008).
    IssuanceExceedsAssignedAmount {
        party: PartyCode,
        period: Period,
        assigned: Amount,
        issued: Amount,
        requested: Amount,
    },
    NoAssignedAmount {
        party: PartyCode,
        period: Period,
    },
    UnsupportedUnitType {
        unit_type: UnitType,
    },
    SameAccount,
    /// The units must be issued into, or moved by, an account of the acting registry.
    WrongRegistry {
        account: AccountId,
        party: PartyCode,
    },
    /// Art. 17 / Art. 25: only Parties for which the Protocol is in force trade.
    PartyNotInForce {
        party: PartyCode,
    },
    /// An origin's serial counter would overflow.
    SerialSpaceExhausted {
        origin: PartyCode,
    },
}

impl Refusal {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NonceReused { .. } => "NONCE_REUSED",
            Refusal::NonceGap { .. } => "NONCE_GAP",
            Refusal::UnknownParty { .. } => "UNKNOWN_PARTY",
            Refusal::UnknownAccount { .. } => "UNKNOWN_ACCOUNT",
            Refusal::NotAuthorised { .. } => "NOT_AUTHORISED",
            Refusal::InvalidAmount => "INVALID_AMOUNT",
            Refusal::InvalidArgument { .. } => "INVALID_ARGUMENT",
            Refusal::InsufficientUnits { .. } => "INSUFFICIENT_UNITS",
            Refusal::IssuanceExceedsAssignedAmount { .. } => "ISSUANCE_EXCEEDS_ASSIGNED_AMOUNT",
            Refusal::NoAssignedAmount { .. } => "NO_ASSIGNED_AMOUNT",
            Refusal::UnsupportedUnitType { .. } => "UNSUPPORTED_UNIT_TYPE",
            Refusal::SameAccount => "SAME_ACCOUNT",
            Refusal::WrongRegistry { .. } => "WRONG_REGISTRY",
            Refusal::PartyNotInForce { .. } => "PARTY_NOT_IN_FORCE",
            Refusal::SerialSpaceExhausted { .. } => "SERIAL_SPACE_EXHAUSTED",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NonceReused { nonce, last_used } => {
                write!(
                    f,
                    "nonce {nonce} was already used; the signer's last nonce is {last_used} (replay protection)"
                )
            }
            Refusal::NonceGap { nonce, expected } => {
                write!(
                    f,
                    "nonce {nonce} skips ahead; the signer's next nonce is {expected}"
                )
            }
            Refusal::UnknownParty { party } => write!(f, "no Party with code {party}"),
            Refusal::UnknownAccount { account } => write!(f, "no account {account}"),
            Refusal::NotAuthorised { what } => write!(f, "the signer is not authorised to {what}"),
            Refusal::InvalidAmount => f.write_str("the amount must be a positive number of units"),
            Refusal::InvalidArgument { message } => f.write_str(message),
            Refusal::InsufficientUnits {
                account,
                unit_type,
                period,
                held,
                requested,
            } => write!(
                f,
                "{account} holds {held} {unit_type} of period {period} matching the transfer, {requested} requested"
            ),
            Refusal::IssuanceExceedsAssignedAmount {
                party,
                period,
                assigned,
                issued,
                requested,
            } => write!(
                f,
                "issuing {requested} AAU would bring {party}'s period {period} issuance to more than its assigned amount of {assigned} ({issued} already issued; Art. 3.7, DES check 5008)"
            ),
            Refusal::NoAssignedAmount { party, period } => {
                write!(
                    f,
                    "{party} has no assigned amount for period {period} (Art. 3.7, Annex B)"
                )
            }
            Refusal::UnsupportedUnitType { unit_type } => {
                write!(
                    f,
                    "{unit_type} cannot be issued by this transaction in this version of the ledger"
                )
            }
            Refusal::SameAccount => f.write_str("the source and destination accounts are the same"),
            Refusal::WrongRegistry { account, party } => {
                write!(f, "{account} is not an account of {party}'s registry")
            }
            Refusal::PartyNotInForce { party } => {
                write!(
                    f,
                    "the Protocol is not in force for {party} (Art. 17, 25), so it cannot transfer or acquire units"
                )
            }
            Refusal::SerialSpaceExhausted { origin } => {
                write!(f, "the serial numbers of origin {origin} are exhausted")
            }
        }
    }
}
