//! Single submissions: queued, and verified and admitted in batches.

use std::sync::Arc;

use crate::node::{Node, SubmitError};

/// Most single submissions (`SubmitTransaction`) verified and admitted together.
pub const SUBMIT_COALESCE: usize = 256;

/// A single submission waiting for its turn, with where its answer goes.
type QueuedSubmission = (
    Vec<u8>,
    tokio::sync::oneshot::Sender<Result<crate::ledger::Hash, SubmitError>>,
);

/// The queue of single submissions, with the task that admits them.
pub struct SubmissionQueue {
    sender: tokio::sync::mpsc::Sender<QueuedSubmission>,
}

impl SubmissionQueue {
    /// Spawns, on the current tokio runtime, the task that admits single submissions
    /// (it ends when the queue is dropped).
    pub fn start(node: Arc<Node>) -> Self {
        let (sender, queue) = tokio::sync::mpsc::channel(4 * SUBMIT_COALESCE);
        tokio::spawn(admit_submissions(node, queue));
        SubmissionQueue { sender }
    }

    /// Submits one transaction through the queue.
    pub async fn submit(&self, raw: Vec<u8>) -> Result<crate::ledger::Hash, SubmitError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let gone = || SubmitError::Internal("the submission queue has stopped".into());
        self.sender.send((raw, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// Admits single submissions in batches of whatever arrived while the last batch
/// was being verified: a lone submission goes through at once, and under load one
/// signature batch serves many requests (about three times cheaper than verifying
/// each alone). Each request gets the answer it would get alone, in arrival order
/// (a batch is admitted in order, as one request after another).
async fn admit_submissions(
    node: Arc<Node>,
    mut queue: tokio::sync::mpsc::Receiver<QueuedSubmission>,
) {
    let mut waiting = Vec::with_capacity(SUBMIT_COALESCE);
    while queue.recv_many(&mut waiting, SUBMIT_COALESCE).await > 0 {
        let (raws, replies): (Vec<_>, Vec<_>) = waiting.drain(..).unzip();
        let node = Arc::clone(&node);
        let count = raws.len();
        let results = match tokio::task::spawn_blocking(move || node.submit_batch(raws)).await {
            Ok(results) => results,
            Err(e) => {
                let why = format!("the submission task failed: {e}");
                (0..count)
                    .map(|_| Err(SubmitError::Internal(why.clone())))
                    .collect()
            }
        };
        for (reply, result) in replies.into_iter().zip(results) {
            // A client that has gone away no longer wants its answer.
            let _ = reply.send(result);
        }
    }
}
