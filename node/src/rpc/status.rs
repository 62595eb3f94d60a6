//! gRPC statuses: refusals with their stable code (a `google.rpc.ErrorInfo` whose
//! `reason` is the code, domain `kyoto.v1`; the message is `CODE: human message`).

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::mempool::AdmitError;
use crate::node::SubmitError;
use crate::tx::TxError;

/// Builds a refusal status with its machine-readable code.
pub fn refusal_status(code: Code, reason: &str, message: &str) -> Status {
    Status::with_error_details(
        code,
        format!("{reason}: {message}"),
        ErrorDetails::with_error_info(
            reason,
            "kyoto.v1",
            std::collections::HashMap::<String, String>::new(),
        ),
    )
}

pub fn submit_status(e: &SubmitError) -> Status {
    let code = match e {
        SubmitError::Tx(
            TxError::TooLarge(_)
            | TxError::Malformed(_)
            | TxError::BadSignature(_)
            | TxError::WrongChain { .. },
        ) => Code::InvalidArgument,
        SubmitError::Admit(AdmitError::AlreadyPending) => Code::AlreadyExists,
        SubmitError::Admit(
            AdmitError::Full(_) | AdmitError::ParkedFull(_) | AdmitError::GapLimit { .. },
        ) => Code::ResourceExhausted,
        SubmitError::Admit(AdmitError::UnknownSigner) => Code::PermissionDenied,
        SubmitError::Overloaded { .. } => Code::ResourceExhausted,
        SubmitError::Admit(_) => Code::FailedPrecondition,
        SubmitError::Internal(_) => Code::Internal,
        SubmitError::ReadOnly
        | SubmitError::NotDevChain
        | SubmitError::TimeBackwards { .. }
        | SubmitError::TimeOutOfRange { .. } => Code::FailedPrecondition,
    };
    refusal_status(code, e.code(), &e.to_string())
}

pub fn internal(e: SubmitError) -> Status {
    tracing::error!(error = %e, "internal error serving a request");
    Status::internal(e.to_string())
}

pub fn bad_argument(reason: &str, message: String) -> Status {
    refusal_status(Code::InvalidArgument, reason, &message)
}

pub fn hash_arg(bytes: &[u8], what: &str) -> Result<[u8; 32], Status> {
    bytes.try_into().map_err(|_| {
        bad_argument(
            "MALFORMED",
            format!("{what} must be 32 bytes, got {}", bytes.len()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pushed_back_submission_is_resource_exhausted_with_its_reason() {
        let s = submit_status(&SubmitError::Overloaded {
            waiting: 4000,
            per_sec: 3000,
            max_delay_ms: 1000,
        });
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert_eq!(
            s.get_error_details().error_info().map(|i| i.reason.clone()),
            Some("OVERLOADED".to_owned())
        );
        assert!(
            s.message()
                .starts_with("OVERLOADED: 4000 transactions wait"),
            "{}",
            s.message()
        );
    }
}
