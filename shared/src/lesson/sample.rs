//! The Kubernetes sample: a small cluster's `/registry/...` keys (namespaces, nodes, pods,
//! configmaps, secrets, services) as the API server would store them, for the lessons about
//! etcd in Kubernetes. Values are JSON text here; a real API server stores protobuf (with a
//! `k8s\0` prefix), which `etcdctl get` shows as mostly unreadable bytes.

use serde_json::{Value, json};

/// The sample's name, as `etcdlab lab --sample` and lesson files spell it.
pub const KUBERNETES: &str = "kubernetes";

/// The names of the samples there are.
pub const SAMPLES: &[&str] = &[KUBERNETES];

/// One stored Kubernetes object: its `/registry` key and its JSON text.
fn object(
    resource: &str,
    kind: &str,
    api_version: &str,
    namespace: Option<&str>,
    name: &str,
    mut body: Value,
) -> (String, String) {
    let key = match namespace {
        Some(ns) => format!("/registry/{resource}/{ns}/{name}"),
        None => format!("/registry/{resource}/{name}"),
    };
    let mut metadata = json!({ "name": name, "uid": uid(&key) });
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    // Extra metadata (labels) in the body joins the generated one.
    if let (Some(Value::Object(extra)), Some(target)) = (
        body.as_object_mut().and_then(|b| b.remove("metadata")),
        metadata.as_object_mut(),
    ) {
        target.extend(extra);
    }
    let mut value = json!({ "kind": kind, "apiVersion": api_version, "metadata": metadata });
    if let (Some(target), Value::Object(fields)) = (value.as_object_mut(), body) {
        target.extend(fields);
    }
    (key, value.to_string())
}

/// A stable uid-like text derived from the key, so the data set is the same every time.
fn uid(key: &str) -> String {
    let hash = key.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    let hex = format!("{hash:016x}{:016x}", hash.rotate_left(29));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn pod(namespace: &str, name: &str, node: &str, image: &str) -> (String, String) {
    let container = name.split('-').next().unwrap_or(name);
    object(
        "pods",
        "Pod",
        "v1",
        Some(namespace),
        name,
        json!({
            "spec": { "nodeName": node, "containers": [{ "name": container, "image": image }] },
            "status": { "phase": "Running" }
        }),
    )
}

fn node(name: &str, address: &str, control_plane: bool) -> (String, String) {
    let mut labels = json!({ "kubernetes.io/hostname": name });
    if control_plane {
        labels["node-role.kubernetes.io/control-plane"] = json!("");
    }
    object(
        "minions",
        "Node",
        "v1",
        None,
        name,
        json!({
            "metadata": { "labels": labels },
            "status": { "addresses": [{ "type": "InternalIP", "address": address }],
                        "conditions": [{ "type": "Ready", "status": "True" }] }
        }),
    )
}

/// The Kubernetes sample's keys and values, sorted by key.
pub fn kubernetes() -> Vec<(String, String)> {
    let mut entries = vec![
        node("controlplane", "192.168.56.10", true),
        node("node01", "192.168.56.11", false),
        pod(
            "kube-system",
            "etcd-controlplane",
            "controlplane",
            "registry.k8s.io/etcd:3.5.9-0",
        ),
        pod(
            "kube-system",
            "kube-apiserver-controlplane",
            "controlplane",
            "registry.k8s.io/kube-apiserver:v1.28.2",
        ),
        pod(
            "kube-system",
            "kube-controller-manager-controlplane",
            "controlplane",
            "registry.k8s.io/kube-controller-manager:v1.28.2",
        ),
        pod(
            "kube-system",
            "kube-scheduler-controlplane",
            "controlplane",
            "registry.k8s.io/kube-scheduler:v1.28.2",
        ),
        pod(
            "kube-system",
            "coredns-5dd5756b68-7xk2p",
            "controlplane",
            "registry.k8s.io/coredns/coredns:v1.10.1",
        ),
        pod(
            "kube-system",
            "kube-proxy-9wqfz",
            "node01",
            "registry.k8s.io/kube-proxy:v1.28.2",
        ),
        pod("default", "nginx", "node01", "nginx:1.25"),
        object(
            "configmaps",
            "ConfigMap",
            "v1",
            Some("kube-system"),
            "coredns",
            json!({ "data": { "Corefile": ".:53 {\n    errors\n    kubernetes cluster.local\n    forward . /etc/resolv.conf\n}\n" } }),
        ),
        object(
            "configmaps",
            "ConfigMap",
            "v1",
            Some("kube-system"),
            "kubeadm-config",
            json!({ "data": { "ClusterConfiguration": "etcd:\n  local:\n    dataDir: /var/lib/etcd\n" } }),
        ),
        object(
            "configmaps",
            "ConfigMap",
            "v1",
            Some("default"),
            "app-settings",
            json!({ "data": { "LOG_LEVEL": "info" } }),
        ),
        object(
            "secrets",
            "Secret",
            "v1",
            Some("default"),
            "db-password",
            json!({ "type": "Opaque", "data": { "password": "c3VwZXJzZWNyZXQ=" } }),
        ),
        object(
            "secrets",
            "Secret",
            "v1",
            Some("kube-system"),
            "bootstrap-token-abcdef",
            json!({ "type": "bootstrap.kubernetes.io/token", "data": { "token-id": "YWJjZGVm" } }),
        ),
        object(
            "services/specs",
            "Service",
            "v1",
            Some("default"),
            "kubernetes",
            json!({ "spec": { "clusterIP": "10.96.0.1", "ports": [{ "port": 443 }] } }),
        ),
        object(
            "services/specs",
            "Service",
            "v1",
            Some("kube-system"),
            "kube-dns",
            json!({ "spec": { "clusterIP": "10.96.0.10", "ports": [{ "port": 53 }] } }),
        ),
    ];
    for namespace in ["default", "kube-node-lease", "kube-public", "kube-system"] {
        entries.push(object(
            "namespaces",
            "Namespace",
            "v1",
            None,
            namespace,
            json!({ "status": { "phase": "Active" } }),
        ));
    }
    entries.sort();
    entries
}

/// The sample of that name.
pub fn named(name: &str) -> Option<Vec<(String, String)>> {
    (name == KUBERNETES).then(kubernetes)
}
