//! Separate "hosts" for the partition tests: Linux network namespaces that a test makes for
//! itself with `ip netns`, one per member, each joined by a veth pair to a bridge in a hub
//! namespace of the test's own. A link taken down cuts its member off the others. Everything
//! is named after the test process and deleted on drop (also after a panic), so runs never
//! meet; the host's own interfaces and routes are never touched beyond the moment a veth pair
//! is created before it moves into the namespaces.
//!
//! It needs root and iproute2; without them it fails with a clear message.

use std::process::Command;

/// The namespaces, links and addresses of one test's network; deleted on drop.
pub struct Network {
    prefix: String,
    size: usize,
}

impl Network {
    /// `size` namespaces with the addresses `10.213.0.1/24`, `10.213.0.2/24`, ... on one bridge.
    pub fn create(size: usize) -> Network {
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        assert_eq!(
            uid.as_deref().ok(),
            Some("0"),
            "this test makes network namespaces (ip netns, veth pairs): run it as root"
        );
        let network = Network {
            prefix: format!("el{}", std::process::id()),
            size,
        };
        let hub = network.hub();
        ip(&["netns", "add", &hub]);
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &hub, "link", "set", "br0", "up"]);
        for i in 0..size {
            let ns = network.namespace(i);
            let (member_end, hub_end) = network.veth(i);
            ip(&["netns", "add", &ns]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            ip(&[
                "link",
                "add",
                &member_end,
                "type",
                "veth",
                "peer",
                "name",
                &hub_end,
            ]);
            ip(&["link", "set", &member_end, "netns", &ns]);
            ip(&["link", "set", &hub_end, "netns", &hub]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", network.address(i)),
                "dev",
                &member_end,
            ]);
            ip(&["-n", &ns, "link", "set", &member_end, "up"]);
            ip(&["-n", &hub, "link", "set", &hub_end, "master", "br0"]);
            ip(&["-n", &hub, "link", "set", &hub_end, "up"]);
        }
        network
    }

    /// The namespace of member `i`.
    pub fn namespace(&self, i: usize) -> String {
        format!("{}m{i}", self.prefix)
    }

    /// Member `i`'s address.
    pub fn address(&self, i: usize) -> String {
        format!("10.213.0.{}", i + 1)
    }

    /// Takes member `i`'s link to the bridge down (`up == false`) or up again.
    pub fn set_link(&self, i: usize, up: bool) {
        let (_, hub_end) = self.veth(i);
        let state = if up { "up" } else { "down" };
        ip(&["-n", &self.hub(), "link", "set", &hub_end, state]);
    }

    fn hub(&self) -> String {
        format!("{}hub", self.prefix)
    }

    /// The two ends of member `i`'s veth pair (at most 15 characters, as Linux requires).
    fn veth(&self, i: usize) -> (String, String) {
        (
            format!("{}v{i}", self.prefix),
            format!("{}h{i}", self.prefix),
        )
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // Deleting a namespace deletes the links in it; a pair still in the host namespace
        // (a failure half-way through create) is deleted by name.
        for i in 0..self.size {
            let _ = quiet_ip(&["netns", "del", &self.namespace(i)]);
            let _ = quiet_ip(&["link", "del", &self.veth(i).0]);
        }
        let _ = quiet_ip(&["netns", "del", &self.hub()]);
    }
}

/// Runs `ip args`, failing the test with what ip said.
fn ip(args: &[&str]) {
    if let Err(said) = quiet_ip(args) {
        panic!("ip {}: {said}", args.join(" "));
    }
}

fn quiet_ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip (iproute2): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
