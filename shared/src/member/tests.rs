//! What a member reports about its applied state, driven through a one-member cluster.

use super::WriteResponse;
use super::one_member::{new_database, open, write};
use crate::auth::AuthError;
use crate::proto::etcdlab::raft_request::Op;
use crate::proto::etcdlab::{AuthEnable, UserAdd};
use crate::proto::etcdserverpb::{AuthDisableRequest, AuthUserGrantRoleRequest};

fn auth_outcome(result: Result<WriteResponse, crate::mvcc::MvccError>) -> Result<(), AuthError> {
    match result {
        Ok(WriteResponse::Auth(outcome)) => outcome,
        other => panic!("not an auth answer: {other:?}"),
    }
}

fn enable() -> Op {
    Op::AuthEnable(AuthEnable {
        token_secret: b"secret".to_vec(),
    })
}

#[test]
fn the_status_says_whether_auth_is_enabled_as_applied_and_after_a_restart() {
    let db = new_database();
    let mut member = open(&db);
    assert!(!member.status().auth_enabled);
    // Refused without a root user: still off.
    assert!(auth_outcome(write(&mut member, enable())).is_err());
    assert!(!member.status().auth_enabled);
    let root = [
        Op::UserAdd(UserAdd {
            name: "root".into(),
            password_hash: b"hash".to_vec(),
            options: None,
        }),
        Op::UserGrantRole(AuthUserGrantRoleRequest {
            user: "root".into(),
            role: "root".into(),
        }),
    ];
    for op in root {
        auth_outcome(write(&mut member, op)).unwrap();
        assert!(!member.status().auth_enabled);
    }
    auth_outcome(write(&mut member, enable())).unwrap();
    assert!(member.status().auth_enabled);
    drop(member);
    let mut member = open(&db);
    assert!(member.status().auth_enabled, "read back when reopened");
    auth_outcome(write(&mut member, Op::AuthDisable(AuthDisableRequest {}))).unwrap();
    assert!(!member.status().auth_enabled);
}
