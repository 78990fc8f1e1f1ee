//! A broadcast feed that costs nothing while nobody listens. A tokio
//! broadcast channel allocates its whole ring up front (capacity × slot):
//! 4096 state changes are ~290 KiB, 1024 log lines ~70 KiB per service. A
//! `Feed` creates its channel for the first subscriber and frees it at the
//! first send that finds every subscriber gone.

use tokio::sync::broadcast;

pub struct Feed<T> {
    capacity: usize,
    tx: Option<broadcast::Sender<T>>,
}

impl<T: Clone> Feed<T> {
    /// `capacity`: items a subscriber may fall behind before it is told it
    /// lagged.
    pub fn new(capacity: usize) -> Feed<T> {
        Feed { capacity, tx: None }
    }

    pub fn subscribe(&mut self) -> broadcast::Receiver<T> {
        let capacity = self.capacity;
        self.tx
            .get_or_insert_with(|| broadcast::channel(capacity).0)
            .subscribe()
    }

    /// Sends to every subscriber; `item` is only built when there is one.
    pub fn send(&mut self, item: impl FnOnce() -> T) {
        if let Some(tx) = &self.tx {
            if tx.receiver_count() > 0 {
                let _ = tx.send(item());
            } else {
                self.tx = None;
            }
        }
    }

    /// Whether a channel exists now.
    #[cfg(test)]
    fn is_open(&self) -> bool {
        self.tx.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_channel_lives_only_while_someone_listens() {
        let mut feed = Feed::new(4);
        let mut built = 0;
        feed.send(|| {
            built += 1;
            1
        });
        assert_eq!(built, 0, "nothing is built for nobody");
        assert!(!feed.is_open());
        let mut rx = feed.subscribe();
        feed.send(|| 2);
        assert_eq!(rx.try_recv().unwrap(), 2);
        drop(rx);
        feed.send(|| 3);
        assert!(!feed.is_open(), "freed once the last subscriber left");
        let mut rx = feed.subscribe();
        feed.send(|| 4);
        assert_eq!(rx.try_recv().unwrap(), 4);
    }
}
