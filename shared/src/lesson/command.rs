//! A step's command as the student sees it: the text of the lesson file, with placeholders
//! filled in from the cluster now — `{leader}` and `{follower}` become member names
//! (`etcdlab lab kill {leader}`), `{id:m4}` the hex id `member list` shows for the member of
//! that name or peer URL (`{id:http://127.0.0.1:32380}`, for one not started yet), `{pki}` the
//! folder of a TLS lab's certificates.

use super::observation::Observation;
use super::scenario::{MemberRef, ScenarioError};

/// The command with its placeholders filled in from the cluster as observed.
pub fn fill_placeholders(
    command: &str,
    observation: &Observation,
) -> Result<String, ScenarioError> {
    let mut filled = command.to_string();
    for (placeholder, member) in [
        ("{leader}", MemberRef::Leader),
        ("{follower}", MemberRef::Follower),
    ] {
        if filled.contains(placeholder) {
            filled = filled.replace(placeholder, &member.resolve(observation)?);
        }
    }
    if filled.contains("{pki}") {
        let pki = observation.pki_dir.as_deref().ok_or(ScenarioError::NoTls)?;
        filled = filled.replace("{pki}", pki);
    }
    while let Some(start) = filled.find("{id:") {
        let Some(length) = filled[start..].find('}') else {
            break;
        };
        let name = &filled[start + 4..start + length];
        let id = observation
            .membership
            .iter()
            .find(|m| m.is(name))
            .map(|m| m.id.clone())
            .ok_or_else(|| ScenarioError::NotAMember(name.to_string()))?;
        filled.replace_range(start..start + length + 1, &id);
    }
    Ok(filled)
}
