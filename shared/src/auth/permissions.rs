//! The permission check: may a user read (or write) every key of `[key, range_end)`?
//!
//! As in etcd, a permission and a request both name a key range the etcd way: an empty
//! `range_end` is the single key, `range_end == "\0"` runs from the key to the end of the key
//! space, anything else is `[key, range_end)`. A `readwrite` permission counts for both kinds
//! of access. A request is allowed when the union of the permissions of the user's roles
//! covers its whole range; users with the `root` role may do anything.

use crate::proto::authpb::{Permission, Role, permission::Type};

/// The kind of access a request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    fn granted_by(self, perm_type: i32) -> bool {
        match Type::try_from(perm_type) {
            Ok(Type::Readwrite) => true,
            Ok(Type::Read) => self == Access::Read,
            Ok(Type::Write) => self == Access::Write,
            Err(_) => false,
        }
    }
}

/// A half-open key interval; `end: None` is open ended.
struct Interval {
    start: Vec<u8>,
    end: Option<Vec<u8>>,
}

impl Interval {
    /// The interval etcd means by `key` and `range_end`.
    fn of(key: &[u8], range_end: &[u8]) -> Interval {
        let end = match range_end {
            [] => Some(successor(key)),
            [0] => None,
            end if end <= key => Some(successor(key)),
            end => Some(end.to_vec()),
        };
        Interval {
            start: key.to_vec(),
            end,
        }
    }
}

/// The smallest key after `key`.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut next = key.to_vec();
    next.push(0);
    next
}

/// Whether `roles` together grant `access` to every key of `[key, range_end)` (etcd's
/// notation, see the module docs). Does not know about the root role: see
/// [`super::store::check_access`].
pub fn roles_permit(roles: &[Role], key: &[u8], range_end: &[u8], access: Access) -> bool {
    let mut granted: Vec<Interval> = roles
        .iter()
        .flat_map(|r| &r.key_permission)
        .filter(|p| access.granted_by(p.perm_type))
        .map(|p: &Permission| Interval::of(&p.key, &p.range_end))
        .collect();
    granted.sort_by(|a, b| a.start.cmp(&b.start));
    let wanted = Interval::of(key, range_end);
    // Sweep: `covered` is the end of the covered prefix `[key, covered)` of the request.
    let mut covered = wanted.start;
    for interval in granted {
        if interval.start > covered {
            break;
        }
        match interval.end {
            None => return true,
            Some(end) if end > covered => covered = end,
            Some(_) => {}
        }
        if wanted.end.as_ref().is_some_and(|e| covered >= *e) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(perms: &[(Type, &str, &str)]) -> Role {
        Role {
            name: b"r".to_vec(),
            key_permission: perms
                .iter()
                .map(|(t, k, e)| Permission {
                    perm_type: *t as i32,
                    key: k.as_bytes().to_vec(),
                    range_end: e.as_bytes().to_vec(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_single_key_permission_covers_that_key_only() {
        let roles = [role(&[(Type::Read, "a", "")])];
        assert!(roles_permit(&roles, b"a", b"", Access::Read));
        assert!(!roles_permit(&roles, b"a", b"", Access::Write));
        assert!(!roles_permit(&roles, b"ab", b"", Access::Read));
        assert!(!roles_permit(&roles, b"a", b"b", Access::Read));
    }

    #[test]
    fn a_prefix_covers_its_keys_and_sub_ranges_but_not_beyond() {
        let roles = [role(&[(Type::Readwrite, "/pub/", "/pub0")])];
        for access in [Access::Read, Access::Write] {
            assert!(roles_permit(&roles, b"/pub/x", b"", access));
            assert!(roles_permit(&roles, b"/pub/", b"/pub0", access));
            assert!(roles_permit(&roles, b"/pub/a", b"/pub/z", access));
        }
        assert!(!roles_permit(&roles, b"/pub", b"", Access::Read));
        assert!(!roles_permit(&roles, b"/pub/", b"/pub1", Access::Read));
        assert!(!roles_permit(&roles, b"/", b"0", Access::Read));
        assert!(!roles_permit(&roles, b"/pub/", b"\0", Access::Read));
    }

    #[test]
    fn from_key_permissions_are_open_ended() {
        let roles = [role(&[(Type::Write, "m", "\0")])];
        assert!(roles_permit(&roles, b"m", b"\0", Access::Write));
        assert!(roles_permit(&roles, b"zzz", b"", Access::Write));
        assert!(roles_permit(&roles, b"x", b"\0", Access::Write));
        assert!(!roles_permit(&roles, b"l", b"\0", Access::Write));
        assert!(!roles_permit(&roles, b"m", b"\0", Access::Read));
    }

    #[test]
    fn adjacent_permissions_of_several_roles_add_up() {
        let roles = [
            role(&[(Type::Read, "a", "c")]),
            role(&[(Type::Readwrite, "c", "e"), (Type::Write, "e", "g")]),
        ];
        assert!(roles_permit(&roles, b"a", b"e", Access::Read));
        assert!(!roles_permit(&roles, b"a", b"f", Access::Read));
        assert!(roles_permit(&roles, b"c", b"g", Access::Write));
        assert!(!roles_permit(&roles, b"b", b"g", Access::Write));
    }

    #[test]
    fn a_gap_between_permissions_denies_the_range() {
        let roles = [role(&[(Type::Read, "a", "b"), (Type::Read, "c", "d")])];
        assert!(!roles_permit(&roles, b"a", b"d", Access::Read));
        assert!(roles_permit(&roles, b"c", b"", Access::Read));
        assert!(!roles_permit(&roles, b"b", b"", Access::Read));
    }

    #[test]
    fn no_roles_no_access() {
        assert!(!roles_permit(&[], b"a", b"", Access::Read));
        assert!(!roles_permit(&[role(&[])], b"a", b"", Access::Write));
    }
}
