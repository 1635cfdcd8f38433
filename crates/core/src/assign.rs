//! SalesChat's assignment rules as plain functions: how often a contact may be assigned,
//! and which member of a group gets the next contact. The store applies them inside the
//! assignment's transaction (the group's turn counter and the contact's last assignment
//! are read and written there, so concurrent requests and several nodes agree).

use crate::domain::Timestamp;

/// `Some(seconds to wait)` when a contact last assigned at `last` may not be assigned
/// again at `now`, given at most one assignment per `interval_secs`.
pub fn retry_after(last: Option<Timestamp>, now: Timestamp, interval_secs: i64) -> Option<u64> {
    let next_allowed = last?.micros() + interval_secs * 1_000_000;
    (now.micros() < next_allowed).then(|| {
        (next_allowed - now.micros())
            .unsigned_abs()
            .div_ceil(1_000_000)
    })
}

/// The member whose turn `turn` is (round-robin in member order; the counter only ever
/// grows); `None` for a group without members.
pub fn member_in_turn(members: &[String], turn: i64) -> Option<&String> {
    if members.is_empty() {
        return None;
    }
    let index = turn.rem_euclid(members.len() as i64) as usize;
    members.get(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_waits_out_the_interval_rounded_up_to_seconds() {
        let at = |secs: f64| Timestamp::from_micros((secs * 1_000_000.0) as i64);
        assert_eq!(retry_after(None, at(5.0), 10), None);
        assert_eq!(retry_after(Some(at(100.0)), at(100.0), 10), Some(10));
        assert_eq!(retry_after(Some(at(100.0)), at(109.2), 10), Some(1));
        assert_eq!(retry_after(Some(at(100.0)), at(110.0), 10), None);
    }

    #[test]
    fn groups_hand_out_members_in_turn() {
        let members: Vec<String> = ["ann", "bob", "cy"].map(String::from).to_vec();
        let picked: Vec<&str> = (0..5)
            .map(|turn| member_in_turn(&members, turn).unwrap().as_str())
            .collect();
        assert_eq!(picked, ["ann", "bob", "cy", "ann", "bob"]);
        assert_eq!(member_in_turn(&[], 3), None);
    }
}
