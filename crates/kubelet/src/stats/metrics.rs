//! `/metrics/resource`: the Prometheus text upstream's kubelet serves for metrics-server
//! (node, pod and container CPU seconds and memory working set).

use std::fmt::Write;

use super::summary::Summary;

fn millis(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> i64 {
    t.0.as_millisecond()
}

/// Renders `summary` in the Prometheus text format.
pub fn render(summary: &Summary) -> String {
    let mut out = String::new();
    let n = &summary.node;
    let _ = writeln!(
        out,
        "# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds\n# TYPE node_cpu_usage_seconds_total counter"
    );
    let _ = writeln!(
        out,
        "node_cpu_usage_seconds_total {} {}",
        n.cpu.usage_core_nano_seconds as f64 / 1e9,
        millis(&n.cpu.time)
    );
    let _ = writeln!(
        out,
        "# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes\n# TYPE node_memory_working_set_bytes gauge"
    );
    let _ = writeln!(
        out,
        "node_memory_working_set_bytes {} {}",
        n.memory.working_set_bytes,
        millis(&n.memory.time)
    );
    let _ = writeln!(
        out,
        "# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds\n# TYPE pod_cpu_usage_seconds_total counter"
    );
    for p in &summary.pods {
        let _ = writeln!(
            out,
            "pod_cpu_usage_seconds_total{{namespace=\"{}\",pod=\"{}\"}} {} {}",
            p.pod_ref.namespace,
            p.pod_ref.name,
            p.cpu.usage_core_nano_seconds as f64 / 1e9,
            millis(&p.cpu.time)
        );
    }
    let _ = writeln!(
        out,
        "# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes\n# TYPE pod_memory_working_set_bytes gauge"
    );
    for p in &summary.pods {
        let _ = writeln!(
            out,
            "pod_memory_working_set_bytes{{namespace=\"{}\",pod=\"{}\"}} {} {}",
            p.pod_ref.namespace,
            p.pod_ref.name,
            p.memory.working_set_bytes,
            millis(&p.memory.time)
        );
    }
    let _ = writeln!(
        out,
        "# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds\n# TYPE container_cpu_usage_seconds_total counter"
    );
    for p in &summary.pods {
        for c in &p.containers {
            let _ = writeln!(
                out,
                "container_cpu_usage_seconds_total{{container=\"{}\",namespace=\"{}\",pod=\"{}\"}} {} {}",
                c.name,
                p.pod_ref.namespace,
                p.pod_ref.name,
                c.cpu.usage_core_nano_seconds as f64 / 1e9,
                millis(&c.cpu.time)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes\n# TYPE container_memory_working_set_bytes gauge"
    );
    for p in &summary.pods {
        for c in &p.containers {
            let _ = writeln!(
                out,
                "container_memory_working_set_bytes{{container=\"{}\",namespace=\"{}\",pod=\"{}\"}} {} {}",
                c.name,
                p.pod_ref.namespace,
                p.pod_ref.name,
                c.memory.working_set_bytes,
                millis(&c.memory.time)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds\n# TYPE container_start_time_seconds gauge"
    );
    for p in &summary.pods {
        for c in &p.containers {
            let _ = writeln!(
                out,
                "container_start_time_seconds{{container=\"{}\",namespace=\"{}\",pod=\"{}\"}} {}",
                c.name,
                p.pod_ref.namespace,
                p.pod_ref.name,
                c.start_time.0.as_second()
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP scrape_error [ALPHA] 1 if there was an error while getting container metrics, 0 otherwise\n# TYPE scrape_error gauge\nscrape_error 0"
    );
    out
}
