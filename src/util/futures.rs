//! The two ways of waiting on several futures that the Worker needs, without an async
//! runtime crate: the first of two (a request against its deadline), and all of several
//! (upstream lists fetched side by side).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// Resolves when the first of two futures does: `Some` for the first, `None` for the second.
pub async fn first_of<A, B, T>(mut a: Pin<&mut A>, mut b: Pin<&mut B>) -> Option<T>
where
    A: Future<Output = T>,
    B: Future<Output = ()>,
{
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(v) = a.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if b.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// Polls every future until all are done; the results in order.
pub async fn join_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (f, slot) in pending.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => all = false,
                }
            }
        }
        if all {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::block_on;

    #[test]
    fn the_first_to_finish_decides_and_all_keep_their_order() {
        let ready = std::pin::pin!(async { 7 });
        let never = std::pin::pin!(std::future::pending::<()>());
        assert_eq!(block_on(first_of(ready, never)), Some(7));
        let never = std::pin::pin!(std::future::pending::<u8>());
        let done = std::pin::pin!(async {});
        assert_eq!(block_on(first_of(never, done)), None);
        let all = block_on(join_all(
            [3, 1, 2].into_iter().map(|n| async move { n * 10 }),
        ));
        assert_eq!(all, [30, 10, 20]);
    }
}
