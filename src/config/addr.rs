//! Checks of the addresses a config file holds, with the reason in words: libp2p listen
//! addresses, bootnode addresses (which must name the peer) and `IP:PORT` socket addresses.
//! The rules are the ones `kaimeng_network` applies when it starts (TCP over IPv4 or IPv6).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use kaimeng_network::PeerId;

/// `/ip4/<ip>/tcp/<port>` or `/ip6/<ip>/tcp/<port>`.
pub fn check_listen(text: &str) -> Result<(), String> {
    let parts = components(text)?;
    match parts.as_slice() {
        [ip, ip_value, "tcp", port] => {
            check_ip(ip, ip_value, text)?;
            check_port(port, text)
        }
        _ => Err(format!(
            "{text:?} is not a listen multiaddr (expected /ip4/<ip>/tcp/<port> or /ip6/<ip>/tcp/<port>)"
        )),
    }
}

/// `/ip4/<ip>/tcp/<port>/p2p/<peer id>` (or `/ip6/...`): the peer id lets Noise check
/// that the node dialled is the one meant.
pub fn check_bootnode(text: &str) -> Result<PeerId, String> {
    let parts = components(text)?;
    match parts.as_slice() {
        [ip, ip_value, "tcp", port, "p2p", peer] => {
            check_ip(ip, ip_value, text)?;
            check_port(port, text)?;
            peer.parse::<PeerId>()
                .map_err(|e| format!("{text:?}: bad peer id: {e}"))
        }
        [_, _, "tcp", _] => Err(format!(
            "{text:?} must end with /p2p/<peer id>, so the connection is authenticated"
        )),
        _ => Err(format!(
            "{text:?} is not a bootnode multiaddr (expected /ip4/<ip>/tcp/<port>/p2p/<peer id>)"
        )),
    }
}

/// `IP:PORT`, e.g. `127.0.0.1:8545` or `[::1]:8545`.
pub fn parse_socket_addr(text: &str) -> Result<SocketAddr, String> {
    text.parse::<SocketAddr>().map_err(|_| {
        format!("{text:?} is not a socket address (expected IP:PORT such as 127.0.0.1:8545)")
    })
}

fn components(text: &str) -> Result<Vec<&str>, String> {
    let Some(rest) = text.strip_prefix('/') else {
        return Err(format!(
            "{text:?} is not a multiaddr (it must start with /)"
        ));
    };
    Ok(rest.split('/').collect())
}

fn check_ip(protocol: &str, value: &str, text: &str) -> Result<(), String> {
    let ok = match protocol {
        "ip4" => value.parse::<Ipv4Addr>().is_ok(),
        "ip6" => value.parse::<Ipv6Addr>().is_ok(),
        "dns" | "dns4" | "dns6" => {
            return Err(format!(
                "{text:?}: DNS names are not supported; use /ip4/<ip> or /ip6/<ip>"
            ));
        }
        _ => {
            return Err(format!(
                "{text:?} is not a multiaddr over TCP/IP (expected /ip4/... or /ip6/...)"
            ));
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{text:?}: {value:?} is not an {protocol} address"))
    }
}

fn check_port(port: &str, text: &str) -> Result<(), String> {
    port.parse::<u16>()
        .map(|_| ())
        .map_err(|_| format!("{text:?}: {port:?} is not a TCP port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        check_listen("/ip4/0.0.0.0/tcp/30333").unwrap();
        check_listen("/ip6/::/tcp/0").unwrap();
        for bad in [
            "abc",
            "/ip4/0.0.0.0",
            "/ip4/0.0.0.0/udp/1",
            "/ip4/300.0.0.1/tcp/1",
            "/ip4/1.2.3.4/tcp/70000",
            "/dns/example.com/tcp/1",
            "/ip4/1.2.3.4/tcp/1/p2p/x",
        ] {
            assert!(check_listen(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bootnodes_need_a_peer_id() {
        let peer = kaimeng_genesis::dev_member_peer_id(0);
        let good = format!("/ip4/10.0.0.2/tcp/30333/p2p/{peer}");
        assert_eq!(check_bootnode(&good).unwrap().to_string(), peer);
        let no_peer = check_bootnode("/ip4/10.0.0.2/tcp/30333").unwrap_err();
        assert!(no_peer.contains("/p2p/"), "{no_peer}");
        let bad_peer = check_bootnode("/ip4/10.0.0.2/tcp/30333/p2p/nope").unwrap_err();
        assert!(bad_peer.contains("bad peer id"), "{bad_peer}");
    }

    #[test]
    fn socket_addresses() {
        assert_eq!(parse_socket_addr("127.0.0.1:8545").unwrap().port(), 8545);
        assert!(parse_socket_addr("[::1]:1").is_ok());
        assert!(parse_socket_addr("localhost:1").is_err());
        assert!(parse_socket_addr("127.0.0.1").is_err());
    }
}
