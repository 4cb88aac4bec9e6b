//! Node housekeeping the kubelet runs beside the pod workers: container log rotation and
//! image garbage collection.

pub mod image_gc;
pub mod log_rotation;

use std::path::PathBuf;
use std::time::Duration;

use crate::cri::Cri;

/// How often logs are checked for rotation (upstream: every 10 s).
pub const LOG_CHECK_INTERVAL: Duration = Duration::from_secs(10);
/// How often image usage is checked (upstream: every 5 min).
pub const IMAGE_GC_INTERVAL: Duration = Duration::from_secs(300);

/// Runs both loops until aborted; `image_fs` is the filesystem holding the runtime's images.
pub async fn run(cri: Cri, image_fs: PathBuf, pinned: Vec<String>) {
    let logs = log_rotation::LogPolicy::default();
    let mut gc = image_gc::ImageGc::new(image_gc::GcPolicy::default(), image_fs, pinned);
    let mut log_tick = tokio::time::interval(LOG_CHECK_INTERVAL);
    let mut gc_tick = tokio::time::interval(IMAGE_GC_INTERVAL);
    loop {
        tokio::select! {
            _ = log_tick.tick() => {
                if let Err(e) = log_rotation::rotate_once(&cri, &logs).await {
                    tracing::warn!(error = %e, "container log rotation failed");
                }
            }
            _ = gc_tick.tick() => {
                match gc.collect(&cri).await {
                    Ok(r) if !r.removed.is_empty() => tracing::info!(removed = ?r.removed, "image garbage collection"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "image garbage collection failed"),
                }
            }
        }
    }
}
