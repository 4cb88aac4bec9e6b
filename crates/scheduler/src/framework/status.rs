//! The result of running a plugin: a code plus human-readable reasons, as a value.

use std::borrow::Cow;

/// What a plugin decided (upstream's `framework.Code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// The plugin ran and the pod may proceed.
    Success,
    /// Something unexpected went wrong; the pod is retried with backoff.
    Error,
    /// The node does not fit the pod now, but preemption might make it fit.
    Unschedulable,
    /// The node does not fit the pod, and preempting pods on it would not help.
    UnschedulableAndUnresolvable,
    /// A PreFilter/PreScore plugin has nothing to do for this pod: its Filter/Score are skipped.
    Skip,
}

/// A plugin's outcome: [`Code`], the reasons shown to users, and which plugin said it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The decision.
    pub code: Code,
    /// Why, in upstream's words (e.g. "Insufficient cpu"); empty on success.
    pub reasons: Vec<Cow<'static, str>>,
    /// The plugin that returned this status (set by the framework).
    pub plugin: &'static str,
}

impl Status {
    /// Success, no reasons.
    pub const fn success() -> Status {
        Status {
            code: Code::Success,
            reasons: Vec::new(),
            plugin: "",
        }
    }

    /// A status with `code` and one reason.
    pub fn new(code: Code, reason: impl Into<Cow<'static, str>>) -> Status {
        Status {
            code,
            reasons: vec![reason.into()],
            plugin: "",
        }
    }

    /// Unschedulable (preemption may help) for one reason.
    pub fn unschedulable(reason: impl Into<Cow<'static, str>>) -> Status {
        Status::new(Code::Unschedulable, reason)
    }

    /// Unschedulable and unresolvable (preemption cannot help) for one reason.
    pub fn unresolvable(reason: impl Into<Cow<'static, str>>) -> Status {
        Status::new(Code::UnschedulableAndUnresolvable, reason)
    }

    /// An internal error.
    pub fn error(reason: impl Into<Cow<'static, str>>) -> Status {
        Status::new(Code::Error, reason)
    }

    /// An error for a plugin whose PreFilter/PreScore state under `key` is not in the cycle
    /// state (its Filter/Score ran without it), worded as upstream.
    pub fn missing_state(key: &str) -> Status {
        Status::error(format!("error reading {key:?} from cycleState: not found"))
    }

    /// Skip: the plugin does not apply to this pod.
    pub const fn skip() -> Status {
        Status {
            code: Code::Skip,
            reasons: Vec::new(),
            plugin: "",
        }
    }

    /// Whether the code is [`Code::Success`].
    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }

    /// Whether the code is [`Code::Skip`].
    pub fn is_skip(&self) -> bool {
        self.code == Code::Skip
    }

    /// Whether the pod is rejected (either unschedulable code).
    pub fn is_rejected(&self) -> bool {
        matches!(
            self.code,
            Code::Unschedulable | Code::UnschedulableAndUnresolvable
        )
    }

    /// The reasons joined by ", ", as upstream prints a status message.
    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }

    /// The same status, attributed to `plugin`.
    pub fn with_plugin(mut self, plugin: &'static str) -> Status {
        self.plugin = plugin;
        self
    }
}

impl Default for Status {
    fn default() -> Status {
        Status::success()
    }
}
