//! The CronJob controller, as upstream's (v2): creates a Job for each due scheduled time.
//!
//! Watches CronJobs and Jobs; each change enqueues the CronJob, and the reconcile tracks its
//! Jobs in `status.active` (SawCompletedJob, MissingJob), computes the most recent missed time
//! ([`times`]), honours suspend, startingDeadlineSeconds (MissSchedule) and concurrencyPolicy
//! (Forbid: JobAlreadyActive; Replace: deletes the running ones), creates `<name>-<minutes>`
//! with the `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation, prunes finished Jobs
//! beyond the history limits, and requeues itself for the next scheduled time.

mod controller;
pub mod times;

pub use controller::{COMPONENT, SCHEDULED_TIMESTAMP, run, run_with_clock};
