//! `kyotod`'s files: `kyotod init` (a network's genesis and keys, from the built-in
//! Parties table or any other), the dev genesis, and opening the chain a node runs
//! (dev, custom dev, validator or observer) with its role.

use std::path::Path;

use anyhow::{Context, bail};

use kyoto_node::chain::{Chain, ChainError};
use kyoto_node::crypto;
use kyoto_node::dev;
use kyoto_node::ledger::Genesis;
use kyoto_node::ledger::ceremony;
use kyoto_node::node::Role;
use kyoto_node::store::{SledStore, Store, StoreError};

use super::Args;
use super::ceremony::read_party_rows;

/// `kyotod init`: a network genesis and its keys.
pub fn init_network(
    validators: u16,
    dir: &Path,
    chain_id: &str,
    notice_months: u32,
    session_seconds: u32,
    parties: Option<&Path>,
) -> anyhow::Result<()> {
    let rows = match parties {
        Some(path) => read_party_rows(path)?,
        None => dev::party_rows().map_err(anyhow::Error::msg)?,
    };
    let genesis_path = dir.join("genesis.json");
    if genesis_path.exists() {
        bail!(
            "{} exists; remove {} to generate a new network",
            genesis_path.display(),
            dir.display()
        );
    }
    let keys_dir = dir.join("dev-keys");
    std::fs::create_dir_all(&keys_dir)
        .with_context(|| format!("cannot create {}", keys_dir.display()))?;
    let (mut genesis, keys, validator_keys) =
        dev::testnet_genesis_from_rows(&rows, usize::from(validators), chain_id, &mut |_| {
            crypto::generate_key()
        });
    genesis.params.notice_months = notice_months;
    genesis.params.session_seconds = session_seconds;
    for (name, key) in &keys {
        crypto::write_key_file(&keys_dir.join(format!("{name}.key")), key)?;
    }
    for (i, key) in validator_keys.iter().enumerate() {
        let vdir = dir.join(format!("validator-{}", i + 1));
        std::fs::create_dir_all(&vdir)
            .with_context(|| format!("cannot create {}", vdir.display()))?;
        crypto::write_key_file(&vdir.join("validator.key"), key)?;
    }
    // The genesis must build (every Party, Annex B sum and validator checked) before
    // anything is written that a node would start from.
    genesis
        .build_state()
        .with_context(|| "the Parties table does not make a valid genesis")?;
    std::fs::write(&genesis_path, genesis.to_json_pretty()?)
        .with_context(|| format!("cannot write {}", genesis_path.display()))?;
    println!(
        "wrote {} with {validators} validators (keys in {}/validator-<i>/validator.key) and Party keys in {}",
        genesis_path.display(),
        dir.display(),
        keys_dir.display()
    );
    Ok(())
}

/// Settings that only make sense together. Checked here rather than by clap, whose
/// `requires` neither sees a setting from the config file nor lets a flag complete one.
pub fn check_combinations(args: &Args) -> anyhow::Result<()> {
    if args.join && args.validator_key.is_none() {
        bail!("--join needs --validator-key (the key governance is to add)");
    }
    if args.validator_key.is_some() && args.genesis.is_none() {
        bail!("--validator-key needs --genesis (the network the key validates)");
    }
    if args.observer {
        if args.dev {
            bail!("--observer and --dev exclude each other: an observer follows a network");
        }
        if args.validator_key.is_some() {
            bail!("--observer runs no validator: leave out --validator-key");
        }
        if args.genesis.is_none() || args.sync_from.is_empty() {
            bail!("--observer needs --genesis FILE and --sync-from URL");
        }
    } else if !args.sync_from.is_empty() {
        bail!("--sync-from is for observers (--observer)");
    }
    Ok(())
}

/// Reads a network's genesis file; a genesis with a ceremony section must hold up to it:
/// a node starts only from exactly what the registries signed.
pub fn read_genesis(path: &Path) -> anyhow::Result<Genesis> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read genesis {}", path.display()))?;
    let genesis = Genesis::from_json(&bytes).with_context(|| format!("in {}", path.display()))?;
    if genesis.ceremony.is_some() {
        ceremony::validate(&genesis).with_context(|| {
            format!(
                "{} does not hold up to its ceremony (check it with `kyotod genesis validate`)",
                path.display()
            )
        })?;
    }
    Ok(genesis)
}

/// `kyotod init --home DIR --genesis FILE`: one node's home directory (README, "A home
/// directory"). The genesis is checked (and its ceremony validated) before anything is
/// written; an existing key is kept, an existing config or genesis is not overwritten.
pub fn init_home(home: &Path, genesis_path: &Path, observe: &[String]) -> anyhow::Result<()> {
    let genesis = read_genesis(genesis_path)?;
    genesis
        .build_state()
        .with_context(|| format!("in {}", genesis_path.display()))?;
    let bytes = std::fs::read(genesis_path)
        .with_context(|| format!("cannot read genesis {}", genesis_path.display()))?;
    let config_path = home.join("config.toml");
    if config_path.exists() {
        bail!(
            "{} exists; edit it, or remove it to write a new one",
            config_path.display()
        );
    }
    std::fs::create_dir_all(home).with_context(|| format!("cannot create {}", home.display()))?;
    let home = home
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", home.display()))?;
    let path_value = |p: &Path| toml::Value::String(p.display().to_string());
    let home_genesis = home.join("genesis.json");
    if home_genesis.exists() {
        if std::fs::read(&home_genesis).ok().as_deref() != Some(bytes.as_slice()) {
            bail!(
                "{} exists and differs from {}; remove it first",
                home_genesis.display(),
                genesis_path.display()
            );
        }
    } else {
        std::fs::write(&home_genesis, &bytes)
            .with_context(|| format!("cannot write {}", home_genesis.display()))?;
    }
    let mut set = vec![
        ("genesis", path_value(&home_genesis)),
        ("data-dir", path_value(&home.join("data"))),
    ];
    let mut notes = Vec::new();
    if observe.is_empty() {
        let key_path = home.join("validator.key");
        let key = if key_path.exists() {
            crypto::read_key_file(&key_path)?
        } else {
            let key = crypto::generate_key();
            crypto::write_key_file(&key_path, &key)?;
            key
        };
        set.push(("validator-key", path_value(&key_path)));
        let public = key.verifying_key().to_bytes();
        if !genesis.validator_keys()?.contains(&public) {
            set.push(("join", toml::Value::Boolean(true)));
            notes.push(format!(
                "{} is not a validator of this genesis: the node follows without voting until governance adds {} (join = true)",
                key_path.display(),
                hex::encode(public)
            ));
        }
        notes.push("set peer and gossip-peer to the other validators' addresses".to_owned());
    } else {
        set.push(("observer", toml::Value::Boolean(true)));
        set.push((
            "sync-from",
            toml::Value::Array(observe.iter().cloned().map(toml::Value::String).collect()),
        ));
    }
    std::fs::write(&config_path, super::config::template_with(&set))
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    if genesis.ceremony.is_none() {
        notes.push(
            "this genesis has no ceremony section: no registry's signed statement backs its keys; compare its hash with the other registries' before starting".to_owned(),
        );
    }
    println!(
        "wrote {} for chain {} (genesis hash {})",
        config_path.display(),
        genesis.chain_id,
        hex::encode(genesis.hash()?)
    );
    for note in notes {
        println!("  {note}");
    }
    println!(
        "start the node with `kyotod --config {}`",
        config_path.display()
    );
    Ok(())
}

/// Generates the dev genesis and writes every key under `data_dir`.
fn init_dev_genesis(data_dir: &Path) -> Result<Genesis, ChainError> {
    let io = |what: &str, e: std::io::Error| {
        ChainError::Store(StoreError::Backend(format!("{what}: {e}")))
    };
    let keys_dir = data_dir.join("dev-keys");
    std::fs::create_dir_all(&keys_dir)
        .map_err(|e| io(&format!("cannot create {}", keys_dir.display()), e))?;
    let (genesis, keys) = dev::dev_genesis_with_keys(&mut |_| crypto::generate_key());
    for (name, key) in &keys {
        let path = if name == "validator" {
            data_dir.join("validator.key")
        } else {
            keys_dir.join(format!("{name}.key"))
        };
        crypto::write_key_file(&path, key).map_err(|e| {
            ChainError::Store(StoreError::Backend(format!(
                "{e} (the data directory has keys but no chain: remove {} to start a new dev chain)",
                data_dir.display()
            )))
        })?;
    }
    let json = genesis.to_json_pretty()?;
    let path = data_dir.join("genesis.json");
    std::fs::write(&path, json).map_err(|e| io(&format!("cannot write {}", path.display()), e))?;
    Ok(genesis)
}

pub fn open_chain(args: &Args) -> anyhow::Result<(Chain<Box<dyn Store>>, Role)> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create data directory {}", args.data_dir.display()))?;
    let store: Box<dyn Store> = Box::new(SledStore::open(&args.data_dir.join("db"))?);
    if args.dev && args.genesis.is_some() {
        return open_custom_dev_chain(args, store);
    }
    if args.dev {
        let data_dir = args.data_dir.clone();
        let (chain, genesis) = Chain::open_or_init(store, move || init_dev_genesis(&data_dir))?;
        if genesis.chain_id != dev::DEV_CHAIN_ID {
            bail!(
                "{} holds chain `{}`, not a dev chain; start it without --dev",
                args.data_dir.display(),
                genesis.chain_id
            );
        }
        let key = crypto::read_key_file(&args.data_dir.join("validator.key"))?;
        println!(
            "dev chain `{}`: Party registry keys are in {}/<CODE>.key",
            genesis.chain_id,
            args.data_dir.join("dev-keys").display()
        );
        return Ok((chain, Role::Validator(Box::new(key))));
    }
    let Some(genesis_path) = &args.genesis else {
        bail!(
            "give --dev to run a single-validator dev chain, --genesis FILE --validator-key FILE for a network, or --observer --genesis FILE --sync-from URL for a read-only replica"
        );
    };
    let genesis = read_genesis(genesis_path)?;
    if args.observer {
        return Ok((Chain::open(store, &genesis)?, Role::Observer));
    }
    let Some(key_path) = &args.validator_key else {
        bail!(
            "--genesis needs --validator-key FILE (this node's validator key), or --observer for a read-only replica"
        );
    };
    let key = crypto::read_key_file(key_path)?;
    let validators = genesis.validator_keys()?;
    if !validators.contains(&key.verifying_key().to_bytes()) && !args.join {
        bail!(
            "{} is not the key of a validator of this genesis (give --join if governance adds it later, or run as --observer)",
            key_path.display()
        );
    }
    Ok((
        Chain::open(store, &genesis)?,
        Role::Validator(Box::new(key)),
    ))
}

/// `kyotod --dev --genesis FILE --validator-key FILE`: a dev chain (one validator, the
/// dev clock, `kyoto dev advance-time`) on any genesis whose single validator is the
/// key given.
fn open_custom_dev_chain(
    args: &Args,
    store: Box<dyn Store>,
) -> anyhow::Result<(Chain<Box<dyn Store>>, Role)> {
    let genesis_path = args.genesis.as_deref().unwrap_or(Path::new(""));
    let genesis = read_genesis(genesis_path)?;
    let Some(key_path) = &args.validator_key else {
        bail!("--dev --genesis needs --validator-key FILE: the key of the genesis's one validator");
    };
    let key = crypto::read_key_file(key_path)?;
    let validators = genesis.validator_keys()?;
    if validators != [key.verifying_key().to_bytes()] {
        bail!(
            "a dev chain has one validator: {} lists {} validator(s), and {} must be the key of its only one (make one with `kyotod init --validators 1`)",
            genesis_path.display(),
            validators.len(),
            key_path.display()
        );
    }
    let chain = Chain::open(store, &genesis)?;
    println!(
        "dev chain `{}` from {} (dev clock; kyoto dev advance-time moves it)",
        genesis.chain_id,
        genesis_path.display()
    );
    Ok((chain, Role::Validator(Box::new(key))))
}

/// The node's tunables from the command line (and config file).
pub fn node_config(args: &Args) -> kyoto_node::node::NodeConfig {
    use std::time::Duration;
    kyoto_node::node::NodeConfig {
        max_block_txs: args.max_block_txs as usize,
        block_window: Duration::from_millis(args.block_window_ms),
        mempool: kyoto_node::mempool::MempoolLimits {
            max_txs: args.mempool_max_txs as usize,
            max_bytes: (args.mempool_max_mib as usize).saturating_mul(1024 * 1024),
            max_nonce_ahead: args.max_nonce_ahead,
            max_parked: args.mempool_max_parked as usize,
            max_parked_per_signer: args.mempool_max_parked_per_signer as usize,
            parked_ttl: Duration::from_secs(args.mempool_parked_ttl_secs),
        },
        dev_clock: args.dev,
        max_queue_delay: Duration::from_millis(args.max_queue_delay_ms),
    }
}
