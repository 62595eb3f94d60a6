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

/// Unit types (DESIGN.md §2). The discriminants equal the protobuf enum values.
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

/// Account types, numbered as in the Data Exchange Standards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AccountKind {
    /// 100: the Party holding account, controlled by the Party's registry authority.
    PartyHolding,
    /// 120: a holding account of a legal entity the Party authorises (Art. 6.3, 17).
    EntityHolding,
}

impl AccountKind {
    pub fn code(self) -> u16 {
        match self {
            AccountKind::PartyHolding => 100,
            AccountKind::EntityHolding => 120,
        }
    }

    pub fn from_code(code: u16) -> Option<Self> {
        match code {
            100 => Some(AccountKind::PartyHolding),
            120 => Some(AccountKind::EntityHolding),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AccountKind::PartyHolding => "party_holding",
            AccountKind::EntityHolding => "entity_holding",
        }
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
    pub origin: PartyCode,
    pub start: u64,
    pub end: u64,
    pub unit_type: UnitType,
    pub original_period: Period,
    pub applicable_period: Period,
}

impl SerialBlock {
    /// Number of units in the block (`end >= start` always holds).
    pub fn count(&self) -> Amount {
        self.end - self.start + 1
    }

    /// Whether the block's attributes (all but the serial range) equal `other`'s.
    pub fn same_attributes(&self, other: &SerialBlock) -> bool {
        self.origin == other.origin
            && self.unit_type == other.unit_type
            && self.original_period == other.original_period
            && self.applicable_period == other.applicable_period
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
