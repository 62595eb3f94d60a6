//! Why a block is refused: every check a block from a peer (a proposal, a synced
//! block, a block an observer follows) must pass, each with a stable code for logs
//! and metrics. A refused block changes nothing.

/// Why a block, or the certificate that commits it, is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlockRejection {
    #[error("the block has no header")]
    NoHeader,
    #[error("block of chain `{block}`, this is `{ours}`")]
    OtherChain { block: String, ours: String },
    #[error("block {height} does not follow height {head}")]
    NotNext { height: u64, head: u64 },
    #[error("block {height} does not extend this chain's head")]
    OtherParent { height: u64 },
    #[error("block {height} names another parent state root")]
    OtherParentStateRoot { height: u64 },
    #[error("block {height}: its timestamp does not increase")]
    TimestampNotAfterParent { height: u64 },
    #[error("block {height}: its timestamp is past the year 9999")]
    TimestampPastLimit { height: u64 },
    #[error("block {height}: its transactions do not match its header")]
    TransactionsMismatch { height: u64 },
    #[error("block {height} transaction {index}: {code}: {reason}")]
    BadTransaction {
        height: u64,
        index: usize,
        /// The transaction's own refusal code (`BAD_SIGNATURE`, `WRONG_CHAIN` …).
        code: &'static str,
        reason: String,
    },
    #[error("the response has no block")]
    NoBlock,
    #[error("block {height} has no commit certificate")]
    NoCertificate { height: u64 },
    #[error("block {height} names no 32-byte state root")]
    NoStateRoot { height: u64 },
    #[error("the certificate of block {height} is for another block")]
    CertificateForAnotherBlock { height: u64 },
    #[error("block {height}: the certificate names no round")]
    CertificateRound { height: u64 },
    #[error("block {height}: a signer is not a 32-byte key")]
    MalformedSigner { height: u64 },
    #[error("block {height}: a signature is not 64 bytes")]
    MalformedSignature { height: u64 },
    #[error("block {height} is signed by {signer}, not a validator")]
    NotAValidator { height: u64, signer: String },
    #[error("block {height}: the precommit of {signer} does not verify")]
    PrecommitDoesNotVerify { height: u64, signer: String },
    #[error("block {height}: {signer} signed twice")]
    SignedTwice { height: u64, signer: String },
    #[error(
        "block {height} is signed by {signed} of {validators} validators; more than two thirds must sign"
    )]
    NoQuorum {
        height: u64,
        signed: usize,
        validators: usize,
    },
}

impl BlockRejection {
    /// The stable code of the refusal (logged as `code`).
    pub fn code(&self) -> &'static str {
        match self {
            BlockRejection::NoHeader => "NO_HEADER",
            BlockRejection::OtherChain { .. } => "OTHER_CHAIN",
            BlockRejection::NotNext { .. } => "NOT_NEXT_HEIGHT",
            BlockRejection::OtherParent { .. } => "OTHER_PARENT",
            BlockRejection::OtherParentStateRoot { .. } => "OTHER_PARENT_STATE_ROOT",
            BlockRejection::TimestampNotAfterParent { .. } => "TIMESTAMP_NOT_AFTER_PARENT",
            BlockRejection::TimestampPastLimit { .. } => "TIMESTAMP_PAST_LIMIT",
            BlockRejection::TransactionsMismatch { .. } => "TRANSACTIONS_MISMATCH",
            BlockRejection::BadTransaction { .. } => "BAD_TRANSACTION",
            BlockRejection::NoBlock => "NO_BLOCK",
            BlockRejection::NoCertificate { .. } => "NO_CERTIFICATE",
            BlockRejection::NoStateRoot { .. } => "NO_STATE_ROOT",
            BlockRejection::CertificateForAnotherBlock { .. } => "CERTIFICATE_FOR_ANOTHER_BLOCK",
            BlockRejection::CertificateRound { .. } => "CERTIFICATE_ROUND",
            BlockRejection::MalformedSigner { .. } => "MALFORMED_SIGNER",
            BlockRejection::MalformedSignature { .. } => "MALFORMED_SIGNATURE",
            BlockRejection::NotAValidator { .. } => "NOT_A_VALIDATOR",
            BlockRejection::PrecommitDoesNotVerify { .. } => "PRECOMMIT_DOES_NOT_VERIFY",
            BlockRejection::SignedTwice { .. } => "SIGNED_TWICE",
            BlockRejection::NoQuorum { .. } => "NO_QUORUM",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::BlockRejection as R;

    #[test]
    fn every_rejection_has_its_own_code() {
        let (h, s) = (7, || "ab".to_string());
        let all = [
            R::NoHeader,
            R::OtherChain {
                block: s(),
                ours: s(),
            },
            R::NotNext { height: h, head: 1 },
            R::OtherParent { height: h },
            R::OtherParentStateRoot { height: h },
            R::TimestampNotAfterParent { height: h },
            R::TimestampPastLimit { height: h },
            R::TransactionsMismatch { height: h },
            R::BadTransaction {
                height: h,
                index: 0,
                code: "BAD_SIGNATURE",
                reason: s(),
            },
            R::NoBlock,
            R::NoCertificate { height: h },
            R::NoStateRoot { height: h },
            R::CertificateForAnotherBlock { height: h },
            R::CertificateRound { height: h },
            R::MalformedSigner { height: h },
            R::MalformedSignature { height: h },
            R::NotAValidator {
                height: h,
                signer: s(),
            },
            R::PrecommitDoesNotVerify {
                height: h,
                signer: s(),
            },
            R::SignedTwice {
                height: h,
                signer: s(),
            },
            R::NoQuorum {
                height: h,
                signed: 1,
                validators: 4,
            },
        ];
        let codes: std::collections::BTreeSet<&str> = all.iter().map(R::code).collect();
        assert_eq!(codes.len(), all.len(), "two rejections share a code");
        assert!(
            codes
                .iter()
                .all(|c| c.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
        );
    }
}
