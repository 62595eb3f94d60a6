//! The ledger's invariants (ARCHITECTURE.md, "Invariants"), checked over the whole state. Debug builds
//! check them after every committed block; the property tests after every block.

use std::collections::BTreeMap;

use super::genesis::CDM_REGISTRY;
use super::state::State;
use super::types::{Amount, PartyCode, Total, UnitType};

impl State {
    /// Checks every invariant; the error names the first one broken.
    pub fn check_invariants(&self) -> Result<(), String> {
        // No serial is held twice: blocks of one origin, across all accounts, are disjoint.
        let mut blocks: Vec<(&PartyCode, u64, u64)> = self
            .accounts
            .values()
            .flat_map(|a| a.blocks.iter())
            .map(|b| (&b.origin, b.start, b.end))
            .collect();
        blocks.sort();
        for w in blocks.windows(2) {
            if w[0].0 == w[1].0 && w[1].1 <= w[0].2 {
                return Err(format!(
                    "serials {}..={} of {} are held twice",
                    w[1].1,
                    w[0].2.min(w[1].2),
                    w[0].0
                ));
            }
        }
        // Conservation: per origin, the units held are exactly the serials issued.
        let mut held: BTreeMap<&PartyCode, Amount> = BTreeMap::new();
        for (origin, start, end) in &blocks {
            *held.entry(origin).or_insert(0) += end - start + 1;
        }
        for (origin, n) in &held {
            let issued = if origin.as_str() == CDM_REGISTRY {
                self.cdm.next_serial - 1
            } else {
                self.parties.get(*origin).map_or(0, |p| p.next_serial - 1)
            };
            if *n != issued {
                return Err(format!(
                    "{n} units of origin {origin} exist, {issued} were issued"
                ));
            }
        }
        for p in self.parties.values() {
            // Art. 3.7: AAU issuance within the assigned amount.
            for (period, aa) in &p.assigned_amounts {
                if p.position(UnitType::Aau, *period).issued > *aa {
                    return Err(format!(
                        "{} issued more AAUs than its assigned amount for period {period}",
                        p.code
                    ));
                }
            }
            // The reserve's running total equals what the registry holds outside
            // cancellation accounts.
            let mut reserve: BTreeMap<u32, Total> = BTreeMap::new();
            for b in self
                .registry_accounts(&p.code)
                .filter(|a| !a.id.kind.is_cancellation())
                .flat_map(|a| a.blocks.iter())
            {
                *reserve.entry(b.applicable_period).or_insert(0) += Total::from(b.count());
            }
            let stored: BTreeMap<u32, Total> = p
                .reserve_holdings
                .iter()
                .filter(|(_, v)| **v > 0)
                .map(|(k, v)| (*k, *v))
                .collect();
            if reserve != stored {
                return Err(format!(
                    "{}'s running total toward the reserve {stored:?} differs from its holdings {reserve:?}",
                    p.code
                ));
            }
            // Art. 3.10/3.11/3.12: the registry holds what its accounting says.
            let holdings = self.registry_holdings(&p.code);
            for key in holdings.keys().chain(p.positions.keys()) {
                let h =
                    i128::try_from(holdings.get(key).copied().unwrap_or(0)).unwrap_or(i128::MAX);
                if h != p.position(key.0, key.1).expected_holdings() {
                    return Err(format!(
                        "{} holds {h} {} of period {} but its accounting says otherwise",
                        p.code, key.0, key.1
                    ));
                }
            }
        }
        // RMUs are never carried over; blocks are well formed.
        for b in self.accounts.values().flat_map(|a| a.blocks.iter()) {
            if b.end < b.start {
                return Err(format!(
                    "malformed block {}..={} of {}",
                    b.start, b.end, b.origin
                ));
            }
            if matches!(b.unit_type, UnitType::Rmu | UnitType::EruFromRmu)
                && b.applicable_period != b.original_period
            {
                return Err(format!(
                    "{} serials {}..={} were carried over",
                    b.unit_type, b.start, b.end
                ));
            }
        }
        Ok(())
    }
}
