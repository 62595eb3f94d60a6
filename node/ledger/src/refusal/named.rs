//! The rules behind the two broad refusal codes, each named: [`InvalidArgument`] (code
//! `INVALID_ARGUMENT`: a field of the transaction breaks a rule of its own, whatever
//! the state) and [`NotAuthorised`] (code `NOT_AUTHORISED`: the signer may not do
//! this). Clients match on the code; the variant says which rule, and its message is
//! the receipt's.

use crate::limits::{
    MAX_HOLDER_NAME_CHARS, MAX_INVENTORY_AMOUNT, MAX_PARTICIPANTS, MAX_TITLE_CHARS,
};
use crate::types::{AccountId, PartyCode, UnitType};

/// A field of the transaction that breaks a rule of its own.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidArgument {
    /// Accounts (Art. 17 registries).
    #[error("the holder name must be 1 to {MAX_HOLDER_NAME_CHARS} printable characters")]
    HolderName,
    #[error("a serial range must have start <= end and hold at most {MAX_INVENTORY_AMOUNT} units")]
    SerialRange,
    #[error("forwarding from the CDM pending account must name the project")]
    ForwardWithoutProject,
    /// Art. 3.3/3.4.
    #[error("an RMU issuance must name its LULUCF activity")]
    RmuWithoutActivity,
    /// Art. 6 and 12: project ids.
    #[error("`{project}` is not a project id")]
    ProjectId { project: String },
    /// Art. 6.1(a).
    #[error("the host and the acquiring Party must differ")]
    HostIsAcquirer,
    /// Art. 6: only AAUs and RMUs become ERUs.
    #[error("{unit_type} cannot be converted to ERUs; only AAUs and RMUs can (Art. 6)")]
    NotConvertible { unit_type: UnitType },
    /// Art. 12.
    #[error("a project has 1 to {MAX_PARTICIPANTS} participant accounts")]
    Participants,
    #[error("CERs do not expire")]
    CerWithExpiry,
    #[error("{unit_type}s need an expiry date in the future")]
    ExpiryNotInFuture { unit_type: UnitType },
    #[error("the new expiry date must be in the future")]
    NewExpiryNotInFuture,
    #[error("{0}")]
    PartyCode(String),
    /// Art. 3.1 and decision 13/CMP.1: cancellation and replacement.
    #[error("{kind} is not a cancellation account type")]
    NotACancellationAccount { kind: &'static str },
    #[error("{unit_type} cannot replace {temp_type}s")]
    CannotReplace {
        unit_type: UnitType,
        temp_type: UnitType,
    },
    /// Art. 5 and 7: inventories.
    #[error("{year} is not an inventory year (1990-2100)")]
    InventoryYear { year: u32 },
    #[error("inventory figures are at most {MAX_INVENTORY_AMOUNT} t CO2e")]
    InventoryAmount,
    /// Art. 20, 21: proposals.
    #[error("a title has 1 to {MAX_TITLE_CHARS} printable characters")]
    Title,
    #[error("name the annex (Annex B amendments have their own kind)")]
    AnnexName,
    #[error("Annex B lists Annex I Parties only")]
    AnnexBNotAnnexI,
    #[error("a validator needs a name of 1 to 64 characters")]
    ValidatorName,
    #[error("that key is already a validator")]
    AlreadyAValidator,
    #[error("the validator key is not a valid Ed25519 public key")]
    ValidatorKey,
    #[error("that key is not a validator")]
    NotAValidator,
    #[error("the last validator cannot be removed")]
    LastValidator,
    #[error("{0}")]
    Parameter(String),
    #[error("only Annex B amendments take a Party's consent")]
    ConsentOnlyForAnnexB,
    /// Art. 20.4, 21.5, 21.7: entry into force.
    #[error(
        "only amendments to the Protocol or to Annex B are accepted by deposit (Art. 20.4, 21.7)"
    )]
    NotAcceptedByDeposit,
    #[error("non-acceptance is notified only for annex amendments (Art. 21.5)")]
    NonAcceptanceOnlyForAnnexes,
    /// Art. 24: deposits.
    #[error(
        "{party} is in the ledger with its registry authority's key; a deposit does not change it (leave the key out)"
    )]
    AuthorityKeyUnchanged { party: PartyCode },
    #[error("a new Party needs a name")]
    NewPartyName,
    #[error("CDM names the CDM registry")]
    CdmIsTheRegistry,
    #[error("a State new to the ledger needs its registry authority's key")]
    NewPartyAuthority,
}

/// What the signer tried to do and who alone may; the message completes "the signer
/// is not authorised to …".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotAuthorised {
    #[error("{act} for {party} (only its registry authority may)")]
    NotTheAuthority { act: String, party: PartyCode },
    #[error("{act} (only the CDM executive board may)")]
    NotTheBoard { act: String },
    #[error("{act} from {account}")]
    NotTheHolder { act: String, account: AccountId },
    #[error("{act} from {account} (only a Party, from its party holding account, may)")]
    NotAPartyHoldingAccount { act: String, account: AccountId },
    /// Art. 6.1(a).
    #[error("approve JI project {project} (only {host} or {acquirer} may)")]
    NotAJiParty {
        project: String,
        host: PartyCode,
        acquirer: PartyCode,
    },
    /// Art. 23.
    #[error("record instruments of ratification (only the Depositary may, Art. 23)")]
    NotTheDepositary,
    /// Art. 21.7.
    #[error("consent for {party} (Art. 21.7: only the Party concerned may)")]
    NotThePartyConcerned { party: PartyCode },
    #[error("make a {kind} from {account}")]
    Cancellation {
        kind: &'static str,
        account: AccountId,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refusal::Refusal;

    #[test]
    fn named_rules_keep_the_broad_codes_and_their_messages() {
        let party = PartyCode::parse("JPN").unwrap();
        let invalid = Refusal::InvalidArgument(InvalidArgument::NotConvertible {
            unit_type: UnitType::Cer,
        });
        assert_eq!(invalid.code(), "INVALID_ARGUMENT");
        assert_eq!(
            invalid.to_string(),
            "CER cannot be converted to ERUs; only AAUs and RMUs can (Art. 6)"
        );
        let denied = Refusal::NotAuthorised(NotAuthorised::NotTheAuthority {
            act: "issue units".into(),
            party,
        });
        assert_eq!(denied.code(), "NOT_AUTHORISED");
        assert_eq!(
            denied.to_string(),
            "the signer is not authorised to issue units for JPN (only its registry authority may)"
        );
        assert_eq!(
            Refusal::NotAuthorised(NotAuthorised::NotTheDepositary).to_string(),
            "the signer is not authorised to record instruments of ratification (only the Depositary may, Art. 23)"
        );
    }
}
