//! Identifiers and value types of the Kyoto ledger: Party codes, unit types, account
//! ids in the DES shape `<PARTY>-<type>-<n>`, and serial blocks.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An Ed25519 public key, the identity of every signer.
pub type PublicKey = [u8; 32];

/// A 32-byte SHA-256 digest.
pub type Hash = [u8; 32];

/// Whole tonnes of CO2 equivalent. Amounts are integers, with checked arithmetic.
pub type Amount = u64;

/// A sum of amounts that has no bound of its own (cumulative transfers, holdings
/// across origins): wide enough that no sequence of blocks can overflow it.
pub type Total = u128;

/// A commitment period, numbered from 1 (2008-2012).
pub type Period = u32;

/// A Party's code: ISO 3166 alpha-3 for States, `EU` for the European Community.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PartyCode(String);

impl PartyCode {
    /// Parses a code of two or three ASCII capital letters.
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = (2..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "`{s}` is not a Party code (two or three capital letters, e.g. JPN or EU)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PartyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Unit types (ARCHITECTURE.md, "Invariants"). The discriminants equal the protobuf enum values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum UnitType {
    /// Assigned amount unit (Art. 3.7).
    Aau = 1,
    /// Removal unit (Art. 3.3/3.4).
    Rmu = 2,
    /// ERU converted from an AAU (Art. 6).
    EruFromAau = 3,
    /// ERU converted from an RMU (Art. 6).
    EruFromRmu = 4,
    /// Certified emission reduction (Art. 12).
    Cer = 5,
    /// Temporary CER.
    Tcer = 6,
    /// Long-term CER.
    Lcer = 7,
}

impl UnitType {
    pub const ALL: [UnitType; 7] = [
        UnitType::Aau,
        UnitType::Rmu,
        UnitType::EruFromAau,
        UnitType::EruFromRmu,
        UnitType::Cer,
        UnitType::Tcer,
        UnitType::Lcer,
    ];

    pub fn from_i32(v: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|t| *t as i32 == v)
    }

    /// The short name used on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            UnitType::Aau => "AAU",
            UnitType::Rmu => "RMU",
            UnitType::EruFromAau => "ERU-AAU",
            UnitType::EruFromRmu => "ERU-RMU",
            UnitType::Cer => "CER",
            UnitType::Tcer => "tCER",
            UnitType::Lcer => "lCER",
        }
    }

    /// Parses the short name, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for UnitType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Account types, numbered as in the Data Exchange Standards (the CDM registry's
/// pending and Adaptation Fund accounts use numbers of our own, 500 and 510).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AccountKind {
    /// 100: the Party holding account, controlled by the Party's registry authority.
    PartyHolding,
    /// 120: a holding account of a legal entity the Party authorises (Art. 6.3, 17).
    EntityHolding,
    /// 210: net source cancellation (Art. 3.3/3.4).
    NetSourceCancellation,
    /// 220: non-compliance cancellation.
    NonComplianceCancellation,
    /// 230: voluntary cancellation.
    VoluntaryCancellation,
    /// 250: excess issuance cancellation (CDM).
    ExcessIssuanceCancellation,
    /// 300: retirement, one account per commitment period (its number), Art. 3.1.
    Retirement,
    /// 411: tCER replacement for expiry.
    TcerReplacement,
    /// 421: lCER replacement for expiry.
    LcerReplacement,
    /// 500: the CDM registry's pending account (CERs before forwarding, Art. 12).
    CdmPending,
    /// 510: the CDM registry's Adaptation Fund account (share of proceeds, Art. 12.8).
    AdaptationFund,
}

impl AccountKind {
    const TABLE: [(AccountKind, u16, &'static str); 11] = [
        (AccountKind::PartyHolding, 100, "party_holding"),
        (AccountKind::EntityHolding, 120, "entity_holding"),
        (
            AccountKind::NetSourceCancellation,
            210,
            "net_source_cancellation",
        ),
        (
            AccountKind::NonComplianceCancellation,
            220,
            "non_compliance_cancellation",
        ),
        (
            AccountKind::VoluntaryCancellation,
            230,
            "voluntary_cancellation",
        ),
        (
            AccountKind::ExcessIssuanceCancellation,
            250,
            "excess_issuance_cancellation",
        ),
        (AccountKind::Retirement, 300, "retirement"),
        (AccountKind::TcerReplacement, 411, "tcer_replacement"),
        (AccountKind::LcerReplacement, 421, "lcer_replacement"),
        (AccountKind::CdmPending, 500, "cdm_pending"),
        (AccountKind::AdaptationFund, 510, "adaptation_fund"),
    ];

    pub fn code(self) -> u16 {
        Self::TABLE
            .iter()
            .find(|(k, _, _)| *k == self)
            .map(|(_, c, _)| *c)
            .unwrap_or(0)
    }

    pub fn from_code(code: u16) -> Option<Self> {
        Self::TABLE
            .iter()
            .find(|(_, c, _)| *c == code)
            .map(|(k, _, _)| *k)
    }

    pub fn name(self) -> &'static str {
        Self::TABLE
            .iter()
            .find(|(k, _, _)| *k == self)
            .map(|(_, _, n)| *n)
            .unwrap_or("unknown")
    }

    /// Cancellation accounts: their units have left circulation for good and do not
    /// count toward the commitment period reserve.
    pub fn is_cancellation(self) -> bool {
        matches!(
            self,
            AccountKind::NetSourceCancellation
                | AccountKind::NonComplianceCancellation
                | AccountKind::VoluntaryCancellation
                | AccountKind::ExcessIssuanceCancellation
        )
    }

    /// Accounts units never leave: cancellation, retirement and replacement.
    pub fn is_final(self) -> bool {
        self.is_cancellation()
            || matches!(
                self,
                AccountKind::Retirement
                    | AccountKind::TcerReplacement
                    | AccountKind::LcerReplacement
            )
    }
}

/// Land use, land-use change and forestry activities (Art. 3.3, 3.4) for RMUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Activity {
    AfforestationReforestation = 1,
    Deforestation = 2,
    ForestManagement = 3,
    CroplandManagement = 4,
    GrazingLandManagement = 5,
    Revegetation = 6,
    WetlandDrainageRewetting = 7,
}

impl Activity {
    pub const ALL: [Activity; 7] = [
        Activity::AfforestationReforestation,
        Activity::Deforestation,
        Activity::ForestManagement,
        Activity::CroplandManagement,
        Activity::GrazingLandManagement,
        Activity::Revegetation,
        Activity::WetlandDrainageRewetting,
    ];

    pub fn from_i32(v: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|a| *a as i32 == v)
    }

    /// The short name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Activity::AfforestationReforestation => "AR",
            Activity::Deforestation => "D",
            Activity::ForestManagement => "FM",
            Activity::CroplandManagement => "CM",
            Activity::GrazingLandManagement => "GM",
            Activity::Revegetation => "RV",
            Activity::WetlandDrainageRewetting => "WDR",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Activity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An account id `<PARTY>-<type>-<n>`, e.g. `JPN-100-1`. The Party names the registry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AccountId {
    pub party: PartyCode,
    pub kind: AccountKind,
    pub number: u64,
}

impl AccountId {
    pub fn party_holding(party: &PartyCode) -> Self {
        AccountId {
            party: party.clone(),
            kind: AccountKind::PartyHolding,
            number: 1,
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        let bad =
            || format!("`{s}` is not an account id of the form <PARTY>-<type>-<n>, e.g. JPN-100-1");
        let mut parts = s.split('-');
        let (Some(p), Some(k), Some(n), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let party = PartyCode::parse(p).map_err(|_| bad())?;
        let kind = k
            .parse::<u16>()
            .ok()
            .and_then(AccountKind::from_code)
            .ok_or_else(bad)?;
        if n.starts_with('0') || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let number = n.parse::<u64>().map_err(|_| bad())?;
        Ok(AccountId {
            party,
            kind,
            number,
        })
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.party, self.kind.code(), self.number)
    }
}

/// Consecutive serial numbers `[start, end]` (inclusive) of one origin with identical
/// attributes. A unit's identity is (origin, serial); blocks never overlap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SerialBlock {
    /// The originating Party, or the CDM registry (`CDM`) for CERs.
    pub origin: PartyCode,
    pub start: u64,
    pub end: u64,
    pub unit_type: UnitType,
    pub original_period: Period,
    pub applicable_period: Period,
    /// JI or CDM project (ERU, CER, tCER, lCER).
    pub project: Option<String>,
    /// LULUCF activity (RMU, ERU converted from an RMU).
    pub activity: Option<Activity>,
    /// Expiry of a tCER or lCER, ms since the Unix epoch (UTC).
    pub expiry_ms: Option<i64>,
    /// A tCER/lCER whose expiry has been covered by replacement units.
    pub replaced: bool,
}

impl SerialBlock {
    /// A block of fresh units with no project, activity or expiry.
    pub fn new(
        origin: PartyCode,
        start: u64,
        end: u64,
        unit_type: UnitType,
        period: Period,
    ) -> Self {
        SerialBlock {
            origin,
            start,
            end,
            unit_type,
            original_period: period,
            applicable_period: period,
            project: None,
            activity: None,
            expiry_ms: None,
            replaced: false,
        }
    }

    /// Number of units in the block (`end >= start` always holds).
    pub fn count(&self) -> Amount {
        self.end - self.start + 1
    }

    /// Whether the block's units (tCERs, lCERs) are past their expiry date at ledger
    /// time `now_ms`; units without one never expire.
    pub fn expired_at(&self, now_ms: i64) -> bool {
        self.expiry_ms.is_some_and(|e| e <= now_ms)
    }

    /// Whether the block's attributes (all but the serial range) equal `other`'s.
    pub fn same_attributes(&self, other: &SerialBlock) -> bool {
        self.origin == other.origin
            && self.unit_type == other.unit_type
            && self.original_period == other.original_period
            && self.applicable_period == other.applicable_period
            && self.project == other.project
            && self.activity == other.activity
            && self.expiry_ms == other.expiry_ms
            && self.replaced == other.replaced
    }

    /// A copy of this block restricted to `[start, end]`.
    pub fn slice(&self, start: u64, end: u64) -> SerialBlock {
        SerialBlock {
            start,
            end,
            ..self.clone()
        }
    }
}

/// Which mechanisms a Party may use (Art. 6, 12, 17).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eligibility {
    /// Joint implementation: acquire and transfer ERUs (Art. 6.1).
    pub art6: bool,
    /// Clean development mechanism: acquire CERs (Art. 12).
    pub art12: bool,
    /// Emissions trading of AAUs and RMUs (Art. 17).
    pub art17: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_round_trip_and_reject_garbage() {
        let id = AccountId::parse("JPN-100-1").unwrap();
        assert_eq!(id.to_string(), "JPN-100-1");
        assert_eq!(AccountId::parse("EU-120-42").unwrap().number, 42);
        for bad in [
            "",
            "JPN",
            "JPN-100",
            "jpn-100-1",
            "JPN-999-1",
            "JPN-100-0",
            "JPN-100-01",
            "JPN-100-1-2",
            "JPN-100-+1",
            "JPN-100-x",
        ] {
            assert!(AccountId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unit_types_parse_by_name() {
        for t in UnitType::ALL {
            assert_eq!(UnitType::parse(t.name()), Some(t));
            assert_eq!(UnitType::from_i32(t as i32), Some(t));
        }
        assert_eq!(UnitType::parse("aau"), Some(UnitType::Aau));
        assert_eq!(UnitType::from_i32(0), None);
    }
}
