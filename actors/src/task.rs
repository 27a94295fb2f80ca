//! Helper tasks owned by an actor: aborted when dropped, because ractor may drop an actor's state
//! without running `post_stop` (after a panic or a kill), and a detached waiter would outlive it.

use std::future::Future;

use tokio::task::JoinHandle;

/// A spawned task that is aborted when this handle is dropped.
#[derive(Debug)]
pub struct Task(JoinHandle<()>);

impl Task {
    pub fn spawn(fut: impl Future<Output = ()> + Send + 'static) -> Self {
        Task(tokio::spawn(fut))
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Task {
    /// Whether the task has run to its end.
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}
