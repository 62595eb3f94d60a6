//! Registry accounts (decision 13/CMP.1, "modalities for the accounting of assigned
//! amounts"): a Party's registry authority opens entity holding accounts for the legal
//! entities it authorises to hold units (Art. 6.3, 17).

use crate::limits::MAX_HOLDER_NAME_CHARS;
use crate::plan::Plan;
use crate::refusal::{InvalidArgument, Refusal};
use crate::state::{Account, Holder, State};
use crate::types::{AccountId, AccountKind, PartyCode, PublicKey};

impl State {
    pub(crate) fn plan_open(
        &self,
        signer: &PublicKey,
        party: &PartyCode,
        holder_name: &str,
        holder_key: &PublicKey,
    ) -> Result<Plan, Refusal> {
        let p = self.authority_of(party, signer, "open accounts")?;
        let name = holder_name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_HOLDER_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(Refusal::InvalidArgument(InvalidArgument::HolderName));
        }
        let id = AccountId {
            party: party.clone(),
            kind: AccountKind::EntityHolding,
            number: p.next_entity_account,
        };
        Ok(Plan::Open {
            account: Account {
                id,
                holder: Holder::Key(*holder_key),
                holder_name: name.to_owned(),
                blocks: Vec::new(),
            },
        })
    }
}
