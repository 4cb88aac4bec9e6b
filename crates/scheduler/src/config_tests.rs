//! The configuration file: defaults, per-point overrides, weights, and errors naming the field.

use crate::config::{ConfigError, SchedulerConfiguration};

fn frameworks(yaml: &str) -> Result<Vec<crate::framework::Framework>, ConfigError> {
    SchedulerConfiguration::parse(yaml)?.frameworks()
}

const HEAD: &str = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n";

#[test]
fn the_default_profile_is_default_scheduler() {
    let fws = frameworks(HEAD).unwrap();
    assert_eq!(fws.len(), 1);
    assert_eq!(fws[0].scheduler_name, "default-scheduler");
    assert!(fws[0].plugin("NodeName").is_some());
}

#[test]
fn profiles_disable_and_reweight_plugins() {
    let yaml = format!(
        "{HEAD}percentageOfNodesToScore: 30\nprofiles:\n- schedulerName: a\n- schedulerName: b\n  plugins:\n    filter:\n      disabled: [{{name: NodeName}}]\n    multiPoint:\n      disabled: [{{name: NodeUnschedulable}}]\n"
    );
    let fws = frameworks(&yaml).unwrap();
    assert_eq!(fws.len(), 2);
    assert_eq!(fws[1].scheduler_name, "b");
    assert_eq!(fws[1].percentage_of_nodes_to_score, Some(30));
    assert!(fws[0].plugin("NodeUnschedulable").is_some());
    assert!(fws[1].plugin("NodeUnschedulable").is_none());
    assert!(
        fws[1].plugin("NodeName").is_none(),
        "disabled at its only point"
    );
}

#[test]
fn bad_files_name_the_field() {
    let cases = [
        (
            "apiVersion: v1\nkind: KubeSchedulerConfiguration\n",
            "apiVersion",
        ),
        (&format!("{HEAD}profilez: []\n") as &str, "profilez"),
        (
            &format!(
                "{HEAD}profiles:\n- schedulerName: x\n  plugins:\n    score:\n      enabled: [{{name: NoSuchPlugin}}]\n"
            ),
            "profiles[0].plugins.score.enabled[0]",
        ),
        (
            &format!(
                "{HEAD}profiles:\n- schedulerName: x\n  plugins:\n    filter:\n      enabled: [{{name: PrioritySort}}]\n"
            ),
            "does not implement filter",
        ),
        (
            &format!("{HEAD}profiles:\n- schedulerName: x\n- schedulerName: x\n"),
            "profiles[1].schedulerName",
        ),
        (
            &format!("{HEAD}percentageOfNodesToScore: 150\n"),
            "percentageOfNodesToScore",
        ),
        (
            &format!("{HEAD}profiles:\n- pluginConfig:\n  - name: Nope\n    args: {{}}\n"),
            "profiles[0].pluginConfig[0].name",
        ),
        (&format!("{HEAD}profiles: 7\n"), "profiles"),
    ];
    for (yaml, field) in cases {
        let err = match frameworks(yaml) {
            Ok(_) => panic!("accepted: {yaml}"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(field), "{field:?} not in {err:?}");
    }
}
