//! Registries thousands of kilometres apart, on one machine: with `--wan-delay-ms`,
//! every connection from one validator to another (consensus and transaction gossip)
//! goes through a relay on loopback that holds each chunk of bytes for the link's
//! one-way delay, give or take the jitter, before passing it on in order. A lost packet
//! shows to an application over TCP as a stall until the retransmission: with
//! `--wan-loss-percent`, that share of chunks is held for [`RETRANSMIT`] more.
//!
//! A relay in user space, because this machine's kernel has no netem queueing discipline
//! (`tc qdisc add … netem` is refused) and the bench sends traffic only to loopback
//! addresses. Clients reach their validator directly, as a registry's back office would.

use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// What a lost segment costs a TCP stream: Linux's minimum retransmission timeout.
pub const RETRANSMIT: Duration = Duration::from_millis(200);
/// Chunks held in one direction of one connection at most (the reader waits past it).
const MAX_HELD: usize = 4096;

/// A wide-area link: one-way delay, jitter either side of it, and loss.
#[derive(Clone, Copy, Debug)]
pub struct Wan {
    pub delay: Duration,
    pub jitter: Duration,
    pub loss_percent: f64,
}

/// A small deterministic generator (xorshift64*): the relays need no cryptographic
/// randomness, and a seed makes a run repeatable.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Wan {
    /// How long one chunk is held: the delay, ± jitter, plus a retransmission when lost.
    fn hold(&self, rng: &mut Rng) -> Duration {
        let jitter = self.jitter.as_secs_f64() * (2.0 * rng.next_f64() - 1.0);
        let mut hold = Duration::from_secs_f64((self.delay.as_secs_f64() + jitter).max(0.0));
        if rng.next_f64() * 100.0 < self.loss_percent {
            hold += RETRANSMIT;
        }
        hold
    }
}

/// Starts a relay on a free loopback port that forwards every connection to
/// `127.0.0.1:target` through `wan`, both ways; returns its port. Runs on the current
/// tokio runtime until the process ends.
pub fn relay(target: u16, wan: Wan, seed: u64) -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let listener = tokio::net::TcpListener::from_std(listener)
        .context("a relay needs the bench's tokio runtime")?;
    tokio::spawn(async move {
        let mut seed = seed.max(1);
        while let Ok((inbound, _)) = listener.accept().await {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let s = seed;
            tokio::spawn(async move {
                let Ok(outbound) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                else {
                    return;
                };
                let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
                let (in_r, in_w) = inbound.into_split();
                let (out_r, out_w) = outbound.into_split();
                tokio::join!(
                    pump(in_r, out_w, wan, Rng(s | 1)),
                    pump(out_r, in_w, wan, Rng(s.rotate_left(17) | 1)),
                );
            });
        }
    });
    Ok(port)
}

/// Copies `from` to `to`, each chunk released at its hold time and never before the
/// chunk before it (a TCP stream stays in order).
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, wan: Wan, mut rng: Rng) {
    let (held, mut release) = tokio::sync::mpsc::channel::<(Instant, Vec<u8>)>(MAX_HELD);
    let writer = tokio::spawn(async move {
        while let Some((at, bytes)) = release.recv().await {
            tokio::time::sleep_until(at.into()).await;
            if to.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut last = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let at = (Instant::now() + wan.hold(&mut rng)).max(last);
        last = at;
        if held.send((at, buf[..n].to_vec())).await.is_err() {
            break;
        }
    }
    drop(held);
    let _ = writer.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_are_the_delay_give_or_take_the_jitter_and_some_retransmit() {
        let wan = Wan {
            delay: Duration::from_millis(150),
            jitter: Duration::from_millis(20),
            loss_percent: 0.5,
        };
        let mut rng = Rng(42);
        let holds: Vec<Duration> = (0..100_000).map(|_| wan.hold(&mut rng)).collect();
        let stalled = holds.iter().filter(|h| **h >= RETRANSMIT).count();
        assert!((300..=700).contains(&stalled), "{stalled} of 100,000 lost");
        assert!(holds.iter().all(|h| {
            let ms = h.as_millis();
            (130..=170).contains(&ms) || (330..=370).contains(&ms)
        }));
    }

    #[tokio::test]
    async fn a_relay_passes_bytes_in_order_after_the_delay() {
        let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = server.local_addr().unwrap().port();
        let wan = Wan {
            delay: Duration::from_millis(50),
            jitter: Duration::ZERO,
            loss_percent: 0.0,
        };
        let port = relay(target, wan, 7).unwrap();
        let echo = tokio::spawn(async move {
            let (mut s, _) = server.accept().await.unwrap();
            let mut got = vec![0u8; 6];
            s.read_exact(&mut got).await.unwrap();
            s.write_all(&got).await.unwrap();
            got
        });
        let t0 = Instant::now();
        let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        c.write_all(b"abc").await.unwrap();
        c.write_all(b"def").await.unwrap();
        let mut back = vec![0u8; 6];
        c.read_exact(&mut back).await.unwrap();
        assert_eq!(echo.await.unwrap(), b"abcdef");
        assert_eq!(back, b"abcdef");
        assert!(
            t0.elapsed() >= Duration::from_millis(100),
            "{:?}",
            t0.elapsed()
        );
    }
}
