//! systemd's readiness protocol for `Type=notify` units: once the member serves clients and
//! knows a leader (it can answer requests), `READY=1` goes to the datagram socket systemd names
//! in `NOTIFY_SOCKET` — as etcd does, so the course's unit file works unchanged.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use super::member_loop::MemberHandle;

/// Waits until `member` knows a leader, then tells systemd the service is ready (nothing to do
/// outside systemd).
pub async fn notify_when_ready(member: MemberHandle) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    while member.status().leader_id == 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Err(e) = send(&socket.to_string_lossy(), b"READY=1") {
        tracing::warn!("could not notify systemd: {e}");
    }
}

/// Sends one datagram to a filesystem socket path or, with a leading `@`, an abstract one.
fn send(socket: &str, message: &[u8]) -> std::io::Result<()> {
    let sender = UnixDatagram::unbound()?;
    match socket.strip_prefix('@') {
        Some(abstract_name) => {
            use std::os::linux::net::SocketAddrExt;
            let address = std::os::unix::net::SocketAddr::from_abstract_name(abstract_name)?;
            sender.send_to_addr(message, &address)?;
        }
        None => {
            sender.send_to(message, socket)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_reaches_a_path_socket_and_an_abstract_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        send(&path.to_string_lossy(), b"READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("etcdlab-test-{}", std::process::id());
        let address = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        let listener = UnixDatagram::bind_addr(&address).unwrap();
        send(&format!("@{name}"), b"READY=1").unwrap();
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }
}
