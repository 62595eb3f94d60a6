//! `kyotod genesis`: a genesis ceremony between independent registries, one command
//! per step (README, "A genesis ceremony between registries"). The rules are the
//! ledger's (`kyoto_node::ledger::ceremony`); this is their files and messages.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use kyoto_node::crypto;
use kyoto_node::dev::{self, PartyRow};
use kyoto_node::ledger::calendar::parse_instant_ms;
use kyoto_node::ledger::ceremony::{self, Statement, StatementRole};
use kyoto_node::ledger::{self, Genesis};

#[derive(Debug, clap::Subcommand)]
pub enum Step {
    /// Coordinator: write the draft genesis (treaty data, no keys) from a table of
    /// Parties, and print its hash.
    Draft {
        /// The Parties, as CSV in the layout of node/ledger/data/parties.csv or as a
        /// JSON array of objects with its fields (FILE ending in .json); default: the
        /// built-in table of every Party and signatory.
        #[arg(long, value_name = "FILE")]
        parties: Option<PathBuf>,
        /// The chain id.
        #[arg(long)]
        chain_id: String,
        /// Ledger time at height 0: a date (midnight UTC) or an RFC 3339 time.
        #[arg(long, value_name = "TIME", default_value = "2008-01-01")]
        genesis_time: String,
        /// Notice before voting opens on a proposal, months (the treaty: 6).
        #[arg(long, default_value_t = 6)]
        notice_months: u32,
        /// Test networks: a voting session lasts this many seconds instead of 14 days
        /// (0 = the treaty durations).
        #[arg(long, default_value_t = 0)]
        session_seconds: u32,
        /// Let a Party's registry run more than one validator (default: one each).
        #[arg(long)]
        several_validators_per_party: bool,
        /// No Depositary: membership is fixed at genesis (no statement for one).
        #[arg(long)]
        no_depositary: bool,
        /// Where to write the draft; an existing file is not overwritten.
        #[arg(long, value_name = "FILE", default_value = "draft.json")]
        out: PathBuf,
    },
    /// Each registry, on its own machine: make its keys in DIR (or use those already
    /// there) and a statement of them for the draft, signed by each key.
    #[command(group = clap::ArgGroup::new("speaker").required(true).multiple(false))]
    Statement {
        /// The draft the coordinator sent.
        #[arg(long, value_name = "FILE")]
        draft: PathBuf,
        /// The registry's home directory: DIR/<CODE>.key (authority), DIR/validator.key,
        /// DIR/validator-2.key, ... and the statement.
        #[arg(long, value_name = "DIR")]
        home: PathBuf,
        /// The Party this registry speaks for.
        #[arg(long, value_name = "CODE", group = "speaker")]
        party: Option<String>,
        /// Speak for the CDM executive board (Art. 12).
        #[arg(long, group = "speaker")]
        cdm_board: bool,
        /// Speak for the Depositary (Art. 23).
        #[arg(long, group = "speaker")]
        depositary: bool,
        /// Validators the Party's registry runs (default 1; the CDM board and the
        /// Depositary run none).
        #[arg(long, value_name = "N")]
        validators: Option<usize>,
        /// Where to write the statement (default DIR/statement-<CODE>.json).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Coordinator: check every statement and write the genesis they and the draft give.
    Collect {
        /// The draft the statements were made on.
        #[arg(long, value_name = "FILE")]
        draft: PathBuf,
        /// Where to write the genesis.
        #[arg(long, value_name = "FILE", default_value = "genesis.json")]
        out: PathBuf,
        /// The statements, one file each.
        #[arg(required = true, value_name = "STATEMENT")]
        statements: Vec<PathBuf>,
    },
    /// Every registry: check a collected genesis — its treaty data, every statement's
    /// signature, that its keys are exactly the statements' — and print its hash, to
    /// compare out of band.
    Validate {
        /// The genesis the coordinator sent.
        genesis: PathBuf,
        /// Also check that the genesis was made from this draft.
        #[arg(long, value_name = "FILE")]
        draft: Option<PathBuf>,
        /// Also check that this registry's own statement is in it.
        #[arg(long, value_name = "FILE")]
        statement: Option<PathBuf>,
    },
}

/// Reads a table of Parties: JSON if the file name ends in `.json`, else CSV.
pub fn read_party_rows(path: &Path) -> anyhow::Result<Vec<PartyRow>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let rows = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        dev::parse_party_rows_json(&text)
    } else {
        dev::parse_party_rows(&text)
    }
    .map_err(anyhow::Error::msg)
    .with_context(|| format!("in {}", path.display()))?;
    if rows.is_empty() {
        bail!("{} lists no Party", path.display());
    }
    Ok(rows)
}

fn read_genesis(path: &Path) -> anyhow::Result<Genesis> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Genesis::from_json(&bytes).with_context(|| format!("in {}", path.display()))
}

fn read_statement(path: &Path) -> anyhow::Result<Statement> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    ceremony::parse_statement(&bytes).with_context(|| format!("in {}", path.display()))
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The key in `path`, or a new one written there.
fn key_at(path: &Path) -> anyhow::Result<(ed25519_dalek::SigningKey, &'static str)> {
    if path.exists() {
        return Ok((crypto::read_key_file(path)?, "kept"));
    }
    let key = crypto::generate_key();
    crypto::write_key_file(path, &key)?;
    Ok((key, "new"))
}

/// Runs one step of the ceremony.
pub fn run(step: &Step) -> anyhow::Result<()> {
    match step {
        Step::Draft {
            parties,
            chain_id,
            genesis_time,
            notice_months,
            session_seconds,
            several_validators_per_party,
            no_depositary,
            out,
        } => {
            let rows = match parties {
                Some(path) => read_party_rows(path)?,
                None => dev::party_rows().map_err(anyhow::Error::msg)?,
            };
            let time = parse_instant_ms(genesis_time)
                .map_err(anyhow::Error::msg)
                .context("--genesis-time")?;
            let mut draft = ceremony::draft_from_rows(
                &rows,
                chain_id,
                time,
                !several_validators_per_party,
                !no_depositary,
            );
            draft.params.notice_months = *notice_months;
            draft.params.session_seconds = *session_seconds;
            let hash = ceremony::check_draft(&draft)?;
            if out.exists() {
                bail!(
                    "{} exists: statements made on it would no longer match; remove it to write a new draft",
                    out.display()
                );
            }
            write_json(out, &draft)?;
            println!(
                "wrote the draft {} for chain {chain_id}: {} Parties, {}",
                out.display(),
                draft.parties.len(),
                if *no_depositary {
                    "no Depositary (membership fixed)"
                } else {
                    "a Depositary"
                }
            );
            println!(
                "send it to every registry; each runs `kyotod genesis statement --draft {} --home DIR --party CODE`",
                out.display()
            );
            println!("draft hash: {}", hex::encode(hash));
            Ok(())
        }
        Step::Statement {
            draft,
            home,
            party,
            cdm_board,
            depositary,
            validators,
            out,
        } => statement(
            draft,
            home,
            party.as_deref(),
            *cdm_board,
            *depositary,
            *validators,
            out.as_deref(),
        ),
        Step::Collect {
            draft,
            out,
            statements,
        } => {
            let draft = read_genesis(draft)?;
            let statements = statements
                .iter()
                .map(|p| read_statement(p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let genesis = ceremony::collect(&draft, statements)?;
            write_json(out, &genesis)?;
            println!(
                "wrote {} with {} statements and {} validators; every registry checks it with `kyotod genesis validate {}`",
                out.display(),
                genesis.ceremony.as_ref().map_or(0, |c| c.statements.len()),
                genesis.validators.len(),
                out.display()
            );
            println!("genesis hash: {}", hex::encode(genesis.hash()?));
            Ok(())
        }
        Step::Validate {
            genesis,
            draft,
            statement,
        } => validate(genesis, draft.as_deref(), statement.as_deref()),
    }
}

fn statement(
    draft_path: &Path,
    home: &Path,
    party: Option<&str>,
    cdm_board: bool,
    depositary: bool,
    validators: Option<usize>,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let draft = read_genesis(draft_path)?;
    let hash =
        ceremony::check_draft(&draft).with_context(|| format!("in {}", draft_path.display()))?;
    let (role, name) = match (party, cdm_board, depositary) {
        (Some(code), _, _) => {
            if !draft.parties.iter().any(|p| p.code == code) {
                bail!(
                    "{code} is not a Party of the draft {}",
                    draft_path.display()
                );
            }
            (StatementRole::Party, code.to_owned())
        }
        (None, true, _) => (
            StatementRole::CdmBoard,
            ledger::genesis::CDM_REGISTRY.to_owned(),
        ),
        _ => {
            if draft.depositary_key.is_none() {
                bail!("the draft has no Depositary: its membership is fixed");
            }
            (StatementRole::Depositary, dev::DEPOSITARY.to_owned())
        }
    };
    let count = validators.unwrap_or(usize::from(role == StatementRole::Party));
    // Checked before any key is written, so a refused statement leaves no key behind.
    if role != StatementRole::Party && count > 0 {
        bail!("the CDM board and the Depositary run no validator: a validator serves a Party");
    }
    if count > ceremony::MAX_VALIDATORS_PER_STATEMENT {
        bail!(
            "--validators {count}: a statement may name at most {}",
            ceremony::MAX_VALIDATORS_PER_STATEMENT
        );
    }
    std::fs::create_dir_all(home).with_context(|| format!("cannot create {}", home.display()))?;
    let authority_path = home.join(format!("{name}.key"));
    let (authority, fate) = key_at(&authority_path)?;
    let mut keys = Vec::new();
    let mut lines = vec![format!(
        "authority key {} ({fate})",
        authority_path.display()
    )];
    for i in 1..=count {
        let (file, vname) = if i == 1 {
            ("validator.key".to_owned(), format!("validator-{name}"))
        } else {
            (
                format!("validator-{i}.key"),
                format!("validator-{name}-{i}"),
            )
        };
        let path = home.join(file);
        let (key, fate) = key_at(&path)?;
        lines.push(format!("validator {vname} {} ({fate})", path.display()));
        keys.push((vname, key));
    }
    let party = (role == StatementRole::Party).then(|| name.clone());
    let st = ceremony::make_statement(&hash, role, party, &authority, &keys)?;
    let out = out.map_or_else(
        || home.join(format!("statement-{name}.json")),
        Path::to_path_buf,
    );
    write_json(&out, &st)?;
    println!("wrote {} for {}:", out.display(), st.body.speaker());
    for line in lines {
        println!("  {line}");
    }
    println!("send the statement (never a .key file) to the coordinator");
    println!(
        "draft hash: {} (compare it with the coordinator's)",
        hex::encode(hash)
    );
    Ok(())
}

fn validate(path: &Path, draft: Option<&Path>, statement: Option<&Path>) -> anyhow::Result<()> {
    let genesis = read_genesis(path)?;
    let hash = ceremony::validate(&genesis).with_context(|| format!("in {}", path.display()))?;
    if let Some(draft_path) = draft
        && ceremony::draft_of(&genesis) != read_genesis(draft_path)?
    {
        bail!(
            "{} was not made from the draft {}: its treaty data or parameters differ",
            path.display(),
            draft_path.display()
        );
    }
    if let Some(st_path) = statement {
        let mine = read_statement(st_path)?;
        let statements = genesis.ceremony.as_ref().map(|c| &c.statements);
        if !statements.is_some_and(|s| s.contains(&mine)) {
            bail!(
                "your statement {} is not in {}: the coordinator used another one for {}",
                st_path.display(),
                path.display(),
                mine.body.speaker()
            );
        }
    }
    let state = genesis.build_state()?;
    let statements = genesis.ceremony.as_ref().map_or(0, |c| c.statements.len());
    println!(
        "{} is valid: chain {}, {} Parties, {} validators, {statements} statements verified",
        path.display(),
        genesis.chain_id,
        genesis.parties.len(),
        genesis.validators.len()
    );
    for v in &genesis.validators {
        println!("  validator {} of {}: {}", v.name, v.party, v.public_key);
    }
    println!(
        "state root at height 0: {}",
        hex::encode(state.state_root())
    );
    println!("genesis hash: {}", hex::encode(hash));
    Ok(())
}
