//! `kyoto backup`: every committed block up to the node's height, with its commit
//! certificate, into a backup file (`kyoto_client::backup`) that `kyotod restore`
//! verifies and loads on another machine. The node keeps running and committing.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;
use kyoto_client::backup::{BackupWriter, FORMAT};
use kyoto_proto::v1::{self as pb, ledger_client::LedgerClient};
use tonic::transport::Channel;

use crate::client::from_status;
use crate::exit::Failure;

/// The file a backup is written to before it replaces `out`, whole.
fn partial(out: &Path) -> anyhow::Result<PathBuf> {
    let Some(name) = out.file_name().filter(|_| !out.is_dir()) else {
        anyhow::bail!("--out {} is not a file name", out.display());
    };
    let mut name = name.to_owned();
    name.push(".partial");
    Ok(out.with_file_name(name))
}

/// Writes the backup of the node's committed chain at its current height to `out`
/// (replacing it only once complete and on disk); returns its header and size.
pub async fn backup(
    client: &mut LedgerClient<Channel>,
    out: &Path,
) -> anyhow::Result<(pb::BackupHeader, u64)> {
    let status = client
        .get_status(pb::GetStatusRequest {})
        .await
        .map_err(from_status)?
        .into_inner();
    let header = pb::BackupHeader {
        format: FORMAT.to_owned(),
        chain_id: status.chain_id,
        genesis_hash: status.genesis_hash,
        height: status.height,
        state_root: status.state_root,
        latest_block_time_ms: status.latest_block_time_ms,
    };
    let tmp = partial(out)?;
    let file = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let result = async {
        let mut writer = BackupWriter::new(BufWriter::new(file), &header)?;
        if header.height > 0 {
            let mut blocks = client
                .stream_blocks(pb::StreamBlocksRequest { from_height: 1 })
                .await
                .map_err(from_status)?
                .into_inner();
            while writer.remaining() > 0 {
                let block = blocks
                    .message()
                    .await
                    .map_err(from_status)?
                    .ok_or_else(|| {
                        Failure::Node(format!(
                            "the node stopped sending blocks with {} still to back up",
                            writer.remaining()
                        ))
                    })?;
                writer.block(&block)?;
            }
        }
        let file = writer
            .finish()?
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", tmp.display(), e.error()))?;
        file.sync_all()
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        anyhow::Ok(file.metadata()?.len())
    }
    .await;
    let bytes = match result {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, out)
        .with_context(|| format!("cannot move {} to {}", tmp.display(), out.display()))?;
    Ok((header, bytes))
}
