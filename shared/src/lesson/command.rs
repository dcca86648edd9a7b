//! A step's command as the student sees it: the text of the lesson file, with placeholders
//! filled in from the cluster now — `{leader}` and `{follower}` become member names
//! (`etcdlab lab kill {leader}`), `{id:m4}` the hex id `member list` shows for the member of
//! that name or peer URL (`{id:http://127.0.0.1:32380}`, for one not started yet), `{pki}` the
//! folder of a TLS lab's certificates, `{port:NAME}` a free port the host picked for that name
//! (the same one for the whole lab), for a member started by hand.

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
    for name in port_names(&filled) {
        let port = observation
            .ports
            .get(&name)
            .ok_or_else(|| ScenarioError::NoPort(name.clone()))?;
        filled = filled.replace(&format!("{{port:{name}}}"), &port.to_string());
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

/// The names of the `{port:NAME}` placeholders in `text`, each once, in order.
pub fn port_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{port:") {
        let after = &rest[start + 6..];
        let Some(end) = after.find('}') else {
            break;
        };
        if !names.iter().any(|n| n == &after[..end]) {
            names.push(after[..end].to_string());
        }
        rest = &after[end..];
    }
    names
}
