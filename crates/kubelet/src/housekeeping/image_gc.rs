//! Image garbage collection: when the image filesystem is fuller than `high_percent`, images
//! no container uses (and not pinned, like the pause image) are removed, those unused longest
//! first, until usage falls below `low_percent` (upstream's 85/80 defaults).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_cri::v1 as cri;

use crate::cri::Cri;

/// When to collect and how far.
#[derive(Clone, Debug)]
pub struct GcPolicy {
    /// Collect above this disk usage.
    pub high_percent: u8,
    /// Collect down to this usage.
    pub low_percent: u8,
    /// An image must have been unused at least this long.
    pub min_age: Duration,
}

impl Default for GcPolicy {
    fn default() -> Self {
        Self {
            high_percent: 85,
            low_percent: 80,
            min_age: Duration::from_secs(120),
        }
    }
}

/// What one collection did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GcReport {
    /// Disk usage before, in percent.
    pub usage_before: u8,
    /// Image references removed.
    pub removed: Vec<String>,
}

/// The collector, remembering since when each image has been unused.
pub struct ImageGc {
    policy: GcPolicy,
    fs: PathBuf,
    pinned: Vec<String>,
    unused_since: HashMap<String, Instant>,
}

fn usage_percent(fs: &std::path::Path) -> u8 {
    match nix::sys::statvfs::statvfs(fs) {
        Ok(s) if s.blocks() > 0 => {
            let used = s.blocks() - s.blocks_available();
            (used * 100 / s.blocks()) as u8
        }
        _ => 0,
    }
}

impl ImageGc {
    /// A collector for the filesystem holding `fs`; images named in `pinned` are never removed.
    pub fn new(policy: GcPolicy, fs: PathBuf, pinned: Vec<String>) -> Self {
        Self {
            policy,
            fs,
            pinned,
            unused_since: HashMap::new(),
        }
    }

    /// One pass.
    pub async fn collect(&mut self, cri: &Cri) -> Result<GcReport, tonic::Status> {
        let images = cri
            .images
            .clone()
            .list_images(cri::ListImagesRequest { filter: None })
            .await?
            .into_inner()
            .images;
        let containers = cri
            .runtime
            .clone()
            .list_containers(cri::ListContainersRequest { filter: None })
            .await?
            .into_inner()
            .containers;
        let in_use: HashSet<String> = containers
            .iter()
            .flat_map(|c| {
                [
                    c.image_ref.clone(),
                    c.image
                        .as_ref()
                        .map(|i| i.image.clone())
                        .unwrap_or_default(),
                ]
            })
            .collect();
        let now = Instant::now();
        let mut unused = Vec::new();
        for img in &images {
            let used = in_use.contains(&img.id)
                || img
                    .repo_tags
                    .iter()
                    .chain(img.repo_digests.iter())
                    .any(|t| in_use.contains(t))
                || img.pinned
                || img.repo_tags.iter().any(|t| self.pinned.contains(t));
            if used {
                self.unused_since.remove(&img.id);
            } else {
                let since = *self.unused_since.entry(img.id.clone()).or_insert(now);
                unused.push((since, img.id.clone()));
            }
        }
        let ids: HashSet<&String> = images.iter().map(|i| &i.id).collect();
        self.unused_since.retain(|id, _| ids.contains(id));

        let mut report = GcReport {
            usage_before: usage_percent(&self.fs),
            removed: Vec::new(),
        };
        if report.usage_before < self.policy.high_percent {
            return Ok(report);
        }
        unused.sort();
        for (since, id) in unused {
            if usage_percent(&self.fs) < self.policy.low_percent {
                break;
            }
            if now.duration_since(since) < self.policy.min_age {
                continue;
            }
            let spec = cri::ImageSpec {
                image: id.clone(),
                ..Default::default()
            };
            match cri
                .images
                .clone()
                .remove_image(cri::RemoveImageRequest { image: Some(spec) })
                .await
            {
                Ok(_) => {
                    self.unused_since.remove(&id);
                    report.removed.push(id);
                }
                Err(e) => tracing::warn!(image = %id, error = %e, "image not removed"),
            }
        }
        Ok(report)
    }
}
