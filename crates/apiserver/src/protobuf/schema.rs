//! The schema: every Kubernetes protobuf message with its fields (number, JSON name, type), built
//! once from the descriptor set that `build.rs` compiles from Kubernetes' `generated.proto` files,
//! plus what the `.proto` files do not say (see [`super::go_fields`] and [`Special`]).

use super::ProtobufError;
use super::go_fields::KEEP_ZERO;
use prost::Message as _;
use prost_types::field_descriptor_proto::{Label as ProtoLabel, Type as ProtoType};
use prost_types::{DescriptorProto, FileDescriptorSet};
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// The compiled descriptor set (`protoc --include_imports -o`, from `build.rs`).
static DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/k8s.fds"));

static SCHEMA: LazyLock<Result<Schema, String>> = LazyLock::new(|| Schema::build(DESCRIPTOR_SET));

/// The schema, built on first use.
pub(super) fn get() -> Result<&'static Schema, ProtobufError> {
    SCHEMA
        .as_ref()
        .map_err(|e| ProtobufError::Schema(e.clone()))
}

/// All messages, by index; fields refer to messages by index.
#[derive(Debug)]
pub(super) struct Schema {
    pub(super) messages: Vec<Message>,
    by_name: HashMap<String, usize>,
}

/// One protobuf message type.
#[derive(Debug)]
pub(super) struct Message {
    /// Full name without the leading dot, e.g. `api.apps.v1.DeploymentSpec`.
    pub(super) name: String,
    /// How its JSON form differs from a plain object of its fields.
    pub(super) special: Special,
    /// Sorted by number.
    pub(super) fields: Vec<Field>,
    map_entry: bool,
}

/// One field of a message.
#[derive(Debug)]
pub(super) struct Field {
    pub(super) number: u32,
    /// The name in the JSON API (the protobuf name, except for the few in [`json_name`]).
    pub(super) json_name: String,
    pub(super) kind: Kind,
    pub(super) label: Label,
    /// A zero value (`""`, `0`, `false`) of this scalar is kept in the JSON (Go pointer fields
    /// and fields without `omitempty`); other zero scalars are dropped.
    pub(super) keep_zero: bool,
    /// An embedded Go struct (`json:",inline"`): its fields go into the parent's JSON object.
    pub(super) inline: bool,
}

/// What a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A scalar.
    Scalar(Scalar),
    /// An embedded message, by index into [`Schema::messages`].
    Message(usize),
    /// Something Kubernetes never uses (groups): decoding it is an error.
    Unsupported,
}

/// Single, repeated, or a map (a repeated map-entry message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Label {
    /// At most one value; the last one on the wire wins (messages merge).
    Single,
    /// A list; scalars may be packed.
    Repeated,
    /// `map<key, value>`.
    Map {
        /// The key's type.
        key: Scalar,
        /// The value's type.
        value: Kind,
    },
}

/// Protobuf scalar types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub(super) enum Scalar {
    Double,
    Float,
    Int64,
    Uint64,
    Int32,
    Fixed64,
    Fixed32,
    Bool,
    String,
    Bytes,
    Uint32,
    Enum,
    Sfixed32,
    Sfixed64,
    Sint32,
    Sint64,
}

impl Scalar {
    /// Whether a repeated field of this type may arrive packed (one length-delimited run).
    pub(super) fn packable(self) -> bool {
        !matches!(self, Scalar::String | Scalar::Bytes)
    }
}

/// Messages whose JSON form is not an object of their fields (Go types with custom JSON
/// marshalling).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Special {
    /// An ordinary message: a JSON object.
    None,
    /// `meta/v1.Time`: RFC 3339 with seconds, or `null` when zero.
    Time,
    /// `meta/v1.MicroTime`: RFC 3339 with microseconds, or `null` when zero.
    MicroTime,
    /// `meta/v1.Duration`: Go's duration string (`1h0m0s`).
    Duration,
    /// `intstr.IntOrString`: a number or a string.
    IntOrString,
    /// `resource.Quantity` and `QuantityValue`: the string.
    Quantity,
    /// `runtime.RawExtension`, `meta/v1.FieldsV1`, apiextensions `JSON`: embedded raw JSON.
    RawJson,
    /// `runtime.Unknown`: an embedded object with its own type and content type.
    Unknown,
    /// `meta/v1.Verbs` and the `ExtraValue`s: a list of strings.
    StringList,
    /// apiextensions `JSONSchemaPropsOrArray`: a schema or a list of schemas.
    SchemaOrArray,
    /// apiextensions `JSONSchemaPropsOrBool`: a schema or a boolean.
    SchemaOrBool,
    /// apiextensions `JSONSchemaPropsOrStringArray`: a schema or a list of strings.
    SchemaOrStringArray,
}

fn special(name: &str) -> Special {
    match name {
        "apimachinery.pkg.apis.meta.v1.Time" => Special::Time,
        "apimachinery.pkg.apis.meta.v1.MicroTime" => Special::MicroTime,
        "apimachinery.pkg.apis.meta.v1.Duration" => Special::Duration,
        "apimachinery.pkg.util.intstr.IntOrString" => Special::IntOrString,
        "apimachinery.pkg.api.resource.Quantity"
        | "apimachinery.pkg.api.resource.QuantityValue" => Special::Quantity,
        "apimachinery.pkg.runtime.RawExtension" | "apimachinery.pkg.apis.meta.v1.FieldsV1" => {
            Special::RawJson
        }
        "apimachinery.pkg.runtime.Unknown" => Special::Unknown,
        "apimachinery.pkg.apis.meta.v1.Verbs" => Special::StringList,
        _ if name.starts_with("api.") && name.ends_with(".ExtraValue") => Special::StringList,
        _ if name.starts_with(APIEXTENSIONS) => match name.rsplit('.').next() {
            Some("JSON") => Special::RawJson,
            Some("JSONSchemaPropsOrArray") => Special::SchemaOrArray,
            Some("JSONSchemaPropsOrBool") => Special::SchemaOrBool,
            Some("JSONSchemaPropsOrStringArray") => Special::SchemaOrStringArray,
            _ => Special::None,
        },
        _ => Special::None,
    }
}

const APIEXTENSIONS: &str = "apiextensions_apiserver.pkg.apis.apiextensions.";

/// The JSON name of a field: the protobuf name, except where Go's `protobuf` tag names it
/// differently from its `json` tag (a JSON name that is not an identifier, or a capitalised
/// Go field name).
fn json_name(message: &str, proto: &str) -> String {
    if message.starts_with(APIEXTENSIONS) && message.ends_with(".JSONSchemaProps") {
        match proto {
            "schema" => return "$schema".into(),
            "ref" => return "$ref".into(),
            _ => {}
        }
        if let Some(rest) = proto.strip_prefix("xKubernetes") {
            let mut out = String::from("x-kubernetes");
            for c in rest.chars() {
                if c.is_ascii_uppercase() {
                    out.push('-');
                    out.push(c.to_ascii_lowercase());
                } else {
                    out.push(c);
                }
            }
            return out;
        }
    }
    match proto {
        "aPIGroup" => "apiGroup",
        "uID" => "uid",
        "Webhooks" => "webhooks",
        "Name" => "name",
        "Expression" => "expression",
        other => other,
    }
    .to_string()
}

/// Embedded Go structs (`json:",inline"`) by protobuf field name and message type name.
const INLINE: &[(&str, &str)] = &[
    ("volumeSource", "VolumeSource"),
    ("persistentVolumeSource", "PersistentVolumeSource"),
    ("handler", "ProbeHandler"),
    ("localObjectReference", "LocalObjectReference"),
    ("ephemeralContainerCommon", "EphemeralContainerCommon"),
    ("ingressRuleValue", "IngressRuleValue"),
    ("rule", "Rule"),
    ("ruleWithOperations", "RuleWithOperations"),
    ("deviceConfiguration", "DeviceConfiguration"),
];

fn scalar(t: ProtoType) -> Option<Scalar> {
    Some(match t {
        ProtoType::Double => Scalar::Double,
        ProtoType::Float => Scalar::Float,
        ProtoType::Int64 => Scalar::Int64,
        ProtoType::Uint64 => Scalar::Uint64,
        ProtoType::Int32 => Scalar::Int32,
        ProtoType::Fixed64 => Scalar::Fixed64,
        ProtoType::Fixed32 => Scalar::Fixed32,
        ProtoType::Bool => Scalar::Bool,
        ProtoType::String => Scalar::String,
        ProtoType::Bytes => Scalar::Bytes,
        ProtoType::Uint32 => Scalar::Uint32,
        ProtoType::Enum => Scalar::Enum,
        ProtoType::Sfixed32 => Scalar::Sfixed32,
        ProtoType::Sfixed64 => Scalar::Sfixed64,
        ProtoType::Sint32 => Scalar::Sint32,
        ProtoType::Sint64 => Scalar::Sint64,
        ProtoType::Group | ProtoType::Message => return None,
    })
}

impl Schema {
    fn build(descriptor_set: &[u8]) -> Result<Schema, String> {
        let set = FileDescriptorSet::decode(descriptor_set).map_err(|e| e.to_string())?;
        // Pass 1: every message (nested ones too: map entries), so fields can refer by index.
        let mut protos: Vec<(String, &DescriptorProto)> = Vec::new();
        for file in &set.file {
            let package = file.package();
            for m in &file.message_type {
                collect(package, m, &mut protos);
            }
        }
        let by_name: HashMap<String, usize> = protos
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.clone(), i))
            .collect();
        let keep: HashSet<(&str, &str)> = KEEP_ZERO
            .iter()
            .flat_map(|(m, fields)| fields.iter().map(move |f| (*m, *f)))
            .collect();
        let mut messages: Vec<Message> = protos
            .iter()
            .map(|(name, proto)| Message {
                name: name.clone(),
                special: special(name),
                fields: Vec::new(),
                map_entry: proto.options.as_ref().is_some_and(|o| o.map_entry()),
            })
            .collect();
        // Pass 2: fields.
        for (index, (name, proto)) in protos.iter().enumerate() {
            let mut fields = Vec::with_capacity(proto.field.len());
            for f in &proto.field {
                let number =
                    u32::try_from(f.number()).map_err(|_| format!("{name}: bad field number"))?;
                let kind = field_kind(f.r#type(), f.type_name(), &by_name).ok_or_else(|| {
                    format!("{name}.{}: unknown type {}", f.name(), f.type_name())
                })?;
                let mut label = if f.label() == ProtoLabel::Repeated {
                    Label::Repeated
                } else {
                    Label::Single
                };
                if let (Label::Repeated, Kind::Message(entry)) = (label, kind)
                    && messages[entry].map_entry
                {
                    label = map_label(&protos[entry], &by_name)
                        .ok_or_else(|| format!("{name}.{}: bad map entry", f.name()))?;
                }
                let type_short = f.type_name().rsplit('.').next().unwrap_or("");
                fields.push(Field {
                    number,
                    json_name: json_name(name, f.name()),
                    kind,
                    label,
                    keep_zero: keep.contains(&(name.as_str(), f.name())),
                    inline: matches!(kind, Kind::Message(_))
                        && label == Label::Single
                        && INLINE.contains(&(f.name(), type_short)),
                });
            }
            fields.sort_by_key(|f| f.number);
            messages[index].fields = fields;
        }
        Ok(Schema { messages, by_name })
    }

    /// The message with this full name.
    pub(super) fn message_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The message for an object of `apiVersion` and `kind`, as client-go's protobuf serializer
    /// names it in the `runtime.Unknown` envelope.
    pub(super) fn resolve_kind(&self, api_version: &str, kind: &str) -> Option<usize> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        if version.is_empty() || kind.is_empty() || !is_identifier(version) || !is_identifier(kind)
        {
            return None;
        }
        let package = match group {
            "" => "api.core".to_string(),
            "apiextensions.k8s.io" => "apiextensions_apiserver.pkg.apis.apiextensions".to_string(),
            "apiregistration.k8s.io" => "kube_aggregator.pkg.apis.apiregistration".to_string(),
            "internal.apiserver.k8s.io" => "api.apiserverinternal".to_string(),
            "metrics.k8s.io" => "metrics.pkg.apis.metrics".to_string(),
            "custom.metrics.k8s.io" => "metrics.pkg.apis.custom_metrics".to_string(),
            "external.metrics.k8s.io" => "metrics.pkg.apis.external_metrics".to_string(),
            "meta.k8s.io" => "apimachinery.pkg.apis.meta".to_string(),
            g => {
                let first = g.split('.').next().unwrap_or("");
                if !is_identifier(first) {
                    return None;
                }
                format!("api.{first}")
            }
        };
        let in_group = self.message_index(&format!("{package}.{version}.{kind}"));
        // Options and status kinds (DeleteOptions, Status, …) are meta/v1's in every group.
        in_group.or_else(|| {
            const OPTIONS: &[&str] = &[
                "DeleteOptions",
                "CreateOptions",
                "UpdateOptions",
                "PatchOptions",
                "GetOptions",
                "ListOptions",
                "Status",
                "WatchEvent",
            ];
            OPTIONS
                .contains(&kind)
                .then(|| self.message_index(&format!("apimachinery.pkg.apis.meta.v1.{kind}")))
                .flatten()
        })
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn collect<'a>(prefix: &str, m: &'a DescriptorProto, out: &mut Vec<(String, &'a DescriptorProto)>) {
    let name = if prefix.is_empty() {
        m.name().to_string()
    } else {
        format!("{prefix}.{}", m.name())
    };
    for nested in &m.nested_type {
        collect(&name, nested, out);
    }
    out.push((name, m));
}

fn field_kind(t: ProtoType, type_name: &str, by_name: &HashMap<String, usize>) -> Option<Kind> {
    match t {
        ProtoType::Message => by_name
            .get(type_name.trim_start_matches('.'))
            .map(|&i| Kind::Message(i)),
        ProtoType::Group => Some(Kind::Unsupported),
        other => scalar(other).map(Kind::Scalar),
    }
}

fn map_label(
    entry: &(String, &DescriptorProto),
    by_name: &HashMap<String, usize>,
) -> Option<Label> {
    let field = |n: i32| entry.1.field.iter().find(|f| f.number() == n);
    let key = field(1)?;
    let value = field(2)?;
    Some(Label::Map {
        key: scalar(key.r#type())?,
        value: field_kind(value.r#type(), value.type_name(), by_name)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_builds_with_the_kinds_we_serve() {
        let s = get().unwrap();
        for (api_version, kind, message) in [
            ("v1", "Namespace", "api.core.v1.Namespace"),
            ("apps/v1", "Deployment", "api.apps.v1.Deployment"),
            (
                "rbac.authorization.k8s.io/v1",
                "ClusterRole",
                "api.rbac.v1.ClusterRole",
            ),
            (
                "networking.k8s.io/v1",
                "Ingress",
                "api.networking.v1.Ingress",
            ),
            (
                "flowcontrol.apiserver.k8s.io/v1",
                "FlowSchema",
                "api.flowcontrol.v1.FlowSchema",
            ),
            (
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                "apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
            ),
            (
                "policy/v1",
                "DeleteOptions",
                "apimachinery.pkg.apis.meta.v1.DeleteOptions",
            ),
        ] {
            let i = s
                .resolve_kind(api_version, kind)
                .unwrap_or_else(|| panic!("{kind}"));
            assert_eq!(s.messages[i].name, message);
        }
        assert_eq!(s.resolve_kind("v1", "NoSuchKind"), None);
        assert_eq!(s.resolve_kind("example.com/v1", "Widget"), None);
        assert_eq!(s.resolve_kind("v1", "../x"), None);
    }

    #[test]
    fn every_keep_zero_entry_names_a_scalar_field() {
        let s = get().unwrap();
        for (message, fields) in KEEP_ZERO {
            let i = s
                .message_index(message)
                .unwrap_or_else(|| panic!("no message {message}"));
            for name in *fields {
                let f = s.messages[i]
                    .fields
                    .iter()
                    .find(|f| f.keep_zero && f.json_name == json_name(message, name))
                    .unwrap_or_else(|| panic!("no field {message}.{name}"));
                assert!(matches!(f.kind, Kind::Scalar(_)), "{message}.{name}");
            }
        }
    }

    #[test]
    fn inline_renamed_and_map_fields() {
        let s = get().unwrap();
        let field = |m: &str, json: &str| {
            let i = s.message_index(m).unwrap();
            s.messages[i]
                .fields
                .iter()
                .find(|f| f.json_name == json)
                .unwrap_or_else(|| panic!("{m}.{json}"))
        };
        assert!(field("api.core.v1.Volume", "volumeSource").inline);
        assert!(field("api.core.v1.Probe", "handler").inline);
        assert!(field("api.core.v1.EphemeralContainer", "ephemeralContainerCommon").inline);
        assert!(!field("api.core.v1.Container", "securityContext").inline);
        assert!(!field("api.node.v1.RuntimeClass", "handler").inline);
        assert!(matches!(
            field("api.core.v1.Secret", "data").label,
            Label::Map {
                value: Kind::Scalar(Scalar::Bytes),
                ..
            }
        ));
        assert_eq!(
            field(
                "api.networking.v1.IngressClassParametersReference",
                "apiGroup"
            )
            .number,
            1
        );
        let props = "apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps";
        field(props, "$ref");
        field(props, "x-kubernetes-preserve-unknown-fields");
        field(props, "x-kubernetes-int-or-string");
        assert!(field("api.apps.v1.DeploymentSpec", "replicas").keep_zero);
        assert!(!field("api.apps.v1.DeploymentSpec", "minReadySeconds").keep_zero);
        assert_eq!(
            s.messages[s
                .message_index("apimachinery.pkg.apis.meta.v1.Time")
                .unwrap()]
            .special,
            Special::Time
        );
    }
}
