//! Listening TCP sockets through the kernel's sock_diag netlink interface
//! (what `ss -tl` uses). Reading `/proc/net/tcp` walks every bucket of the
//! kernel's connection hash table — milliseconds on a large machine even
//! when it is empty — while a sock_diag dump asking only for LISTEN sockets
//! walks just the listening table. Local port checks use this and fall back
//! to `/proc/net/tcp{,6}` when netlink is not available.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType, netlink};

use crate::facts::Socket;

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const IPPROTO_TCP: u8 = 6;
const TCP_LISTEN: u32 = 10;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
/// `struct nlmsghdr`.
const HEADER: usize = 16;
/// `struct inet_diag_req_v2`.
const REQUEST: usize = 56;

/// Every listening TCP socket of this network namespace (IPv4 and IPv6).
pub fn listening_tcp() -> io::Result<Vec<Socket>> {
    let mut all = dump(AF_INET)?;
    all.extend(dump(AF_INET6)?);
    Ok(all.into_iter().map(|(s, _)| s).collect())
}

/// Every listening IPv4 TCP socket, with the index of the interface it is
/// bound to (`SO_BINDTODEVICE`; 0 for none), which `ss` prints after the
/// address (`127.0.0.53%lo:53`).
pub fn listening_tcp4_with_device() -> io::Result<Vec<(Socket, u32)>> {
    dump(AF_INET)
}

fn request(family: u8) -> Vec<u8> {
    let mut msg = Vec::with_capacity(HEADER + REQUEST);
    msg.extend_from_slice(&((HEADER + REQUEST) as u32).to_ne_bytes());
    msg.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    msg.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
    msg.extend_from_slice(&[family, IPPROTO_TCP, 0, 0]);
    msg.extend_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    msg.resize(HEADER + REQUEST, 0); // inet_diag_sockid: match any
    msg
}

fn dump(family: u8) -> io::Result<Vec<(Socket, u32)>> {
    let fd = rustix::net::socket(
        AddressFamily::NETLINK,
        SocketType::DGRAM,
        Some(netlink::SOCK_DIAG),
    )?;
    rustix::net::sendto(
        &fd,
        &request(family),
        SendFlags::empty(),
        &netlink::SocketAddrNetlink::new(0, 0),
    )?;
    let mut sockets = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let (n, _) = rustix::net::recv(&fd, &mut buf[..], RecvFlags::empty())?;
        if n == 0 {
            return Ok(sockets);
        }
        match parse_messages(&buf[..n], family, &mut sockets)? {
            true => return Ok(sockets),
            false => continue,
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Parses one datagram of netlink messages; `Ok(true)` when the dump is done.
fn parse_messages(mut b: &[u8], family: u8, out: &mut Vec<(Socket, u32)>) -> io::Result<bool> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed sock_diag answer");
    while b.len() >= HEADER {
        let len = u32_at(b, 0).ok_or_else(bad)? as usize;
        let kind = u16_at(b, 4).ok_or_else(bad)?;
        if len < HEADER || len > b.len() {
            return Err(bad());
        }
        let body = &b[HEADER..len];
        match kind {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let code = body
                    .get(..4)
                    .and_then(|c| c.try_into().ok())
                    .map(i32::from_ne_bytes)
                    .unwrap_or(0);
                return Err(io::Error::from_raw_os_error(code.saturating_abs()));
            }
            SOCK_DIAG_BY_FAMILY => {
                // inet_diag_msg: family, state, timer, retrans, then
                // inet_diag_sockid: sport (be16), dport, src[16], dst[16], …
                let port = body.get(4..6).map(|p| u16::from_be_bytes([p[0], p[1]]));
                let addr = match family {
                    AF_INET => body
                        .get(8..12)
                        .map(|a| IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))),
                    _ => body
                        .get(8..24)
                        .and_then(|a| <[u8; 16]>::try_from(a).ok())
                        .map(|a| {
                            let v6 = Ipv6Addr::from(a);
                            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
                        }),
                };
                // … dst[16], then the bound interface's index.
                let device = u32_at(body, 40).unwrap_or(0);
                if let (Some(port), Some(addr)) = (port, addr) {
                    let proto = if family == AF_INET { "tcp" } else { "tcp6" };
                    out.push((Socket { proto, addr, port }, device));
                }
            }
            _ => {}
        }
        let advance = (len + 3) & !3;
        b = b.get(advance..).unwrap_or(&[]);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_listener_that_proc_net_tcp_also_shows() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let Ok(sockets) = listening_tcp() else {
            eprintln!("sock_diag not available here; the /proc fallback is used");
            return;
        };
        assert!(
            sockets.iter().any(|s| s.port == port
                && s.addr == IpAddr::V4(Ipv4Addr::LOCALHOST)
                && s.proto == "tcp"),
            "{sockets:?}"
        );
        let v4 = listening_tcp4_with_device().unwrap_or_default();
        assert!(
            v4.iter().any(|(s, dev)| s.port == port && *dev == 0),
            "{v4:?}"
        );
        let text = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
        let from_proc = crate::facts::parse_proc_net("tcp", &text);
        for s in &from_proc {
            assert!(
                sockets.contains(s),
                "{s:?} from /proc/net/tcp is missing in {sockets:?}"
            );
        }
    }

    #[test]
    fn malformed_answers_are_errors() {
        let mut out = Vec::new();
        assert!(
            parse_messages(
                &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                AF_INET,
                &mut out
            )
            .is_err()
        );
        let mut done = vec![0u8; 16];
        done[..4].copy_from_slice(&16u32.to_ne_bytes());
        done[4..6].copy_from_slice(&NLMSG_DONE.to_ne_bytes());
        assert!(parse_messages(&done, AF_INET, &mut out).unwrap_or(false));
    }
}
