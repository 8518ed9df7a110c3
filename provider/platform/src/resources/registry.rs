//! Names the resources of one configuration must not share, checked across resources.
//!
//! A resource's plan sees only its own configuration, so two `platform_environment` (or two
//! `platform_microservice` in one environment, or two `platform_state_backend`) with the
//! same name would each plan cleanly and then fight over the same AWS objects. Terraform
//! starts a fresh provider process for each graph walk (validate, plan, apply) and plans
//! every resource instance once in it, so the names claimed in this process's plan walk
//! are exactly the configuration's: the second instance to claim a name gets the
//! diagnostic. The apply walk's re-plan runs in another process and sees each name once
//! again. Destroy plans (`planned` null) and unknown names claim nothing.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

fn claims() -> &'static Mutex<HashSet<(String, String)>> {
    static CLAIMS: OnceLock<Mutex<HashSet<(String, String)>>> = OnceLock::new();
    CLAIMS.get_or_init(Default::default)
}

/// Claims `key` among the names of `kind` planned by this provider process. `false` when
/// another resource instance already claimed it.
pub fn claim(kind: &str, key: &str) -> bool {
    match claims().lock() {
        Ok(mut c) => c.insert((kind.to_string(), key.to_string())),
        // A panic elsewhere poisoned the lock: do not turn it into false duplicates.
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_claimed_once_per_kind() {
        assert!(claim("test_kind_a", "dev"));
        assert!(!claim("test_kind_a", "dev"));
        assert!(claim("test_kind_a", "prod"));
        assert!(claim("test_kind_b", "dev"));
    }
}
