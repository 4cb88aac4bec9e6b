"""Drives an rkube apiserver with the official Python client (PyPI `kubernetes`), as users'
scripts do: CRUD, optimistic concurrency, the three patch types, selectors, a watch, the scale
subresource, error Status bodies, and a CRD with its custom objects. Prints one line per check; exits non-zero on the first
failure. Usage: client_flows.py KUBECONFIG"""

import json
import sys
import threading
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


def check(cond, what):
    if not cond:
        print(f"FAIL {what}", flush=True)
        sys.exit(1)
    print(f"ok {what}", flush=True)


def expect_status(call, code, what):
    try:
        call()
    except ApiException as e:
        body = json.loads(e.body)
        check(e.status == code and body.get("kind") == "Status" and body.get("code") == code,
              f"{what}: {e.status} {body.get('reason')}")
        return body
    check(False, f"{what}: no error")


config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
apps = client.AppsV1Api()
ns = "pyclient"

v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
meta = client.V1ObjectMeta(name="cfg", labels={"app": "py"})
cm = v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=meta, data={"a": "1"}))
check(cm.metadata.resource_version and cm.metadata.uid, "create returns uid and resourceVersion")
got = v1.read_namespaced_config_map("cfg", ns)
check(got.data == {"a": "1"} and got.metadata.labels == {"app": "py"}, "read")
got.data["b"] = "2"
updated = v1.replace_namespaced_config_map("cfg", ns, got)
check(updated.data == {"a": "1", "b": "2"}, "replace")
got.metadata.resource_version = cm.metadata.resource_version
expect_status(lambda: v1.replace_namespaced_config_map("cfg", ns, got), 409,
              "a replace at a stale resourceVersion conflicts")

patched = v1.patch_namespaced_config_map("cfg", ns, {"data": {"c": "3"}})
check(patched.data == {"a": "1", "b": "2", "c": "3"}, "patch with a dict (merge)")
patched = v1.patch_namespaced_config_map("cfg", ns, [{"op": "remove", "path": "/data/a"}])
check(patched.data == {"b": "2", "c": "3"}, "JSON patch")
expect_status(lambda: v1.patch_namespaced_config_map(
    "cfg", ns, [{"op": "remove", "path": "/data/nope"}]), 422, "a JSON patch that does not apply")

v1.create_namespaced_config_map(ns, client.V1ConfigMap(
    metadata=client.V1ObjectMeta(name="other", labels={"app": "other"})))
listed = v1.list_namespaced_config_map(ns, label_selector="app=py")
check([i.metadata.name for i in listed.items] == ["cfg"], "list by label selector")
listed = v1.list_namespaced_config_map(ns, field_selector="metadata.name=other")
check([i.metadata.name for i in listed.items] == ["other"], "list by field selector")
page = v1.list_namespaced_config_map(ns, limit=1)
check(len(page.items) == 1 and page.metadata._continue, "a limited list returns a continue token")
rest = v1.list_namespaced_config_map(ns, limit=1, _continue=page.metadata._continue)
check(len(rest.items) == 1 and rest.items[0].metadata.name != page.items[0].metadata.name,
      "the continue token returns the next page")

events = []
start_rv = v1.list_namespaced_config_map(ns).metadata.resource_version


def follow():
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=start_rv,
                       timeout_seconds=20):
        events.append((ev["type"], ev["object"].metadata.name))
        if ev["type"] == "DELETED":
            w.stop()


watcher = threading.Thread(target=follow)
watcher.start()
time.sleep(0.5)
v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w")))
v1.patch_namespaced_config_map("w", ns, {"data": {"x": "y"}})
v1.delete_namespaced_config_map("w", ns)
watcher.join(25)
check(events == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")], f"watch events {events}")

deployment = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
}
created = apps.create_namespaced_deployment(ns, deployment)
check(created.spec.strategy.type == "RollingUpdate", "defaults applied to a typed Deployment")
scale = apps.read_namespaced_deployment_scale("web", ns)
check(scale.spec.replicas == 1, "read the scale subresource")
apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 3}})
check(apps.read_namespaced_deployment("web", ns).spec.replicas == 3, "patch the scale subresource")
patched = apps.patch_namespaced_deployment("web", ns, {"spec": {"template": {"spec": {
    "containers": [{"name": "c", "image": "busybox:2"}]}}}})
check([c.image for c in patched.spec.template.spec.containers] == ["busybox:2"],
      "strategic merge patch merges containers by name")

body = expect_status(lambda: v1.read_namespaced_pod("nope", ns), 404, "a missing pod")
check(body["reason"] == "NotFound" and body["details"]["name"] == "nope", "the 404 Status names it")
bad = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="Not_Valid"))
body = expect_status(lambda: v1.create_namespaced_config_map(ns, bad), 422, "an invalid name")
check(body["details"]["causes"][0]["field"] == "metadata.name", "the 422 names the field")

ext = client.ApiextensionsV1Api()
custom = client.CustomObjectsApi()
ext.create_custom_resource_definition({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "crontabs.py.example.com"},
    "spec": {"group": "py.example.com", "scope": "Namespaced",
             "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                 "openAPIV3Schema": {"type": "object", "properties": {"spec": {
                     "type": "object", "properties": {
                         "cronSpec": {"type": "string"},
                         "replicas": {"type": "integer", "default": 1}}}}}}}]}})
deadline = time.time() + 2
while not any(c.type == "Established" and c.status == "True"
              for c in (ext.read_custom_resource_definition("crontabs.py.example.com")
                        .status.conditions or [])):
    check(time.time() < deadline, "the CRD is established within two seconds")
    time.sleep(0.05)
check(True, "the CRD is established")
tab = {"apiVersion": "py.example.com/v1", "kind": "CronTab", "metadata": {"name": "tab"},
       "spec": {"cronSpec": "* * * * */5"}}
created = custom.create_namespaced_custom_object("py.example.com", "v1", ns, "crontabs", tab)
check(created["spec"]["replicas"] == 1 and created["metadata"]["uid"],
      "create a custom object (defaulted)")
got = custom.get_namespaced_custom_object("py.example.com", "v1", ns, "crontabs", "tab")
check(got["spec"]["cronSpec"] == "* * * * */5", "get a custom object")
listed = custom.list_namespaced_custom_object("py.example.com", "v1", ns, "crontabs")
check([i["metadata"]["name"] for i in listed["items"]] == ["tab"], "list custom objects")
patched = custom.patch_namespaced_custom_object("py.example.com", "v1", ns, "crontabs", "tab",
                                                {"spec": {"replicas": 3}})
check(patched["spec"]["replicas"] == 3, "merge-patch a custom object")
bad = dict(tab, metadata={"name": "bad"}, spec={"replicas": "many"})
body = expect_status(lambda: custom.create_namespaced_custom_object(
    "py.example.com", "v1", ns, "crontabs", bad), 422, "a custom object against its schema")
check(body["details"]["causes"][0]["field"] == "spec.replicas", "the 422 names the field")
custom.delete_namespaced_custom_object("py.example.com", "v1", ns, "crontabs", "tab")
expect_status(lambda: custom.get_namespaced_custom_object(
    "py.example.com", "v1", ns, "crontabs", "tab"), 404, "a deleted custom object")

v1.delete_namespace(ns)
check(v1.read_namespace(ns).status.phase == "Terminating", "namespace deletion starts")
print("PASS", flush=True)
