//! The lab's member ports. The documented layout — member N serves clients on
//! `base + 10000·(N-1)` and peers one port above — is used whenever those ports are free; a
//! member whose default ports are taken gets free ports instead. The choice is remembered in
//! `<data-dir>/lab-ports.json`, because a member's id derives from its peer URL: the next run
//! on the same data must use the same ports.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;

use anyhow::{Context, bail};

const FILE: &str = "lab-ports.json";

fn free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// (client, peer) ports for members m1..m`size`.
pub fn choose(data_dir: &Path, size: u16, base: u16) -> anyhow::Result<Vec<(u16, u16)>> {
    let file = data_dir.join(FILE);
    let mut remembered: BTreeMap<String, (u16, u16)> = match std::fs::read_to_string(&file) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("{} is damaged; remove it", file.display()))?,
        Err(_) => BTreeMap::new(),
    };
    // Listeners held until every port is chosen, so no two members get the same one.
    let mut held = Vec::new();
    let mut ports = Vec::new();
    for i in 0..size {
        let name = format!("m{}", i + 1);
        if let Some(&pair) = remembered.get(&name) {
            if !free(pair.0) || !free(pair.1) {
                bail!(
                    "{name}'s ports {} and {} (kept in {}) are in use; stop what uses them, \
                     or start the lab with another --data-dir",
                    pair.0,
                    pair.1,
                    file.display()
                );
            }
            ports.push(pair);
            continue;
        }
        let default = u32::from(base) + 10000 * u32::from(i);
        let fits = default < u32::from(u16::MAX);
        // Only used when it fits: a base near the top (65535) means "free ports only".
        let pair = (default as u16, (default as u16).wrapping_add(1));
        let has_data = data_dir.join(&name).exists();
        if fits && free(pair.0) && free(pair.1) {
            ports.push(pair);
        } else if has_data {
            bail!(
                "{name} has data in {} for ports {} and {}, which are in use; stop what uses \
                 them, or start the lab with another --data-dir",
                data_dir.display(),
                pair.0,
                pair.1
            );
        } else {
            let client = TcpListener::bind("127.0.0.1:0")?;
            let peer = TcpListener::bind("127.0.0.1:0")?;
            ports.push((client.local_addr()?.port(), peer.local_addr()?.port()));
            held.push(client);
            held.push(peer);
        }
        remembered.insert(name, *ports.last().expect("just pushed"));
    }
    drop(held);
    std::fs::write(&file, serde_json::to_string_pretty(&remembered)?)
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_at_the_top_gives_free_ports() {
        let dir = tempfile::tempdir().unwrap();
        let ports = choose(dir.path(), 2, u16::MAX).unwrap();
        assert!(
            ports
                .iter()
                .all(|&(client, peer)| client != u16::MAX && peer != 0)
        );
    }

    #[test]
    fn taken_default_ports_are_replaced_and_the_choice_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = taken.local_addr().unwrap().port();
        let first = choose(dir.path(), 1, base).unwrap();
        assert_ne!(first[0].0, base);
        drop(taken);
        assert_eq!(choose(dir.path(), 1, base).unwrap(), first);
    }
}
