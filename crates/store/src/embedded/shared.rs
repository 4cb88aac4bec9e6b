//! State shared between the writer thread, readers and watchers.

use super::hub::Hub;
use crate::{Revision, StoreError};
use std::sync::atomic::{AtomicI64, Ordering};

pub(crate) struct Shared {
    /// Revision of the last committed write.
    pub current: AtomicI64,
    /// Revision the store is compacted at: reads below it fail.
    pub compacted: AtomicI64,
    /// Recent events for watchers.
    pub hub: Hub,
}

impl Shared {
    /// Turns a requested revision (0 = latest) into a concrete, readable one.
    pub fn resolve(&self, requested: Revision) -> Result<Revision, StoreError> {
        let current = self.current.load(Ordering::Acquire);
        if requested == 0 {
            return Ok(current);
        }
        if requested > current {
            return Err(StoreError::FutureRevision { requested, current });
        }
        self.check_not_compacted(requested)?;
        Ok(requested)
    }

    /// Fails if `revision` is below the compacted revision. Called again after a read at a
    /// past revision: compaction records its revision before it deletes anything, so a read
    /// that still passes this check afterwards saw complete data.
    pub fn check_not_compacted(&self, revision: Revision) -> Result<(), StoreError> {
        let compacted = self.compacted.load(Ordering::Acquire);
        if revision < compacted {
            return Err(StoreError::Compacted {
                requested: revision,
                compacted,
            });
        }
        Ok(())
    }
}
