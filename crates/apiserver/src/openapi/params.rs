//! The request parameters of the REST operations (path segments and query options).

/// Where a parameter goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum In {
    /// A `{name}` segment of the path.
    Path,
    /// A query option.
    Query,
}

impl In {
    /// The OpenAPI `in` value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            In::Path => "path",
            In::Query => "query",
        }
    }
}

/// One parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Param {
    /// Name, e.g. `fieldValidation`.
    pub name: &'static str,
    /// Location.
    pub location: In,
    /// JSON type: `string`, `integer` or `boolean`.
    pub ty: &'static str,
    /// Human description.
    pub description: String,
}

impl Param {
    fn query(name: &'static str, ty: &'static str, description: &str) -> Param {
        Param {
            name,
            location: In::Query,
            ty,
            description: description.to_string(),
        }
    }

    /// Whether the parameter must be given (path parameters always must).
    pub(crate) fn required(&self) -> bool {
        self.location == In::Path
    }
}

/// `{namespace}`.
pub(crate) fn namespace() -> Param {
    Param {
        name: "namespace",
        location: In::Path,
        ty: "string",
        description: "object name and auth scope, such as for teams and projects".into(),
    }
}

/// `{name}` of an object of `kind`.
pub(crate) fn name(kind: &str) -> Param {
    Param {
        name: "name",
        location: In::Path,
        ty: "string",
        description: format!("name of the {kind}"),
    }
}

/// `pretty`.
pub(crate) fn pretty() -> Param {
    Param::query(
        "pretty",
        "string",
        "If 'true', then the output is pretty printed.",
    )
}

/// `dryRun`.
pub(crate) fn dry_run() -> Param {
    Param::query(
        "dryRun",
        "string",
        "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
    )
}

/// `fieldManager`; `patch` adds the note about apply requests.
pub(crate) fn field_manager(patch: bool) -> Param {
    let mut description = String::from(
        "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",
    );
    if patch {
        description.push_str(" This field is required for apply requests (application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch).");
    }
    Param {
        name: "fieldManager",
        location: In::Query,
        ty: "string",
        description,
    }
}

/// `fieldValidation`: kubectl looks for it on PATCH operations to decide that the server
/// validates fields itself (and then skips client-side validation).
pub(crate) fn field_validation() -> Param {
    Param::query(
        "fieldValidation",
        "string",
        "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.",
    )
}

/// `force` (apply patches only).
pub(crate) fn force() -> Param {
    Param::query(
        "force",
        "boolean",
        "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
    )
}

/// `gracePeriodSeconds`.
pub(crate) fn grace_period_seconds() -> Param {
    Param::query(
        "gracePeriodSeconds",
        "integer",
        "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately.",
    )
}

/// `orphanDependents`.
pub(crate) fn orphan_dependents() -> Param {
    Param::query(
        "orphanDependents",
        "boolean",
        "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed from the object's finalizers list. Either this field or PropagationPolicy may be set, but not both.",
    )
}

/// `propagationPolicy`.
pub(crate) fn propagation_policy() -> Param {
    Param::query(
        "propagationPolicy",
        "string",
        "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.",
    )
}

/// The options of a list (or watch) request, alphabetically as upstream lists them.
pub(crate) fn list_options() -> Vec<Param> {
    vec![
        Param::query(
            "allowWatchBookmarks",
            "boolean",
            "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored.",
        ),
        continue_option(),
        field_selector(),
        label_selector(),
        limit(),
        resource_version(),
        resource_version_match(),
        send_initial_events(),
        timeout_seconds(),
        Param::query(
            "watch",
            "boolean",
            "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",
        ),
    ]
}

/// The options of a delete-collection request (list selection plus delete options).
pub(crate) fn delete_collection_options() -> Vec<Param> {
    vec![
        continue_option(),
        dry_run(),
        field_selector(),
        grace_period_seconds(),
        label_selector(),
        limit(),
        orphan_dependents(),
        propagation_policy(),
        resource_version(),
        resource_version_match(),
        send_initial_events(),
        timeout_seconds(),
    ]
}

fn continue_option() -> Param {
    Param::query(
        "continue",
        "string",
        "The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize. If the specified continue value is no longer valid, the server will respond with a 410 ResourceExpired error together with a continue token.\n\nThis field is not supported when watch is true. Clients may start a watch from the last resourceVersion value returned by the server and not miss any modifications.",
    )
}

fn field_selector() -> Param {
    Param::query(
        "fieldSelector",
        "string",
        "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
    )
}

fn label_selector() -> Param {
    Param::query(
        "labelSelector",
        "string",
        "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
    )
}

fn limit() -> Param {
    Param::query(
        "limit",
        "integer",
        "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results. Setting a limit may return fewer than the requested amount of items (up to zero items) in the event all requested objects are filtered out and clients should only use the presence of the continue field to determine whether more results are available. This field is not supported if watch is true.",
    )
}

fn resource_version() -> Param {
    Param::query(
        "resourceVersion",
        "string",
        "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
    )
}

fn resource_version_match() -> Param {
    Param::query(
        "resourceVersionMatch",
        "string",
        "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
    )
}

fn send_initial_events() -> Param {
    Param::query(
        "sendInitialEvents",
        "boolean",
        "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection. Once all such events have been sent, a synthetic \"Bookmark\" event will be sent. The bookmark will report the ResourceVersion (RV) corresponding to the set of objects, and be marked with `\"k8s.io/initial-events-end\": \"true\"` annotation.",
    )
}

fn timeout_seconds() -> Param {
    Param::query(
        "timeoutSeconds",
        "integer",
        "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.",
    )
}
