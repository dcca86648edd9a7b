//! Auth tokens: `<user, hex>.<auth revision>.<expiry, unix seconds>.<HMAC-SHA256, hex>`.
//!
//! Why not etcd's simple tokens: etcd replicates each `Authenticate` through Raft so every
//! member learns the random token. A signed token needs no such round: `auth enable` puts a
//! random secret into the replicated store (drawn by the proposing member and carried in
//! the entry), and any member that has applied it can check a token on its own. The token
//! names the auth revision it was issued at, so a token from before a change of users, roles
//! or permissions is refused with etcd's "revision of auth store is old" and clients
//! authenticate again, as they do with etcd; it also expires (the host picks the lifetime),
//! like etcd's simple tokens. Disabling auth and enabling it again draws a new secret, which
//! voids every earlier token.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::AuthError;

/// What a token asserts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    pub user: String,
    /// The auth revision the token was issued at.
    pub revision: u64,
    /// Unix time, in seconds, after which the token is refused.
    pub expires_at: u64,
}

fn mac(secret: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(payload.as_bytes());
    mac
}

/// The token for `claims`, signed with the cluster's `secret`.
pub fn sign(secret: &[u8], claims: &Claims) -> String {
    let payload = format!(
        "{}.{}.{}",
        to_hex(claims.user.as_bytes()),
        claims.revision,
        claims.expires_at
    );
    let signature = to_hex(&mac(secret, &payload).finalize().into_bytes());
    format!("{payload}.{signature}")
}

/// The claims of `token` if `secret` signed it and it has not expired at `now` (unix
/// seconds); anything else is etcd's "invalid auth token".
pub fn verify(secret: &[u8], token: &str, now: u64) -> Result<Claims, AuthError> {
    let invalid = || AuthError::InvalidAuthToken;
    let (payload, signature) = token.rsplit_once('.').ok_or_else(invalid)?;
    let signature = from_hex(signature).ok_or_else(invalid)?;
    mac(secret, payload)
        .verify_slice(&signature)
        .map_err(|_| invalid())?;
    let mut parts = payload.split('.');
    let (Some(user), Some(revision), Some(expires_at), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let claims = Claims {
        user: String::from_utf8(from_hex(user).ok_or_else(invalid)?).map_err(|_| invalid())?,
        revision: revision.parse().map_err(|_| invalid())?,
        expires_at: expires_at.parse().map_err(|_| invalid())?,
    };
    if claims.expires_at < now {
        return Err(invalid());
    }
    Ok(claims)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            user: "ali.ce".into(),
            revision: 7,
            expires_at: 1000,
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let token = sign(b"secret", &claims());
        assert_eq!(verify(b"secret", &token, 999), Ok(claims()));
        assert_eq!(verify(b"secret", &token, 1000), Ok(claims()));
        assert_eq!(
            verify(b"secret", &token, 1001),
            Err(AuthError::InvalidAuthToken)
        );
    }

    #[test]
    fn another_secret_or_any_change_voids_the_token() {
        let token = sign(b"secret", &claims());
        assert_eq!(
            verify(b"other", &token, 0),
            Err(AuthError::InvalidAuthToken)
        );
        let forged = token.replacen(".7.", ".8.", 1);
        assert_eq!(
            verify(b"secret", &forged, 0),
            Err(AuthError::InvalidAuthToken)
        );
        for garbage in ["", ".", "a.b.c.d", "zz.1.2.00", &format!("{token}.00")] {
            assert_eq!(
                verify(b"secret", garbage, 0),
                Err(AuthError::InvalidAuthToken)
            );
        }
    }
}
