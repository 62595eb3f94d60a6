//! Certificates in the consensus encoding: commit, extended commit, polka and round
//! certificates, each checked field by field when read.

use arc_malachitebft_app_channel::app::types::core::{
    CommitCertificate, CommitSignature, ExtendedCommitCertificate, ExtendedCommitSignature,
    PolkaCertificate, PolkaSignature, Round, RoundCertificate, RoundCertificateType,
    RoundSignature,
};
use kyoto_proto::consensus as cpb;

use crate::consensus::context::{Address, BlockId, Height, KyotoContext, Signature};

use super::fields::{
    CodecError, address_from, bad, block_id_from, ext_from, ext_to, nil_or_val_from, nil_or_val_to,
    round_from, round_to, signature_from, vote_type_from, vote_type_to,
};

pub(super) fn commit_sigs_to<'a>(
    sigs: impl Iterator<Item = (&'a Address, &'a Signature, Option<cpb::SignedExtension>)>,
) -> Vec<cpb::CommitSignature> {
    sigs.map(|(a, s, e)| cpb::CommitSignature {
        address: a.0.to_vec(),
        signature: s.0.to_vec(),
        extension: e,
    })
    .collect()
}

/// A certificate's common fields in the consensus encoding (commit, extended commit
/// and polka certificates share one message).
pub(super) fn cert_to<'a>(
    height: Height,
    round: Round,
    value: &BlockId,
    sigs: impl Iterator<Item = (&'a Address, &'a Signature, Option<cpb::SignedExtension>)>,
) -> cpb::Certificate {
    cpb::Certificate {
        height: height.0,
        round: round_to(round),
        value: value.0.to_vec(),
        signatures: commit_sigs_to(sigs),
    }
}

/// A certificate's common fields from the consensus encoding, each signature made
/// into `S` by `sig`.
pub(super) fn cert_from<S>(
    c: cpb::Certificate,
    sig: impl Fn(Address, Signature, Option<cpb::SignedExtension>) -> Result<S, CodecError>,
) -> Result<(Height, Round, BlockId, Vec<S>), CodecError> {
    let mut sigs = Vec::with_capacity(c.signatures.len());
    for s in c.signatures {
        sigs.push(sig(
            address_from(&s.address)?,
            signature_from(&s.signature)?,
            s.extension,
        )?);
    }
    Ok((
        Height(c.height),
        round_from(c.round)?,
        block_id_from(&c.value)?,
        sigs,
    ))
}

/// A commit certificate in the consensus encoding.
pub fn commit_certificate_to(c: &CommitCertificate<KyotoContext>) -> cpb::Certificate {
    let sigs = c
        .commit_signatures
        .iter()
        .map(|s| (&s.address, &s.signature, None));
    cert_to(c.height, c.round, &c.value_id, sigs)
}

/// A commit certificate from the consensus encoding (extensions are refused: Kyoto
/// Ledger does not use vote extensions).
pub fn commit_certificate_from(
    c: cpb::Certificate,
) -> Result<CommitCertificate<KyotoContext>, CodecError> {
    let (height, round, value_id, commit_signatures) = cert_from(c, |a, s, e| match e {
        Some(_) => Err(bad("a commit signature carries a vote extension")),
        None => Ok(CommitSignature::new(a, s)),
    })?;
    Ok(CommitCertificate {
        height,
        round,
        value_id,
        commit_signatures,
    })
}

pub(super) fn extended_cert_to(c: &ExtendedCommitCertificate<KyotoContext>) -> cpb::Certificate {
    let sigs = c
        .commit_signatures
        .iter()
        .map(|s| (&s.address, &s.signature, s.extension.as_ref().map(ext_to)));
    cert_to(c.height, c.round, &c.value_id, sigs)
}

pub(super) fn extended_cert_from(
    c: cpb::Certificate,
) -> Result<ExtendedCommitCertificate<KyotoContext>, CodecError> {
    let (height, round, value_id, commit_signatures) = cert_from(c, |a, s, e| {
        Ok(ExtendedCommitSignature::new(
            a,
            s,
            e.map(ext_from).transpose()?,
        ))
    })?;
    Ok(ExtendedCommitCertificate {
        height,
        round,
        value_id,
        commit_signatures,
    })
}

pub(super) fn polka_to(c: &PolkaCertificate<KyotoContext>) -> cpb::Certificate {
    let sigs = c
        .polka_signatures
        .iter()
        .map(|s| (&s.address, &s.signature, None));
    cert_to(c.height, c.round, &c.value_id, sigs)
}

pub(super) fn polka_from(
    c: cpb::Certificate,
) -> Result<PolkaCertificate<KyotoContext>, CodecError> {
    let (height, round, value_id, polka_signatures) =
        cert_from(c, |a, s, _| Ok(PolkaSignature::new(a, s)))?;
    Ok(PolkaCertificate {
        height,
        round,
        value_id,
        polka_signatures,
    })
}

pub(super) fn round_cert_to(c: &RoundCertificate<KyotoContext>) -> cpb::RoundCertificate {
    cpb::RoundCertificate {
        height: c.height.0,
        round: round_to(c.round),
        cert_type: match c.cert_type {
            RoundCertificateType::Skip => 0,
            RoundCertificateType::Precommit => 1,
        },
        signatures: c
            .round_signatures
            .iter()
            .map(|s| cpb::RoundSignature {
                vote_type: vote_type_to(s.vote_type),
                value: nil_or_val_to(&s.value_id),
                address: s.address.0.to_vec(),
                signature: s.signature.0.to_vec(),
            })
            .collect(),
    }
}

pub(super) fn round_cert_from(
    c: cpb::RoundCertificate,
) -> Result<RoundCertificate<KyotoContext>, CodecError> {
    let cert_type = match c.cert_type {
        0 => RoundCertificateType::Skip,
        1 => RoundCertificateType::Precommit,
        _ => return Err(bad("unknown round certificate type")),
    };
    let mut round_signatures = Vec::with_capacity(c.signatures.len());
    for s in c.signatures {
        round_signatures.push(RoundSignature::new(
            vote_type_from(s.vote_type)?,
            nil_or_val_from(&s.value)?,
            address_from(&s.address)?,
            signature_from(&s.signature)?,
        ));
    }
    Ok(RoundCertificate {
        height: Height(c.height),
        round: round_from(c.round)?,
        cert_type,
        round_signatures,
    })
}
