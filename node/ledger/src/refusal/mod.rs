//! Refusals: a transaction the rules refuse is a value, not an error. Each has a
//! stable machine-readable code and a message naming the rule it broke. A refused
//! transaction changes no holdings, accounts or Party figures (ARCHITECTURE.md, invariant 4).

mod named;

use std::fmt;

pub use named::{InvalidArgument, NotAuthorised};

use super::types::{AccountId, Activity, Amount, PartyCode, Period, UnitType};

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
    NotAuthorised(NotAuthorised),
    InvalidAmount,
    /// A field of the transaction breaks a rule of its own.
    InvalidArgument(InvalidArgument),
    /// The account holds fewer matching units than the transfer moves.
    InsufficientUnits {
        account: AccountId,
        unit_type: UnitType,
        period: Period,
        held: Amount,
        requested: Amount,
    },
    /// The account holds enough units of the kind, but some of them are tCERs or
    /// lCERs past their expiry date (decision 5/CMP.1): expired units move no more.
    UnitsExpired {
        account: AccountId,
        unit_type: UnitType,
        period: Period,
        held: Amount,
        expired: Amount,
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
        /// What it tried to do ("issue units", "transfer or acquire units", ...).
        act: String,
    },
    /// An origin's serial counter would overflow.
    SerialSpaceExhausted {
        origin: PartyCode,
    },
    UnknownPeriod {
        period: Period,
    },
    /// After the period's true-up, issuance and retirement for it are closed.
    PeriodClosed {
        period: Period,
    },
    /// Carry-over opens only after the period's true-up (Art. 3.13).
    PeriodNotEnded {
        period: Period,
    },
    /// Art. 3.3/3.4: RMUs are issued only for reported net removals.
    RmuExceedsRemovals {
        party: PartyCode,
        period: Period,
        activity: Activity,
        available: Amount,
        requested: Amount,
    },
    /// The Party may not use the mechanism (Art. 6, 12, 17).
    NotEligible {
        party: PartyCode,
        rule: String,
    },
    /// Decision 11/CMP.1: a transfer would leave the Party below its reserve.
    CprBreach {
        party: PartyCode,
        period: Period,
        reserve: Amount,
        would_hold: super::types::Total,
    },
    /// Decision 13/CMP.1 limit on CERs / ERUs carried over.
    CarryOverLimit {
        unit_type: UnitType,
        limit: Amount,
        already: super::types::Total,
        requested: Amount,
    },
    /// RMUs, ERUs converted from RMUs, tCERs and lCERs are never carried over.
    CarryOverNotAllowed {
        unit_type: UnitType,
    },
    /// Carry-over needs the Party to have met its commitment for the period (Art. 3.1).
    NotInCompliance {
        party: PartyCode,
        period: Period,
    },
    /// Retired and replacement units never move again.
    UnitRetired {
        account: AccountId,
    },
    /// Cancelled units have left circulation for good.
    UnitCancelled {
        account: AccountId,
    },
    UnitNotFound {
        what: String,
    },
    AlreadyReplaced {
        what: String,
    },
    UnknownProject {
        project: String,
    },
    /// Art. 6.1(a): both the host and the acquiring Party must approve a JI project.
    ProjectNotApproved {
        project: String,
    },
    ProjectConflict {
        project: String,
        reason: String,
    },
    /// CERs are forwarded only to the project's participants.
    NotProjectParticipant {
        project: String,
        account: AccountId,
    },
    /// The account cannot receive units this way.
    WrongAccountType {
        account: AccountId,
        reason: String,
    },
    UnknownProposal {
        id: u64,
    },
    /// Only Parties for which the Protocol is in force act in governance.
    NotAParty {
        party: PartyCode,
    },
    VotingNotOpen {
        id: u64,
        opens: String,
    },
    VotingClosed {
        id: u64,
    },
    AlreadyVoted {
        party: PartyCode,
        id: u64,
    },
    /// Art. 22.2: a REIO votes only in matters within its competence.
    OutsideReioCompetence {
        party: PartyCode,
        class: &'static str,
    },
    /// Art. 22.2: a REIO may not vote once any of its member States has.
    ReioMemberAlreadyVoted {
        reio: PartyCode,
        member: PartyCode,
    },
    /// Art. 22.2: a member State may not vote once its REIO has.
    MemberStateReioAlreadyVoted {
        member: PartyCode,
        reio: PartyCode,
    },
    NotAdopted {
        id: u64,
    },
    AlreadyAccepted {
        party: PartyCode,
        id: u64,
    },
    AlreadyInForce {
        id: u64,
    },
    /// A deposit for a State whose instrument already stands (its status says how).
    AlreadyAParty {
        party: PartyCode,
        status: super::state::TreatyStatus,
    },
    AlreadyWithdrawing {
        party: PartyCode,
    },
    /// Art. 27.1: notice no earlier than three years after entry into force.
    WithdrawalTooEarly {
        party: PartyCode,
        earliest: String,
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
            Refusal::NotAuthorised(_) => "NOT_AUTHORISED",
            Refusal::InvalidAmount => "INVALID_AMOUNT",
            Refusal::InvalidArgument(_) => "INVALID_ARGUMENT",
            Refusal::InsufficientUnits { .. } => "INSUFFICIENT_UNITS",
            Refusal::UnitsExpired { .. } => "UNITS_EXPIRED",
            Refusal::IssuanceExceedsAssignedAmount { .. } => "ISSUANCE_EXCEEDS_ASSIGNED_AMOUNT",
            Refusal::NoAssignedAmount { .. } => "NO_ASSIGNED_AMOUNT",
            Refusal::UnsupportedUnitType { .. } => "UNSUPPORTED_UNIT_TYPE",
            Refusal::SameAccount => "SAME_ACCOUNT",
            Refusal::WrongRegistry { .. } => "WRONG_REGISTRY",
            Refusal::PartyNotInForce { .. } => "PARTY_NOT_IN_FORCE",
            Refusal::SerialSpaceExhausted { .. } => "SERIAL_SPACE_EXHAUSTED",
            Refusal::UnknownPeriod { .. } => "UNKNOWN_PERIOD",
            Refusal::PeriodClosed { .. } => "PERIOD_CLOSED",
            Refusal::PeriodNotEnded { .. } => "PERIOD_NOT_ENDED",
            Refusal::RmuExceedsRemovals { .. } => "RMU_EXCEEDS_REMOVALS",
            Refusal::NotEligible { .. } => "NOT_ELIGIBLE",
            Refusal::CprBreach { .. } => "CPR_BREACH",
            Refusal::CarryOverLimit { .. } => "CARRY_OVER_LIMIT",
            Refusal::CarryOverNotAllowed { .. } => "CARRY_OVER_NOT_ALLOWED",
            Refusal::NotInCompliance { .. } => "NOT_IN_COMPLIANCE",
            Refusal::UnitRetired { .. } => "UNIT_RETIRED",
            Refusal::UnitCancelled { .. } => "UNIT_CANCELLED",
            Refusal::UnitNotFound { .. } => "UNIT_NOT_FOUND",
            Refusal::AlreadyReplaced { .. } => "ALREADY_REPLACED",
            Refusal::UnknownProject { .. } => "UNKNOWN_PROJECT",
            Refusal::ProjectNotApproved { .. } => "PROJECT_NOT_APPROVED",
            Refusal::ProjectConflict { .. } => "PROJECT_CONFLICT",
            Refusal::NotProjectParticipant { .. } => "NOT_PROJECT_PARTICIPANT",
            Refusal::WrongAccountType { .. } => "WRONG_ACCOUNT_TYPE",
            Refusal::UnknownProposal { .. } => "UNKNOWN_PROPOSAL",
            Refusal::NotAParty { .. } => "NOT_A_PARTY",
            Refusal::VotingNotOpen { .. } => "VOTING_NOT_OPEN",
            Refusal::VotingClosed { .. } => "VOTING_CLOSED",
            Refusal::AlreadyVoted { .. } => "ALREADY_VOTED",
            Refusal::OutsideReioCompetence { .. } => "OUTSIDE_REIO_COMPETENCE",
            Refusal::ReioMemberAlreadyVoted { .. } => "REIO_MEMBER_ALREADY_VOTED",
            Refusal::MemberStateReioAlreadyVoted { .. } => "MEMBER_STATE_REIO_ALREADY_VOTED",
            Refusal::NotAdopted { .. } => "NOT_ADOPTED",
            Refusal::AlreadyAccepted { .. } => "ALREADY_ACCEPTED",
            Refusal::AlreadyInForce { .. } => "ALREADY_IN_FORCE",
            Refusal::AlreadyAParty { .. } => "ALREADY_A_PARTY",
            Refusal::AlreadyWithdrawing { .. } => "ALREADY_WITHDRAWING",
            Refusal::WithdrawalTooEarly { .. } => "WITHDRAWAL_TOO_EARLY",
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
            Refusal::NotAuthorised(what) => write!(f, "the signer is not authorised to {what}"),
            Refusal::InvalidAmount => f.write_str("the amount must be a positive number of units"),
            Refusal::InvalidArgument(rule) => write!(f, "{rule}"),
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
            Refusal::UnitsExpired {
                account,
                unit_type,
                period,
                held,
                expired,
                requested,
            } => write!(
                f,
                "{account} holds {held} unexpired {unit_type} of period {period} matching the transfer, {requested} requested; {expired} more are past their expiry date and can no longer be moved"
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
            Refusal::PartyNotInForce { party, act } => {
                write!(
                    f,
                    "the Protocol is not in force for {party} (Art. 24, 25, 27), so it cannot {act}"
                )
            }
            Refusal::SerialSpaceExhausted { origin } => {
                write!(f, "the serial numbers of origin {origin} are exhausted")
            }
            Refusal::UnknownPeriod { period } => {
                write!(f, "there is no commitment period {period}")
            }
            Refusal::PeriodClosed { period } => {
                write!(
                    f,
                    "commitment period {period} is closed: its additional period for fulfilling commitments (true-up) has ended"
                )
            }
            Refusal::PeriodNotEnded { period } => write!(
                f,
                "units of period {period} can be carried over only after its true-up has ended (Art. 3.13, decision 13/CMP.1)"
            ),
            Refusal::RmuExceedsRemovals {
                party,
                period,
                activity,
                available,
                requested,
            } => write!(
                f,
                "{party} may issue at most {available} more RMUs for {activity} in period {period} (its reported net removals, Art. 3.3/3.4); {requested} requested"
            ),
            Refusal::NotEligible { party, rule } => write!(f, "{party} is not eligible: {rule}"),
            Refusal::CprBreach {
                party,
                period,
                reserve,
                would_hold,
            } => write!(
                f,
                "transfer would leave {party} below its commitment period reserve of {reserve} for period {period} (it would hold {would_hold}; decision 11/CMP.1)"
            ),
            Refusal::CarryOverLimit {
                unit_type,
                limit,
                already,
                requested,
            } => write!(
                f,
                "carrying over {requested} {unit_type} would exceed the limit of {limit} (2.5 % of the assigned amount, decision 13/CMP.1); {already} already carried over"
            ),
            Refusal::CarryOverNotAllowed { unit_type } => {
                write!(
                    f,
                    "{unit_type} cannot be carried over to the next period (Art. 3.13, decision 13/CMP.1)"
                )
            }
            Refusal::NotInCompliance { party, period } => write!(
                f,
                "{party} has not retired units covering its reviewed emissions for period {period} (Art. 3.1), so it has no surplus to carry over"
            ),
            Refusal::UnitRetired { account } => {
                write!(f, "units in {account} are retired and never move again")
            }
            Refusal::UnitCancelled { account } => write!(
                f,
                "units in {account} are cancelled and have left circulation"
            ),
            Refusal::UnitNotFound { what } => write!(f, "{what}"),
            Refusal::AlreadyReplaced { what } => write!(f, "{what} was already replaced"),
            Refusal::UnknownProject { project } => write!(f, "no project {project}"),
            Refusal::ProjectNotApproved { project } => write!(
                f,
                "JI project {project} is not approved by both its host and its acquiring Party (Art. 6.1(a))"
            ),
            Refusal::ProjectConflict { project, reason } => {
                write!(f, "project {project}: {reason}")
            }
            Refusal::NotProjectParticipant { project, account } => {
                write!(
                    f,
                    "{account} is not a participant account of CDM project {project}"
                )
            }
            Refusal::WrongAccountType { account, reason } => write!(f, "{account}: {reason}"),
            Refusal::UnknownProposal { id } => write!(f, "no proposal {id}"),
            Refusal::NotAParty { party } => write!(
                f,
                "the Protocol is not in force for {party}, so it takes no part in governance"
            ),
            Refusal::VotingNotOpen { id, opens } => {
                write!(
                    f,
                    "voting on proposal {id} opens on {opens}, after the notice period (Art. 20.2, 21.3)"
                )
            }
            Refusal::VotingClosed { id } => write!(f, "voting on proposal {id} is closed"),
            Refusal::AlreadyVoted { party, id } => {
                write!(f, "{party} has already voted on proposal {id}")
            }
            Refusal::OutsideReioCompetence { party, class } => {
                write!(
                    f,
                    "{party} votes only in matters within its competence, and {class} is not one (Art. 22.2)"
                )
            }
            Refusal::ReioMemberAlreadyVoted { reio, member } => write!(
                f,
                "{reio} may not exercise its right to vote: its member State {member} has voted on this proposal (Art. 22.2)"
            ),
            Refusal::MemberStateReioAlreadyVoted { member, reio } => write!(
                f,
                "{member} may not vote: {reio}, of which it is a member, has voted on this proposal (Art. 22.2)"
            ),
            Refusal::NotAdopted { id } => write!(f, "proposal {id} has not been adopted"),
            Refusal::AlreadyAccepted { party, id } => {
                write!(f, "{party} has already accepted proposal {id}")
            }
            Refusal::AlreadyInForce { id } => write!(
                f,
                "proposal {id} has already entered into force (Art. 21.5)"
            ),
            Refusal::AlreadyAParty { party, status } => match status {
                super::state::TreatyStatus::Deposited {
                    deposited,
                    in_force_from,
                } if in_force_from.is_empty() => write!(
                    f,
                    "{party} has already deposited its instrument, on {deposited}; the Protocol enters into force for it once it enters into force itself (Art. 25.1, 25.3)"
                ),
                super::state::TreatyStatus::Deposited {
                    deposited,
                    in_force_from,
                } => write!(
                    f,
                    "{party} has already deposited its instrument, on {deposited}; the Protocol enters into force for it on {in_force_from} (Art. 25.3)"
                ),
                super::state::TreatyStatus::InForce { since } => write!(
                    f,
                    "{party} is already a Party: the Protocol is in force for it since {since}"
                ),
                super::state::TreatyStatus::WithdrawalNotified { effective, .. } => write!(
                    f,
                    "{party} is still a Party until its withdrawal takes effect on {effective} (Art. 27.2); it may accede again after that (Art. 24)"
                ),
                // Never refused: a signatory ratifies, a withdrawn State accedes again.
                super::state::TreatyStatus::Signatory
                | super::state::TreatyStatus::Withdrawn { .. } => {
                    write!(f, "{party} may deposit an instrument (Art. 24)")
                }
            },
            Refusal::AlreadyWithdrawing { party } => {
                write!(f, "{party} has already given notice of withdrawal")
            }
            Refusal::WithdrawalTooEarly { party, earliest } => write!(
                f,
                "{party} may give notice of withdrawal only three years after the Protocol entered into force for it, from {earliest} (Art. 27.1)"
            ),
        }
    }
}
