//! The clock a store stamps its writes with, replaceable while the store is in use so
//! that `Roster::with_clock` can hand over the services' own (see `Store::use_clock`).

use std::sync::{Arc, PoisonError, RwLock};

use roster_core::clock::{Clock, SystemClock};
use roster_core::domain::Timestamp;

pub(crate) struct ClockCell(RwLock<Arc<dyn Clock>>);

impl Default for ClockCell {
    fn default() -> Self {
        ClockCell(RwLock::new(Arc::new(SystemClock)))
    }
}

impl ClockCell {
    pub(crate) fn now(&self) -> Timestamp {
        self.0.read().unwrap_or_else(PoisonError::into_inner).now()
    }

    pub(crate) fn set(&self, clock: Arc<dyn Clock>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = clock;
    }
}
